/**
 * Pure-TypeScript PIE sweep with the binding's signature, for when the addon is not built: the same
 * per-position steps as `ptycho_update.rs` (exit wave, forward FFT, modulus constraint, inverse FFT, object
 * update, optional probe update), on the fallback FFT. It agrees with the addon to rounding, not bit for bit
 * (the transforms differ in operation order, and the addon sums the error in four lanes).
 */
import type { NativeBinding } from "./binding.js";
import { fallbackFftKernels } from "./fft-fallback.js";

/** The subset of the binding this implements. */
export type PieSweepKernels = Pick<NativeBinding, "pieSweep">;

type Rule = "epie" | "rpie";

/**
 * Per-pixel factor of the object update, conj(P)·w: w = α / max|P|² (ePIE) or
 * 1 / ((1 − α)|P|² + α·max|P|²) (rPIE); all zero for a zero probe.
 */
function objectUpdateFactor(probe: Float64Array, rule: Rule, alpha: number, out: Float64Array): void {
  const pixels = probe.length / 2;
  let maxIntensity = 0;
  for (let pixel = 0; pixel < pixels; pixel++) maxIntensity = Math.max(maxIntensity, probe[2 * pixel]! ** 2 + probe[2 * pixel + 1]! ** 2);
  if (maxIntensity === 0) {
    out.fill(0);
    return;
  }
  for (let pixel = 0; pixel < pixels; pixel++) {
    const pr = probe[2 * pixel]!;
    const pi = probe[2 * pixel + 1]!;
    const weight = rule === "epie" ? alpha / maxIntensity : 1 / ((1 - alpha) * (pr * pr + pi * pi) + alpha * maxIntensity);
    out[2 * pixel] = pr * weight;
    out[2 * pixel + 1] = -pi * weight;
  }
}

/** Replaces |Ψ| by the measured magnitudes in place (zero phase where Ψ = 0); returns Σ(|Ψ| − M)². */
function applyModulus(wave: Float64Array, measured: Float32Array, measuredOffset: number, pixels: number): number {
  let error = 0;
  for (let pixel = 0, w = 0, m = measuredOffset; pixel < pixels; pixel++, w += 2, m++) {
    const re = wave[w]!;
    const im = wave[w + 1]!;
    const target = measured[m]!;
    const magnitude = Math.sqrt(re * re + im * im);
    const difference = magnitude - target;
    error += difference * difference;
    if (magnitude > 0) {
      const factor = target / magnitude;
      wave[w] = re * factor;
      wave[w + 1] = im * factor;
    } else {
      wave[w] = target;
      wave[w + 1] = 0;
    }
  }
  return error;
}

/** P += conj(O_j)·Δψ·w from the patch before the object update; false when the patch is all zero. */
function updateProbe(probe: Float64Array, patch: Float64Array, delta: Float64Array, rule: Rule, beta: number): boolean {
  const pixels = probe.length / 2;
  let maxIntensity = 0;
  for (let pixel = 0; pixel < pixels; pixel++) maxIntensity = Math.max(maxIntensity, patch[2 * pixel]! ** 2 + patch[2 * pixel + 1]! ** 2);
  if (maxIntensity === 0) return false;
  for (let p = 0; p < 2 * pixels; p += 2) {
    const or = patch[p]!;
    const oi = patch[p + 1]!;
    const weight = rule === "epie" ? beta / maxIntensity : 1 / ((1 - beta) * (or * or + oi * oi) + beta * maxIntensity);
    const dr = delta[p]!;
    const di = delta[p + 1]!;
    probe[p] = probe[p]! + weight * (or * dr + oi * di);
    probe[p + 1] = probe[p + 1]! + weight * (or * di - oi * dr);
  }
  return true;
}

function pieSweep(
  object: Float64Array,
  _objectHeight: number,
  objectWidth: number,
  probe: Float64Array,
  n: number,
  measured: Float32Array,
  corners: Int32Array,
  order: Uint32Array,
  rule: Rule,
  objectWeight: number,
  probeWeight: number,
  probeUpdate: boolean,
): number {
  const pixels = n * n;
  const wave = new Float64Array(2 * pixels);
  const patch = new Float64Array(2 * pixels);
  const factor = new Float64Array(2 * pixels);
  objectUpdateFactor(probe, rule, objectWeight, factor);
  let error = 0;
  for (let step = 0; step < order.length; step++) {
    const index = order[step]!;
    const top = corners[2 * index]!;
    const left = corners[2 * index + 1]!;
    for (let row = 0; row < n; row++) {
      let o = 2 * ((top + row) * objectWidth + left);
      for (let column = 0, p = 2 * row * n; column < n; column++, p += 2, o += 2) {
        const pr = probe[p]!;
        const pi = probe[p + 1]!;
        const or = object[o]!;
        const oi = object[o + 1]!;
        wave[p] = pr * or - pi * oi;
        wave[p + 1] = pr * oi + pi * or;
      }
    }
    fallbackFftKernels.fft2InPlace(wave, n, 1, false, 1);
    error += applyModulus(wave, measured, index * pixels, pixels);
    fallbackFftKernels.fft2InPlace(wave, n, 1, true, 1);
    // O_j += factor · Δψ with ψ recomputed from the not yet updated patch; Δψ stays in `wave` and the old
    // patch in `patch` for the probe update.
    for (let row = 0; row < n; row++) {
      let o = 2 * ((top + row) * objectWidth + left);
      for (let column = 0, p = 2 * row * n; column < n; column++, p += 2, o += 2) {
        const pr = probe[p]!;
        const pi = probe[p + 1]!;
        const or = object[o]!;
        const oi = object[o + 1]!;
        const dr = wave[p]! - (pr * or - pi * oi);
        const di = wave[p + 1]! - (pr * oi + pi * or);
        const fr = factor[p]!;
        const fi = factor[p + 1]!;
        object[o] = or + (fr * dr - fi * di);
        object[o + 1] = oi + (fr * di + fi * dr);
        if (probeUpdate) {
          wave[p] = dr;
          wave[p + 1] = di;
          patch[p] = or;
          patch[p + 1] = oi;
        }
      }
    }
    if (probeUpdate && updateProbe(probe, patch, wave, rule, probeWeight)) objectUpdateFactor(probe, rule, objectWeight, factor);
  }
  return error;
}

/** The fallback's kernel (runs on the calling thread). */
export const fallbackPieSweepKernels: PieSweepKernels = { pieSweep };
