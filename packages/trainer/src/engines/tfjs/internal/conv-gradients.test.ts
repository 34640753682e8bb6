import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { conv2dWithGradients, DILATED_GRADIENT_KERNELS, registerConvGradientKernels, WASM_TRAINING_KERNELS } from "./conv-gradients.js";
import { SeededRandom } from "@studykit/core";

type Case = { n: number; h: number; w: number; c: number; f: number; kh: number; kw: number; stride: [number, number]; pad: "same" | "valid"; dilation: [number, number] };

function randomArray(prng: SeededRandom, size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = prng.nextDouble() * 2 - 1;
  return out;
}

/** dx, dw of sum(conv2d(x, w) * r) computed by TF.js's own gradients on the active back end. */
function tfGradients(x: Float32Array, w: Float32Array, r: Float32Array, k: Case, filterShape: number[], useOurs: boolean): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, [k.n, k.h, k.w, k.c]);
    const wt = tf.tensor4d(w, filterShape as [number, number, number, number]);
    const f = (a: tf.Tensor, b: tf.Tensor) => {
      const y = useOurs
        ? conv2dWithGradients(a as tf.Tensor4D, b as tf.Tensor4D, k.stride, k.pad, k.dilation)
        : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, k.stride, k.pad);
      return tf.sum(tf.mul(y, tf.tensor(r, y.shape)));
    };
    const [dx, dw] = tf.grads(f)([xt, wt]);
    return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
}

function outSize(size: number, k: number, s: number, d: number, pad: "same" | "valid"): number {
  const eff = (k - 1) * d + 1;
  return pad === "same" ? Math.ceil(size / s) : Math.floor((size - eff) / s) + 1;
}

/**
 * Reference on `cpu`: a dilated conv equals an undilated conv with a zero-spread filter, for which cpu's
 * Conv2DBackpropFilter / Conv2DBackpropInput give the gradients; dw is read back at the taps.
 */
function cpuReference(x: Float32Array, w: Float32Array, r: Float32Array, k: Case) {
  const ekh = (k.kh - 1) * k.dilation[0] + 1;
  const ekw = (k.kw - 1) * k.dilation[1] + 1;
  const spread = new Float32Array(ekh * ekw * k.c * k.f);
  for (let a = 0; a < k.kh; a++) for (let b = 0; b < k.kw; b++) for (let i = 0; i < k.c * k.f; i++) {
    spread[((a * k.dilation[0]) * ekw + b * k.dilation[1]) * k.c * k.f + i] = w[(a * k.kw + b) * k.c * k.f + i]!;
  }
  const g = tfGradients(x, spread, r, k, [ekh, ekw, k.c, k.f], false);
  const dw = new Float32Array(w.length);
  for (let a = 0; a < k.kh; a++) for (let b = 0; b < k.kw; b++) for (let i = 0; i < k.c * k.f; i++) {
    dw[(a * k.kw + b) * k.c * k.f + i] = g.dw[((a * k.dilation[0]) * ekw + b * k.dilation[1]) * k.c * k.f + i]!;
  }
  return { dx: g.dx, dw };
}

function expectClose(actual: Float32Array, expected: Float32Array, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / (1 + Math.abs(expected[i]!)));
  expect(worst, what).toBeLessThan(1e-4);
}

function runCase(k: Case, seed: number) {
  const prng = new SeededRandom(seed);
  const x = randomArray(prng, k.n * k.h * k.w * k.c);
  const w = randomArray(prng, k.kh * k.kw * k.c * k.f);
  const oh = outSize(k.h, k.kh, k.stride[0], k.dilation[0], k.pad);
  const ow = outSize(k.w, k.kw, k.stride[1], k.dilation[1], k.pad);
  const r = randomArray(prng, k.n * oh * ow * k.f);
  return { x, w, r };
}

const dilated = (k: Case) => k.dilation[0] > 1 || k.dilation[1] > 1;

async function compare(k: Case, seed: number): Promise<void> {
  const { x, w, r } = runCase(k, seed);
  await tf.setBackend("cpu");
  const ref = cpuReference(x, w, r, k);
  await tf.setBackend("wasm");
  // Undilated convs exercise the registered wasm kernels through TF.js's own conv2d gradient; dilated
  // ones go through conv2dWithGradients (TF.js has no dilated conv gradient).
  const got = tfGradients(x, w, r, k, [k.kh, k.kw, k.c, k.f], dilated(k));
  expectClose(got.dw, ref.dw, `dw ${JSON.stringify(k)}`);
  expectClose(got.dx, ref.dx, `dx ${JSON.stringify(k)}`);
}

describe("wasm conv gradient kernels vs cpu", () => {
  beforeAll(async () => {
    registerConvGradientKernels("wasm");
    registerConvGradientKernels("cpu");
    await tf.setBackend("wasm");
  });

  it.each<Case>([
    { n: 2, h: 7, w: 6, c: 3, f: 4, kh: 3, kw: 3, stride: [1, 1], pad: "same", dilation: [1, 1] },
    { n: 2, h: 8, w: 8, c: 2, f: 5, kh: 3, kw: 3, stride: [2, 2], pad: "same", dilation: [1, 1] },
    { n: 1, h: 9, w: 7, c: 2, f: 3, kh: 3, kw: 2, stride: [2, 3], pad: "valid", dilation: [1, 1] },
    { n: 3, h: 6, w: 6, c: 1, f: 2, kh: 1, kw: 1, stride: [1, 1], pad: "valid", dilation: [1, 1] },
    { n: 2, h: 10, w: 9, c: 3, f: 2, kh: 4, kw: 5, stride: [3, 2], pad: "same", dilation: [1, 1] },
    { n: 2, h: 9, w: 9, c: 2, f: 3, kh: 3, kw: 3, stride: [1, 1], pad: "same", dilation: [2, 2] },
    { n: 1, h: 11, w: 8, c: 2, f: 2, kh: 3, kw: 2, stride: [1, 1], pad: "valid", dilation: [2, 3] },
  ])("matches cpu for %o", async (k) => {
    await compare(k, 42);
  });

  it("matches cpu on random geometries (property)", async () => {
    const geometry = fc.record({
      n: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 4, max: 10 }), w: fc.integer({ min: 4, max: 10 }),
      c: fc.integer({ min: 1, max: 4 }), f: fc.integer({ min: 1, max: 4 }),
      kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }),
      sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }),
      dil: fc.integer({ min: 1, max: 2 }), pad: fc.constantFrom<"same" | "valid">("same", "valid"), seed: fc.nat(),
    }).filter((g) => (g.dil === 1 || (g.sh === 1 && g.sw === 1)) && (g.kh - 1) * g.dil + 1 <= g.h && (g.kw - 1) * g.dil + 1 <= g.w);
    await fc.assert(fc.asyncProperty(geometry, async (g) => {
      await compare({ n: g.n, h: g.h, w: g.w, c: g.c, f: g.f, kh: g.kh, kw: g.kw, stride: [g.sh, g.sw], pad: g.pad, dilation: [g.dil, g.dil] }, g.seed);
    }), { numRuns: 25 });
  });

  it("does not leak tensors", async () => {
    await tf.setBackend("wasm");
    const k: Case = { n: 1, h: 6, w: 6, c: 2, f: 2, kh: 3, kw: 3, stride: [2, 2], pad: "same", dilation: [1, 1] };
    const { x, w, r } = runCase(k, 1);
    tfGradients(x, w, r, k, [3, 3, 2, 2], false);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tfGradients(x, w, r, k, [3, 3, 2, 2], false);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("ResizeNearestNeighborGrad (wasm and cpu)", () => {
  beforeAll(() => {
    registerConvGradientKernels("wasm");
    registerConvGradientKernels("cpu");
  });

  it.each(["wasm", "cpu"])("on %s, ×2 upsampling's gradient is the 2×2 block sum (batched, multi-channel)", async (backend) => {
    await tf.setBackend(backend);
    const prng = new SeededRandom(11);
    const [n, h, w, c] = [2, 4, 3, 5];
    const dy = randomArray(prng, n * 2 * h * 2 * w * c);
    const x = randomArray(prng, n * h * w * c);
    const got = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [2 * h, 2 * w]), tf.tensor(dy, [n, 2 * h, 2 * w, c]))))(tf.tensor4d(x, [n, h, w, c])).dataSync() as Float32Array);
    const expected = new Float32Array(n * h * w * c);
    for (let b = 0; b < n; b++) for (let i = 0; i < 2 * h; i++) for (let j = 0; j < 2 * w; j++) for (let k = 0; k < c; k++) {
      expected[((b * h + (i >> 1)) * w + (j >> 1)) * c + k] += dy[((b * 2 * h + i) * 2 * w + j) * c + k]!;
    }
    expectClose(got, expected, `resize grad on ${backend}`);
  });

  it("is the adjoint of the forward resize for any sizes and modes (property, both back ends)", async () => {
    const geometry = fc.record({
      n: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 6 }), w: fc.integer({ min: 1, max: 6 }), c: fc.integer({ min: 1, max: 3 }),
      oh: fc.integer({ min: 1, max: 13 }), ow: fc.integer({ min: 1, max: 13 }), align: fc.boolean(), half: fc.boolean(), seed: fc.nat(),
      backend: fc.constantFrom("wasm", "cpu"),
    }).filter((g) => !(g.align && g.half));
    await fc.assert(fc.asyncProperty(geometry, async (g) => {
      await tf.setBackend(g.backend);
      const prng = new SeededRandom(g.seed);
      const x = randomArray(prng, g.n * g.h * g.w * g.c);
      const dy = randomArray(prng, g.n * g.oh * g.ow * g.c);
      const [forward, adjoint] = tf.tidy(() => {
        const xt = tf.tensor4d(x, [g.n, g.h, g.w, g.c]);
        const dyt = tf.tensor4d(dy, [g.n, g.oh, g.ow, g.c]);
        const resize = (t: tf.Tensor) => tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [g.oh, g.ow], g.align, g.half);
        const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(resize(t), dyt)))(xt);
        // <resize(x), dy> must equal <x, resize^T(dy)>.
        return [tf.sum(tf.mul(resize(xt), dyt)).dataSync()[0]!, tf.sum(tf.mul(xt, dx)).dataSync()[0]!];
      });
      expect(Math.abs(forward - adjoint)).toBeLessThan(1e-4 * (1 + Math.abs(forward)));
    }), { numRuns: 40 });
  });
});

describe("MaxPoolGrad (wasm) vs cpu", () => {
  beforeAll(() => registerConvGradientKernels("wasm"));

  it("matches cpu on random pools, including ties, overlaps and same padding (property)", async () => {
    const geometry = fc.record({
      n: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 9 }), c: fc.integer({ min: 1, max: 3 }),
      fh: fc.integer({ min: 1, max: 3 }), fw: fc.integer({ min: 1, max: 3 }), sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }),
      pad: fc.constantFrom<"same" | "valid">("same", "valid"), levels: fc.constantFrom(3, 1000), seed: fc.nat(),
    }).filter((g) => g.pad === "same" || (g.fh <= g.h && g.fw <= g.w));
    await fc.assert(fc.asyncProperty(geometry, async (g) => {
      const prng = new SeededRandom(g.seed);
      // Few levels make ties (as ReLU zeros do); TF sends the gradient to the first maximum.
      const x = Float32Array.from({ length: g.n * g.h * g.w * g.c }, () => Math.floor(prng.nextDouble() * g.levels) - 1);
      const gradient = () => tf.tidy(() => {
        const xt = tf.tensor4d(x, [g.n, g.h, g.w, g.c]);
        const pool = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, [g.fh, g.fw], [g.sh, g.sw], g.pad);
        const dy = tf.tensor(Float32Array.from({ length: pool(xt).size }, (_, i) => (i % 7) + 1), pool(xt).shape);
        return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(pool(t), dy)))(xt).dataSync() as Float32Array;
      });
      await tf.setBackend("cpu");
      const expected = gradient();
      await tf.setBackend("wasm");
      expect(Array.from(gradient())).toEqual(Array.from(expected));
    }), { numRuns: 60 });
  });
});

/**
 * Every gradient kernel studykit registers for TF.js training (the wasm replacements, on the native addon
 * where it is loaded, and the dilated conv's) against central finite differences on wasm: for
 * loss = Σ f(inputs) ⊙ R, loss(x⁺) − loss(x⁻) (summed in float64 from f's float32 output) against
 * g · (x⁺ − x⁻) with x± = x ± εd along coordinate and random directions. Convolutions and the resize are
 * linear in each input, so a step of 0.5 is exact; max-pooling gets windows led by a margin wider than
 * its step. Tolerance 1e-3 plus 16 units of float32 rounding of Σ|R ⊙ out|: a gradient 1% off fails every
 * case (checked), and a kernel that no case runs fails the coverage test.
 */
describe("TF.js gradient kernels vs central finite differences (wasm)", () => {
  interface KernelCase {
    readonly name: string;
    readonly shapes: readonly (readonly number[])[];
    readonly f: (...inputs: tf.Tensor[]) => tf.Tensor;
    readonly step: number;
    readonly values?: (prng: SeededRandom, shape: readonly number[]) => Float32Array;
  }
  interface Probe { readonly numeric: number; readonly analytic: number; readonly allowed: number; readonly what: string }

  /** NHWC images in [1, 1.5) with every 2×2 window of every channel led by one pixel raised by 1. */
  const leadingWindows = (prng: SeededRandom, shape: readonly number[]): Float32Array => {
    const [n, h, w, c] = shape as [number, number, number, number];
    const x = Float32Array.from({ length: n * h * w * c }, () => 1 + 0.5 * prng.nextDouble());
    for (let b = 0; b < n; b++)
      for (let i = 0; i < h; i += 2)
        for (let j = 0; j < w; j += 2)
          for (let k = 0; k < c; k++) {
            const at = prng.nextInt(4);
            x[((b * h + i + (at >> 1)) * w + j + (at & 1)) * c + k]! += 1;
          }
    return x;
  };
  const CASES: KernelCase[] = [
    { name: "conv2d 3×3, stride 2, same", shapes: [[2, 7, 6, 3], [3, 3, 3, 4]], f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, "same"), step: 0.5 },
    { name: "conv2d 2×3, stride 1, valid", shapes: [[2, 5, 6, 2], [2, 3, 2, 3]], f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "valid"), step: 0.5 },
    { name: "conv2d 3×3, dilation 2, same", shapes: [[2, 7, 7, 2], [3, 3, 2, 3]], f: (x, w) => conv2dWithGradients(x as tf.Tensor4D, w as tf.Tensor4D, [1, 1], "same", [2, 2]), step: 0.5 },
    { name: "maxPool 2×2", shapes: [[2, 4, 6, 3]], f: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, "valid"), step: 0.04, values: leadingWindows },
    { name: "resizeNearestNeighbor ×2", shapes: [[2, 3, 4, 2]], f: (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [6, 8]), step: 0.5 },
  ];

  const measured = new Map<string, Promise<{ kernels: Set<string>; probes: Probe[] }>>();
  const measure = (c: KernelCase) => {
    if (!measured.has(c.name)) {
      measured.set(c.name, (async () => {
        registerConvGradientKernels("wasm");
        await tf.setBackend("wasm");
        const prng = SeededRandom.derive(3, c.name);
        const values = c.shapes.map((shape) => c.values?.(prng, shape) ?? Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => {
          const v = prng.nextDouble() * 2 - 1;
          return Math.sign(v) * (0.1 + Math.abs(v));
        }));
        const output = (inputs: Float32Array[]): Float32Array => tf.tidy(() => c.f(...inputs.map((v, i) => tf.tensor(v, [...c.shapes[i]!]))).dataSync() as Float32Array);
        const weights = Array.from(output(values), () => Math.fround(prng.nextDouble() * 2 - 1));
        const gradientsOf = () => tf.tidy(() => {
          const tensors = values.map((v, i) => tf.tensor(v, [...c.shapes[i]!]));
          const y = c.f(...tensors);
          return tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(c.f(...ts), tf.tensor(weights, y.shape))))(tensors);
        });
        let grads: Float32Array[] = [];
        const profile = await tf.profile(() => {
          const gs = gradientsOf();
          grads = gs.map((g) => g.dataSync() as Float32Array);
          tf.dispose(gs);
        });
        const lossAt = (inputs: Float32Array[]) => {
          const y = output(inputs);
          let loss = 0;
          let magnitude = 0;
          y.forEach((v, i) => {
            loss += weights[i]! * v;
            magnitude += Math.abs(weights[i]! * v);
          });
          return { loss, magnitude };
        };
        const probes: Probe[] = [];
        values.forEach((x, input) => {
          const directions: Float64Array[] = [];
          for (let k = 0; k < 8; k++) {
            const d = new Float64Array(x.length);
            d[prng.nextInt(x.length)] = 1;
            directions.push(d);
          }
          for (let k = 0; k < 2; k++) directions.push(Float64Array.from({ length: x.length }, () => prng.nextDouble() * 2 - 1));
          for (const d of directions) {
            const plus = Float32Array.from(x, (v, i) => v + c.step * d[i]!);
            const minus = Float32Array.from(x, (v, i) => v - c.step * d[i]!);
            const up = lossAt(values.map((v, i) => (i === input ? plus : v)));
            const down = lossAt(values.map((v, i) => (i === input ? minus : v)));
            let analytic = 0;
            for (let i = 0; i < x.length; i++) analytic += grads[input]![i]! * (plus[i]! - minus[i]!);
            const numeric = up.loss - down.loss;
            probes.push({ numeric, analytic, allowed: 1e-3 * Math.abs(numeric) + 16 * 2 ** -24 * (up.magnitude + down.magnitude), what: `input ${input}` });
          }
        });
        return { kernels: new Set(profile.kernels.map((k) => k.name)), probes };
      })());
    }
    return measured.get(c.name)!;
  };

  for (const c of CASES) {
    it(c.name, async () => {
      for (const p of (await measure(c)).probes) expect(Math.abs(p.numeric - p.analytic), `${c.name}, ${p.what}: finite difference ${p.numeric}, gradient ${p.analytic}`).toBeLessThanOrEqual(p.allowed);
    });
  }

  it("rejects a gradient 1% off in every case", async () => {
    const missed: string[] = [];
    for (const c of CASES) if (!(await measure(c)).probes.some((p) => Math.abs(p.numeric - 1.01 * p.analytic) > p.allowed)) missed.push(c.name);
    expect(missed).toEqual([]);
  });

  it("runs every gradient kernel studykit registers", async () => {
    const ran = new Set<string>();
    for (const c of CASES) for (const name of (await measure(c)).kernels) ran.add(name);
    expect([...WASM_TRAINING_KERNELS, ...DILATED_GRADIENT_KERNELS].filter((name) => !ran.has(name))).toEqual([]);
  });
});
