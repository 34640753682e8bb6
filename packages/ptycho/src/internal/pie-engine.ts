/**
 * The sequential PIE family: one position at a time, the object (and, when enabled, the probe) updated
 * after each position, in a seeded random order per iteration.
 *
 * For the current estimates P, O and the patch O_j of position j:
 *   ψ = P·O_j;  ψ' = F⁻¹[ M_j · F(ψ)/|F(ψ)| ];  Δψ = ψ' − ψ
 * ePIE (Maiden & Rodenburg 2009):
 *   O_j += α · conj(P)·Δψ / max|P|²          P += β · conj(O_j)·Δψ / max|O_j|²
 * rPIE (Maiden, Johnson & Li 2017), α, β ∈ [0, 1] blend the local and the maximum illumination:
 *   O_j += conj(P)·Δψ / ((1 − α)|P|² + α·max|P|²)     P += conj(O_j)·Δψ / ((1 − β)|O_j|² + β·max|O_j|²)
 * (rPIE with α = 1 is ePIE with step 1.) The probe update uses the object patch from before the object
 * update of the same position.
 */
import type { ComplexImage } from "../complex-image.js";
import { applyModulus } from "./modulus.js";
import { fft2 } from "./fourier.js";

/** The update rule and its weights. */
export interface PieRule {
  readonly kind: "epie" | "rpie";
  /** ePIE: object step α; rPIE: object regularisation α. */
  readonly objectWeight: number;
  /** ePIE: probe step β; rPIE: probe regularisation β. */
  readonly probeWeight: number;
}

/**
 * Per-pixel factor of the object update, conj(P)·w: w = α / max|P|² (ePIE) or
 * 1 / ((1 − α)|P|² + α·max|P|²) (rPIE). Recomputed whenever the probe changes.
 */
export function objectUpdateFactor(probe: Float64Array, rule: PieRule, out: Float64Array): void {
  const pixels = probe.length / 2;
  let maxIntensity = 0;
  for (let pixel = 0; pixel < pixels; pixel++) maxIntensity = Math.max(maxIntensity, probe[2 * pixel]! ** 2 + probe[2 * pixel + 1]! ** 2);
  if (maxIntensity === 0) {
    out.fill(0);
    return;
  }
  const alpha = rule.objectWeight;
  for (let pixel = 0; pixel < pixels; pixel++) {
    const pr = probe[2 * pixel]!;
    const pi = probe[2 * pixel + 1]!;
    const weight = rule.kind === "epie" ? alpha / maxIntensity : 1 / ((1 - alpha) * (pr * pr + pi * pi) + alpha * maxIntensity);
    out[2 * pixel] = pr * weight;
    out[2 * pixel + 1] = -pi * weight;
  }
}

/** Scratch buffers and state of one sequential reconstruction. */
export class PieSweep {
  private readonly size: number;
  private readonly pixels: number;
  private readonly wave: Float64Array;
  private readonly patch: Float64Array;
  private readonly factor: Float64Array;

  constructor(
    private readonly object: ComplexImage,
    private readonly probe: ComplexImage,
    private readonly measured: Float32Array,
    private readonly corners: Int32Array,
    private readonly rule: PieRule,
  ) {
    this.size = probe.width;
    this.pixels = this.size * this.size;
    this.wave = new Float64Array(2 * this.pixels);
    this.patch = new Float64Array(2 * this.pixels);
    this.factor = new Float64Array(2 * this.pixels);
    objectUpdateFactor(probe.data, rule, this.factor);
  }

  /** Updates the estimates from position `index`; returns its Σ(|Ψ| − M)². */
  step(index: number, updateProbe: boolean): number {
    const { size, pixels, wave, patch, factor } = this;
    const objectData = this.object.data;
    const probeData = this.probe.data;
    const objectWidth = this.object.width;
    const top = this.corners[2 * index]!;
    const left = this.corners[2 * index + 1]!;
    // Exit wave ψ = P·O_j, transformed in place in `wave`.
    for (let row = 0; row < size; row++) {
      let o = 2 * ((top + row) * objectWidth + left);
      for (let column = 0, p = 2 * row * size; column < size; column++, p += 2, o += 2) {
        const pr = probeData[p]!;
        const pi = probeData[p + 1]!;
        const or = objectData[o]!;
        const oi = objectData[o + 1]!;
        wave[p] = pr * or - pi * oi;
        wave[p + 1] = pr * oi + pi * or;
      }
    }
    fft2(wave, size, 1, false);
    const error = applyModulus(wave, 0, this.measured, index * pixels, pixels);
    fft2(wave, size, 1, true);
    // Object update on the patch: O_j += factor · Δψ, with ψ recomputed from the (not yet updated) patch
    // rather than stored; Δψ stays in `wave` and the old patch in `patch` for the probe update.
    for (let row = 0; row < size; row++) {
      let o = 2 * ((top + row) * objectWidth + left);
      for (let column = 0, p = 2 * row * size; column < size; column++, p += 2, o += 2) {
        const pr = probeData[p]!;
        const pi = probeData[p + 1]!;
        const or = objectData[o]!;
        const oi = objectData[o + 1]!;
        const dr = wave[p]! - (pr * or - pi * oi);
        const di = wave[p + 1]! - (pr * oi + pi * or);
        const fr = factor[p]!;
        const fi = factor[p + 1]!;
        objectData[o] = or + fr * dr - fi * di;
        objectData[o + 1] = oi + fr * di + fi * dr;
        if (updateProbe) {
          wave[p] = dr;
          wave[p + 1] = di;
          patch[p] = or;
          patch[p + 1] = oi;
        }
      }
    }
    if (updateProbe) this.updateProbe();
    return error;
  }

  /** P += conj(O_j)·Δψ·w with the patch from before the object update (Δψ is in `wave`). */
  private updateProbe(): void {
    const { pixels, wave, patch } = this;
    const probeData = this.probe.data;
    let maxIntensity = 0;
    for (let pixel = 0; pixel < pixels; pixel++) maxIntensity = Math.max(maxIntensity, patch[2 * pixel]! ** 2 + patch[2 * pixel + 1]! ** 2);
    if (maxIntensity === 0) return;
    const beta = this.rule.probeWeight;
    const epie = this.rule.kind === "epie";
    for (let pixel = 0, p = 0; pixel < pixels; pixel++, p += 2) {
      const or = patch[p]!;
      const oi = patch[p + 1]!;
      const weight = epie ? beta / maxIntensity : 1 / ((1 - beta) * (or * or + oi * oi) + beta * maxIntensity);
      const dr = wave[p]!;
      const di = wave[p + 1]!;
      probeData[p] = probeData[p]! + weight * (or * dr + oi * di);
      probeData[p + 1] = probeData[p + 1]! + weight * (or * di - oi * dr);
    }
    objectUpdateFactor(probeData, this.rule, this.factor);
  }
}
