import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { nativeStatus } from "@studykit/native";
import { registerConvGradientKernels } from "./conv-gradients.js";
import { registerNativeConvKernels } from "./native-conv-kernels.js";
import { SeededRandom } from "@studykit/core";

type Case = { n: number; h: number; w: number; c: number; f: number; k: number; stride: number; dilation: number; pad: "same" | "valid"; fused: boolean; relu: boolean };

function randomArray(prng: SeededRandom, size: number): Float32Array {
  return Float32Array.from({ length: size }, () => prng.nextDouble() * 2 - 1);
}

/** y and the gradients of sum(y · r) for y = conv2d (+ bias, relu when fused), on the active back end. */
function run(k: Case, x: Float32Array, w: Float32Array, b: Float32Array, r: Float32Array) {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, [k.n, k.h, k.w, k.c]);
    const wt = tf.tensor4d(w, [k.k, k.k, k.c, k.f]);
    const bt = tf.tensor1d(b);
    const forward = (xa: tf.Tensor, wa: tf.Tensor, ba: tf.Tensor) =>
      k.fused
        ? tf.fused.conv2d({ x: xa as tf.Tensor4D, filter: wa as tf.Tensor4D, strides: k.stride, pad: k.pad, dilations: k.dilation, bias: ba, activation: k.relu ? "relu" : "linear" })
        : tf.add(tf.conv2d(xa as tf.Tensor4D, wa as tf.Tensor4D, k.stride, k.pad, "NHWC", k.dilation), ba);
    const y = forward(xt, wt, bt);
    const grads = k.dilation === 1 ? tf.grads((xa: tf.Tensor, wa: tf.Tensor, ba: tf.Tensor) => tf.sum(tf.mul(forward(xa, wa, ba), tf.tensor(r, y.shape))))([xt, wt, bt]) : [];
    return { y: y.dataSync() as Float32Array, grads: grads.map((g) => g.dataSync() as Float32Array) };
  });
}

function expectClose(actual: Float32Array, expected: Float32Array, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / (1 + Math.abs(expected[i]!)));
  expect(worst, what).toBeLessThan(1e-4);
}

const cases = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  h: fc.integer({ min: 4, max: 13 }),
  w: fc.integer({ min: 4, max: 13 }),
  c: fc.integer({ min: 1, max: 7 }),
  f: fc.integer({ min: 1, max: 18 }),
  k: fc.integer({ min: 1, max: 3 }),
  stride: fc.integer({ min: 1, max: 2 }),
  dilation: fc.integer({ min: 1, max: 2 }),
  pad: fc.constantFrom("same" as const, "valid" as const),
  fused: fc.boolean(),
  relu: fc.boolean(),
});

describe("native wasm convolution kernels", () => {
  it("are registered exactly when the addon is loaded", async () => {
    await tf.setBackend("wasm");
    registerConvGradientKernels("wasm");
    expect(registerNativeConvKernels()).toBe(nativeStatus().implementation === "native");
    if (process.env["STUDYKIT_REQUIRE_NATIVE"] === "1") expect(nativeStatus().implementation).toBe("native");
  });

  it("give wasm the cpu back end's outputs and gradients (strides, dilation, padding, fused bias/relu)", async () => {
    await tf.setBackend("cpu");
    await tf.setBackend("wasm");
    registerConvGradientKernels("wasm");
    let seed = 1;
    for (const k of fc.sample(cases.filter((k) => k.stride === 1 || k.dilation === 1), { numRuns: 24, seed: 42 })) {
      const prng = new SeededRandom(seed++);
      const eff = (k.k - 1) * k.dilation + 1;
      if (k.pad === "valid" && (k.h < eff || k.w < eff)) continue;
      const x = randomArray(prng, k.n * k.h * k.w * k.c);
      const w = randomArray(prng, k.k * k.k * k.c * k.f);
      const b = randomArray(prng, k.f);
      const oh = k.pad === "same" ? Math.ceil(k.h / k.stride) : Math.floor((k.h - eff) / k.stride) + 1;
      const ow = k.pad === "same" ? Math.ceil(k.w / k.stride) : Math.floor((k.w - eff) / k.stride) + 1;
      const r = randomArray(prng, k.n * oh * ow * k.f);
      await tf.setBackend("cpu");
      const expected = run(k, x, w, b, r);
      await tf.setBackend("wasm");
      const actual = run(k, x, w, b, r);
      const what = JSON.stringify(k);
      expectClose(actual.y, expected.y, `y ${what}`);
      expect(actual.grads.length).toBe(expected.grads.length);
      actual.grads.forEach((g, i) => expectClose(g, expected.grads[i]!, `grad ${i} ${what}`));
    }
  });

  it("are bitwise repeatable on the reference model's largest layer shape", async () => {
    await tf.setBackend("wasm");
    registerConvGradientKernels("wasm");
    const prng = new SeededRandom(9);
    const x = randomArray(prng, 4 * 32 * 32 * 32);
    const w = randomArray(prng, 3 * 3 * 32 * 32);
    const r = randomArray(prng, 4 * 32 * 32 * 32);
    const k: Case = { n: 4, h: 32, w: 32, c: 32, f: 32, k: 3, stride: 1, dilation: 1, pad: "same", fused: true, relu: true };
    const first = run(k, x, w, new Float32Array(32), r);
    const second = run(k, x, w, new Float32Array(32), r);
    for (const [a, b] of [[first.y, second.y] as const, ...first.grads.map((g, i) => [g, second.grads[i]!] as const)]) {
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    }
  });
});
