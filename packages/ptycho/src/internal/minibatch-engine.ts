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
 * after the other. The step length is fixed (no line search). The transforms run on the addon's threads
 * while the main thread works on the other half of the batch; the sums run in batch order on the main
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
  /** max D over the current batch (kept while summing). */
  private maxObjectDenominator = 0;
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
    this.objectNumerator = new Float64Array(2 * object.height * object.width);
    this.objectDenominator = new Float64Array(object.height * object.width);
    this.probeNumerator = new Float64Array(2 * this.pixels);
    this.probeDenominator = new Float64Array(this.pixels);
  }

  /**
   * Updates the estimates from the positions `indices` (at most the batch size); returns Σ(|Ψ| − M)².
   * The batch is transformed in two halves so that the main thread forms exit waves, applies the modulus
   * constraint or sums corrections for one half while the addon transforms the other; the sums still run
   * in batch order, so the result is the same as one whole-batch pass.
   */
  async step(indices: ArrayLike<number>, updateProbe: boolean): Promise<number> {
    const { size, pixels, waves } = this;
    const count = indices.length;
    const middle = count >= 2 ? Math.ceil(count / 2) : count;
    const halves: [number, number][] = middle < count ? [[0, middle], [middle, count]] : [[0, count]];
    const threads = halves.length > 1 ? Math.max(1, Math.floor(this.threads / 2)) : this.threads;
    const transform = ([from, to]: [number, number], inverse: boolean) => fft2Async(waves.subarray(2 * pixels * from, 2 * pixels * to), size, to - from, inverse, threads);
    this.maxObjectDenominator = 0;
    const forward: Promise<void>[] = [];
    for (const half of halves) {
      this.formExitWaves(indices, half);
      forward.push(transform(half, false));
    }
    let error = 0;
    const inverse: Promise<void>[] = [];
    for (let part = 0; part < halves.length; part++) {
      await forward[part];
      error += this.applyModulus(indices, halves[part]!);
      inverse.push(transform(halves[part]!, true));
    }
    for (let part = 0; part < halves.length; part++) {
      await inverse[part];
      this.accumulate(indices, halves[part]!, updateProbe);
    }
    this.applyObjectUpdate(indices);
    if (updateProbe) this.applyProbeUpdate();
    return error;
  }

  /** ψ = P·O_j of the members `from`..`to` into their slots of `waves`. */
  private formExitWaves(indices: ArrayLike<number>, [from, to]: [number, number]): void {
    const { size, pixels, waves } = this;
    const objectData = this.object.data;
    const probeData = this.probe.data;
    const objectWidth = this.object.width;
    for (let item = from; item < to; item++) {
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
          waves[base + p] = pr * or - pi * oi;
          waves[base + p + 1] = pr * oi + pi * or;
        }
      }
    }
  }

  private applyModulus(indices: ArrayLike<number>, [from, to]: [number, number]): number {
    let error = 0;
    for (let item = from; item < to; item++) error += applyModulus(this.waves, 2 * item * this.pixels, this.measured, indices[item]! * this.pixels, this.pixels);
    return error;
  }

  /**
   * Adds each member's correction Δψ = ψ' − P·O_j to the numerators and its illumination to the
   * denominators (ψ is recomputed: the estimates do not change until every member is summed), tracking
   * max D as it goes (D only grows, so the running maximum is the final one).
   */
  private accumulate(indices: ArrayLike<number>, [from, to]: [number, number], updateProbe: boolean): void {
    const { size, pixels, waves, objectNumerator, objectDenominator, probeNumerator, probeDenominator } = this;
    const objectData = this.object.data;
    const probeData = this.probe.data;
    const objectWidth = this.object.width;
    let maxDenominator = this.maxObjectDenominator;
    for (let item = from; item < to; item++) {
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
          const dr = waves[base + p]! - (pr * or - pi * oi);
          const di = waves[base + p + 1]! - (pr * oi + pi * or);
          objectNumerator[o] = objectNumerator[o]! + pr * dr + pi * di;
          objectNumerator[o + 1] = objectNumerator[o + 1]! + pr * di - pi * dr;
          const denominator = objectDenominator[o >> 1]! + pr * pr + pi * pi;
          objectDenominator[o >> 1] = denominator;
          if (denominator > maxDenominator) maxDenominator = denominator;
          if (updateProbe) {
            probeNumerator[p] = probeNumerator[p]! + or * dr + oi * di;
            probeNumerator[p + 1] = probeNumerator[p + 1]! + or * di - oi * dr;
            probeDenominator[p >> 1] = probeDenominator[p >> 1]! + or * or + oi * oi;
          }
        }
      }
    }
    this.maxObjectDenominator = maxDenominator;
  }

  /** O += numerator / ((1 − α)D + α·max D) on the batch's pixels, and clears the sums there. */
  private applyObjectUpdate(indices: ArrayLike<number>): void {
    const { size, objectNumerator, objectDenominator } = this;
    const objectData = this.object.data;
    const objectWidth = this.object.width;
    const maxDenominator = this.maxObjectDenominator;
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
