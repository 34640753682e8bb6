/**
 * The parallel variant: a mini-batch of B positions is updated in one step, so that its 2·B transforms go
 * to the addon as two batched calls that run off the main thread on several threads.
 *
 * Every exit wave of the batch is formed from the same estimates (P, O); after the modulus constraint the
 * corrections Δψ_j are combined as the least-squares (LSQML-style) averaged update, regularised as in rPIE:
 *   O += Σ_j conj(P)·Δψ_j / ((1 − α)·D + α·max D),   D = Σ_j |P|²  (summed where patches overlap)
 *   P += Σ_j conj(O_j)·Δψ_j / ((1 − β)·E + β·max E), E = Σ_j |O_j|²
 * With B = 1 this is exactly rPIE; with non-overlapping batch members each patch gets its own rPIE update;
 * where members overlap their corrections are averaged (weighted by illumination) instead of applied one
 * after the other. The step length is fixed (no line search). The sums run in batch order on the main
 * thread, so the result does not depend on the thread count.
 */
import type { ComplexImage } from "../complex-image.js";
import { applyModulus } from "./modulus.js";
import { fft2Async } from "./fourier.js";

/** Weights of the mini-batch update. */
export interface MinibatchRule {
  /** Object regularisation α ∈ [0, 1]. */
  readonly objectWeight: number;
  /** Probe regularisation β ∈ [0, 1]. */
  readonly probeWeight: number;
}

/** Scratch buffers and state of one mini-batch reconstruction. */
export class MinibatchSweep {
  private readonly size: number;
  private readonly pixels: number;
  private readonly waves: Float64Array;
  private readonly exits: Float64Array;
  /** Σ conj(P)·Δψ per object pixel (interleaved) and Σ|P|² per object pixel; zero between steps. */
  private readonly objectNumerator: Float64Array;
  private readonly objectDenominator: Float64Array;
  private readonly probeNumerator: Float64Array;
  private readonly probeDenominator: Float64Array;

  constructor(
    private readonly object: ComplexImage,
    private readonly probe: ComplexImage,
    private readonly measured: Float32Array,
    private readonly corners: Int32Array,
    private readonly rule: MinibatchRule,
    private readonly batchSize: number,
    private readonly threads: number,
  ) {
    this.size = probe.width;
    this.pixels = this.size * this.size;
    this.waves = new Float64Array(2 * this.pixels * batchSize);
    this.exits = new Float64Array(2 * this.pixels * batchSize);
    this.objectNumerator = new Float64Array(2 * object.height * object.width);
    this.objectDenominator = new Float64Array(object.height * object.width);
    this.probeNumerator = new Float64Array(2 * this.pixels);
    this.probeDenominator = new Float64Array(this.pixels);
  }

  /** Updates the estimates from the positions `indices` (at most the batch size); returns Σ(|Ψ| − M)². */
  async step(indices: ArrayLike<number>, updateProbe: boolean): Promise<number> {
    const { size, pixels, waves, exits } = this;
    const count = indices.length;
    const objectData = this.object.data;
    const probeData = this.probe.data;
    const objectWidth = this.object.width;
    for (let item = 0; item < count; item++) {
      const index = indices[item]!;
      const top = this.corners[2 * index]!;
      const left = this.corners[2 * index + 1]!;
      const base = 2 * item * pixels;
      for (let row = 0; row < size; row++) {
        let o = 2 * ((top + row) * objectWidth + left);
        for (let column = 0, p = 2 * row * size; column < size; column++, p += 2, o += 2) {
          const pr = probeData[p]!;
          const pi = probeData[p + 1]!;
          const or = objectData[o]!;
          const oi = objectData[o + 1]!;
          const er = pr * or - pi * oi;
          const ei = pr * oi + pi * or;
          exits[base + p] = er;
          exits[base + p + 1] = ei;
          waves[base + p] = er;
          waves[base + p + 1] = ei;
        }
      }
    }
    const active = waves.subarray(0, 2 * pixels * count);
    await fft2Async(active, size, count, false, this.threads);
    let error = 0;
    for (let item = 0; item < count; item++) error += applyModulus(waves, 2 * item * pixels, this.measured, indices[item]! * pixels, pixels);
    await fft2Async(active, size, count, true, this.threads);
    this.accumulate(indices, updateProbe);
    this.applyObjectUpdate(indices);
    if (updateProbe) this.applyProbeUpdate();
    return error;
  }

  /** Adds every member's correction to the numerators and its illumination to the denominators. */
  private accumulate(indices: ArrayLike<number>, updateProbe: boolean): void {
    const { size, pixels, waves, exits, objectNumerator, objectDenominator, probeNumerator, probeDenominator } = this;
    const objectData = this.object.data;
    const probeData = this.probe.data;
    const objectWidth = this.object.width;
    for (let item = 0; item < indices.length; item++) {
      const index = indices[item]!;
      const top = this.corners[2 * index]!;
      const left = this.corners[2 * index + 1]!;
      const base = 2 * item * pixels;
      for (let row = 0; row < size; row++) {
        let o = 2 * ((top + row) * objectWidth + left);
        for (let column = 0, p = 2 * row * size; column < size; column++, p += 2, o += 2) {
          const dr = waves[base + p]! - exits[base + p]!;
          const di = waves[base + p + 1]! - exits[base + p + 1]!;
          const pr = probeData[p]!;
          const pi = probeData[p + 1]!;
          objectNumerator[o] = objectNumerator[o]! + pr * dr + pi * di;
          objectNumerator[o + 1] = objectNumerator[o + 1]! + pr * di - pi * dr;
          objectDenominator[o >> 1] = objectDenominator[o >> 1]! + pr * pr + pi * pi;
          if (updateProbe) {
            const or = objectData[o]!;
            const oi = objectData[o + 1]!;
            probeNumerator[p] = probeNumerator[p]! + or * dr + oi * di;
            probeNumerator[p + 1] = probeNumerator[p + 1]! + or * di - oi * dr;
            probeDenominator[p >> 1] = probeDenominator[p >> 1]! + or * or + oi * oi;
          }
        }
      }
    }
  }

  /** O += numerator / ((1 − α)D + α·max D) on the batch's pixels, and clears the sums there. */
  private applyObjectUpdate(indices: ArrayLike<number>): void {
    const { size, objectNumerator, objectDenominator } = this;
    const objectData = this.object.data;
    const objectWidth = this.object.width;
    let maxDenominator = 0;
    for (let item = 0; item < indices.length; item++) {
      const top = this.corners[2 * indices[item]!]!;
      const left = this.corners[2 * indices[item]! + 1]!;
      for (let row = 0; row < size; row++) {
        const start = (top + row) * objectWidth + left;
        for (let pixel = start; pixel < start + size; pixel++) maxDenominator = Math.max(maxDenominator, objectDenominator[pixel]!);
      }
    }
    if (maxDenominator === 0) return;
    const alpha = this.rule.objectWeight;
    for (let item = 0; item < indices.length; item++) {
      const top = this.corners[2 * indices[item]!]!;
      const left = this.corners[2 * indices[item]! + 1]!;
      for (let row = 0; row < size; row++) {
        const start = (top + row) * objectWidth + left;
        for (let pixel = start; pixel < start + size; pixel++) {
          const denominator = objectDenominator[pixel]!;
          // A pixel shared by several members is updated at its first visit, then marked done (D = 0).
          if (denominator === 0) continue;
          const weight = 1 / ((1 - alpha) * denominator + alpha * maxDenominator);
          objectData[2 * pixel] = objectData[2 * pixel]! + weight * objectNumerator[2 * pixel]!;
          objectData[2 * pixel + 1] = objectData[2 * pixel + 1]! + weight * objectNumerator[2 * pixel + 1]!;
          objectNumerator[2 * pixel] = 0;
          objectNumerator[2 * pixel + 1] = 0;
          objectDenominator[pixel] = 0;
        }
      }
    }
  }

  /** P += numerator / ((1 − β)E + β·max E), and clears the sums. */
  private applyProbeUpdate(): void {
    const { pixels, probeNumerator, probeDenominator } = this;
    const probeData = this.probe.data;
    let maxDenominator = 0;
    for (let pixel = 0; pixel < pixels; pixel++) maxDenominator = Math.max(maxDenominator, probeDenominator[pixel]!);
    if (maxDenominator > 0) {
      const beta = this.rule.probeWeight;
      for (let pixel = 0; pixel < pixels; pixel++) {
        const weight = 1 / ((1 - beta) * probeDenominator[pixel]! + beta * maxDenominator);
        probeData[2 * pixel] = probeData[2 * pixel]! + weight * probeNumerator[2 * pixel]!;
        probeData[2 * pixel + 1] = probeData[2 * pixel + 1]! + weight * probeNumerator[2 * pixel + 1]!;
      }
    }
    probeNumerator.fill(0);
    probeDenominator.fill(0);
  }
}
