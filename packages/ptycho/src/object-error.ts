/**
 * The object error of a reconstruction against a ground truth over a scored region.
 *
 * The diffraction is blind to a constant phase, so the global offset φ₀ = arg Σ conj(truth)·reconstruction
 * (over the region) is removed first; phase differences are wrapped to (−π, π]. The study scores its
 * networks the same way (over the central N/2 windows of the test positions).
 */
import type { ComplexImage } from "./complex-image.js";
import { PtychoError, PtychoErrorCode } from "./errors.js";

/** Errors of one reconstruction over the scored pixels. */
export interface ObjectError {
  /** Mean |wrap(arg recon − φ₀ − arg truth)| over the region, radians. */
  readonly phaseMae: number;
  /** Mean ||recon| − |truth|| over the region. */
  readonly amplitudeMae: number;
  /** The removed global phase offset φ₀, radians. */
  readonly phaseOffset: number;
  /** Pixels scored. */
  readonly pixels: number;
}

function wrapPhase(value: number): number {
  return value - 2 * Math.PI * Math.round(value / (2 * Math.PI));
}

/** Scores `reconstruction` against `truth` over the pixels where `mask` is non-zero (see the module doc). */
export function objectError(truth: ComplexImage, reconstruction: ComplexImage, mask: ArrayLike<number>): ObjectError {
  if (truth.height !== reconstruction.height || truth.width !== reconstruction.width || mask.length !== truth.height * truth.width) {
    throw new PtychoError(
      PtychoErrorCode.Shape,
      `the ground truth (${truth.height}×${truth.width}), the reconstruction (${reconstruction.height}×${reconstruction.width}) and the mask (${mask.length} pixels) must cover the same object`,
    );
  }
  const t = truth.data;
  const r = reconstruction.data;
  let re = 0;
  let im = 0;
  let pixels = 0;
  for (let index = 0; index < mask.length; index++) {
    if (!mask[index]) continue;
    const tr = t[2 * index]!;
    const ti = t[2 * index + 1]!;
    const rr = r[2 * index]!;
    const ri = r[2 * index + 1]!;
    re += tr * rr + ti * ri;
    im += tr * ri - ti * rr;
    pixels += 1;
  }
  const phaseOffset = re === 0 && im === 0 ? 0 : Math.atan2(im, re);
  let phaseSum = 0;
  let amplitudeSum = 0;
  for (let index = 0; index < mask.length; index++) {
    if (!mask[index]) continue;
    const tr = t[2 * index]!;
    const ti = t[2 * index + 1]!;
    const rr = r[2 * index]!;
    const ri = r[2 * index + 1]!;
    phaseSum += Math.abs(wrapPhase(Math.atan2(ri, rr) - phaseOffset - Math.atan2(ti, tr)));
    amplitudeSum += Math.abs(Math.hypot(rr, ri) - Math.hypot(tr, ti));
  }
  return { phaseMae: pixels > 0 ? phaseSum / pixels : Number.NaN, amplitudeMae: pixels > 0 ? amplitudeSum / pixels : Number.NaN, phaseOffset, pixels };
}
