import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../backend-selection.js";
import { createDftPlan, dft2d, diffractionIntensity, disposeDft } from "./real-dft.js";
import { SeededRandom } from "@studykit/core";

function randomImages(b: number, h: number, w: number, seed: number): { re: Float32Array; im: Float32Array } {
  const prng = new SeededRandom(seed);
  const re = new Float32Array(b * h * w);
  const im = new Float32Array(b * h * w);
  for (let i = 0; i < re.length; i++) {
    re[i] = prng.nextDouble() * 2 - 1;
    im[i] = prng.nextDouble() * 2 - 1;
  }
  return { re, im };
}

/** 2-D FFT with TF.js's own complex FFT kernel (cpu back end), unnormalised. */
function tfFft2d(re: Float32Array, im: Float32Array, b: number, h: number, w: number): { re: Float32Array; im: Float32Array } {
  return tf.tidy(() => {
    const x = tf.complex(tf.tensor3d(re, [b, h, w]), tf.tensor3d(im, [b, h, w]));
    const rows = tf.spectral.fft(x); // along the last axis
    const cols = tf.transpose(tf.spectral.fft(tf.transpose(rows, [0, 2, 1])), [0, 2, 1]);
    return { re: tf.real(cols).dataSync() as Float32Array, im: tf.imag(cols).dataSync() as Float32Array };
  });
}

/** numpy's fftshift over the last two axes. */
function fftshift(values: Float32Array, b: number, h: number, w: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let n = 0; n < b; n++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
    out[(n * h + ((i + Math.floor(h / 2)) % h)) * w + ((j + Math.floor(w / 2)) % w)] = values[(n * h + i) * w + j]!;
  }
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe("real-valued 2-D DFT", () => {
  beforeAll(async () => {
    await selectBackend("cpu");
  });

  it.each([[8, 8, false], [6, 10, false], [7, 5, true], [8, 6, true]] as const)("matches TF.js's complex FFT for %i×%i (fftshift %s)", (h, w, shift) => {
    const b = 3;
    const { re, im } = randomImages(b, h, w, h * 100 + w);
    const expected = tfFft2d(re, im, b, h, w);
    const plan = createDftPlan(h, w, shift);
    const got = tf.tidy(() => {
      const f = dft2d(tf.tensor3d(re, [b, h, w]), tf.tensor3d(im, [b, h, w]), plan);
      return { re: f.real.dataSync() as Float32Array, im: f.imag.dataSync() as Float32Array };
    });
    disposeDft(plan);
    const norm = Math.sqrt(h * w);
    const refRe = (shift ? fftshift(expected.re, b, h, w) : expected.re).map((v) => v / norm);
    const refIm = (shift ? fftshift(expected.im, b, h, w) : expected.im).map((v) => v / norm);
    expect(maxDiff(got.re, refRe)).toBeLessThan(1e-5);
    expect(maxDiff(got.im, refIm)).toBeLessThan(1e-5);
  });

  it("preserves energy (Parseval) with the orthonormal scaling", () => {
    const [b, h, w] = [2, 16, 12];
    const { re, im } = randomImages(b, h, w, 7);
    const plan = createDftPlan(h, w, true);
    const [before, after] = tf.tidy(() => {
      const x = { re: tf.tensor3d(re, [b, h, w]), im: tf.tensor3d(im, [b, h, w]) };
      const f = dft2d(x.re, x.im, plan);
      const energy = (r: tf.Tensor, i: tf.Tensor) => tf.sum(tf.add(tf.square(r), tf.square(i)), [1, 2]).dataSync();
      return [energy(x.re, x.im), energy(f.real, f.imag)];
    });
    disposeDft(plan);
    for (let n = 0; n < b; n++) expect(after[n]! / before[n]!).toBeCloseTo(1, 5);
  });

  it("gives a flat-phase object under a flat probe all its intensity at DC (at the centre with fftshift)", () => {
    const [h, w] = [8, 8];
    const plan = createDftPlan(h, w, true);
    const intensity = tf.tidy(() =>
      diffractionIntensity(tf.fill([1, h, w, 1], 0.5) as tf.Tensor4D, tf.fill([1, h, w, 1], 0.3) as tf.Tensor4D, tf.ones([h, w]) as tf.Tensor2D, tf.zeros([h, w]) as tf.Tensor2D, plan, 2).dataSync(),
    );
    disposeDft(plan);
    // |F(DC)|² = (Σ 0.5)² / (h·w) = 0.25·h·w, times the scale 2.
    expect(intensity[(h / 2) * w + w / 2]).toBeCloseTo(2 * 0.25 * h * w, 4);
    expect(intensity.reduce((s, v) => s + v, 0)).toBeCloseTo(2 * 0.25 * h * w, 4);
  });

  it("differentiates on wasm and cpu with matching gradients", async () => {
    const [h, w] = [8, 8];
    const prng = new SeededRandom(3);
    const amp = Float32Array.from({ length: 2 * h * w }, () => 0.5 + prng.nextDouble() * 0.5);
    const ph = Float32Array.from({ length: 2 * h * w }, () => prng.nextDouble() - 0.5);
    const measured = Float32Array.from({ length: 2 * h * w }, () => prng.nextDouble());
    const gradients = async (backend: string) => {
      await selectBackend(backend);
      const plan = createDftPlan(h, w, true);
      const out = tf.tidy(() => {
        const loss = (a: tf.Tensor, p: tf.Tensor) => {
          const i = diffractionIntensity(a as tf.Tensor4D, p as tf.Tensor4D, tf.ones([h, w]) as tf.Tensor2D, tf.zeros([h, w]) as tf.Tensor2D, plan, 1);
          return tf.mean(tf.sub(i, tf.mul(tf.tensor4d(measured, [2, h, w, 1]), tf.log(tf.add(i, 1e-6)))));
        };
        const [ga, gp] = tf.grads(loss)([tf.tensor4d(amp, [2, h, w, 1]), tf.tensor4d(ph, [2, h, w, 1])]);
        return [ga!.dataSync() as Float32Array, gp!.dataSync() as Float32Array];
      });
      disposeDft(plan);
      return out;
    };
    const [cpuA, cpuP] = await gradients("cpu");
    const [wasmA, wasmP] = await gradients("wasm");
    expect(cpuA!.some((v) => v !== 0)).toBe(true);
    expect(maxDiff(wasmA!, cpuA!)).toBeLessThan(1e-5);
    expect(maxDiff(wasmP!, cpuP!)).toBeLessThan(1e-5);
    await selectBackend("cpu");
  });
});
