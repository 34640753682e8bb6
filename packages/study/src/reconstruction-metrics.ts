/**
 * Scores a reconstruction against the ground-truth object over the covered test region.
 *
 * - Phase has no absolute reference (a constant phase offset is invisible in the diffraction), so the
 *   global offset arg Σ conj(truth)·recon is removed before any phase metric and before FRC.
 * - MAE: mean absolute difference over covered pixels (phase differences wrapped to (−π, π]).
 * - PSNR: 10·log10(L² / MSE) with L the ground truth's range over the covered pixels.
 * - SSIM: Wang et al. (2004) with an 11×11 Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03, data range L,
 *   averaged over covered pixels. Written here rather than taken from an npm package because those work on
 *   8-bit RGBA images, and quantising float amplitudes/phases to 8 bits would distort the score.
 * - FRC: Fourier ring correlation between the two complex images (box cropped, Hann-windowed, uncovered
 *   pixels zeroed), rings one frequency bin wide; the resolution is where the curve first falls below 0.5
 *   (linear interpolation), in pixels (1 / frequency); 2 px (Nyquist) when it never does. Kept as it was
 *   for the callers that read it; it gives a constant image a finite number, so Phase G reports
 *   {@link scoreResolution}'s FRC instead (compare-phase.ts, `scoreForComparison`).
 * - {@link scoreResolution} adds what a ptychographer expects instead: the apodised FRC with half-bit and
 *   0.5 thresholds reported as "not reached" when the curve never crosses (fourier-ring-correlation.ts),
 *   and MS-SSIM of amplitude and phase (multiscale-structural-similarity.ts); their definitions for the
 *   report are in metric-definitions.ts.
 */
import { hasErrorCode } from "@studykit/native";
import type { ComplexImage } from "@studykit/ptycho";
import { MetricErrorCode } from "./errors.js";
import { Fourier2D } from "./internal/fourier.js";
import { filterSeparable, gaussianTaps } from "./internal/gaussian-filter.js";
import { analyseFourierRingCorrelation, ringSums, type FrcAnalysis, type FrcOptions } from "./internal/fourier-ring-correlation.js";
import { multiScaleStructuralSimilarity, type MultiScaleSsim, type MultiScaleSsimOptions } from "./internal/multiscale-structural-similarity.js";

export interface Box {
  readonly top: number;
  readonly left: number;
  readonly bottom: number;
  readonly right: number;
}

/** Metrics of one reconstruction. */
export interface ReconstructionMetrics {
  readonly amplitudeMae: number;
  readonly phaseMae: number;
  readonly amplitudePsnr: number;
  readonly phasePsnr: number;
  readonly amplitudeSsim: number;
  readonly phaseSsim: number;
  /** FRC 0.5-threshold crossing in cycles per pixel. */
  readonly frc50Frequency: number;
  /** 1 / frc50Frequency, pixels. */
  readonly frc50ResolutionPx: number;
  /** Covered pixels scored. */
  readonly pixels: number;
  /** The FRC curve: frequency (cycles/pixel) and correlation per ring. */
  readonly frcCurve: { readonly frequency: number[]; readonly correlation: number[] };
}

function wrapPhase(value: number): number {
  return value - 2 * Math.PI * Math.round(value / (2 * Math.PI));
}

/** The global phase offset between `reconstruction` and `truth` over covered pixels. */
export function globalPhaseOffset(truth: ComplexImage, reconstruction: ComplexImage, mask: ArrayLike<number>): number {
  let re = 0;
  let im = 0;
  for (let index = 0; index < mask.length; index++) {
    if (!mask[index]) continue;
    const tr = truth.data[2 * index]!;
    const ti = truth.data[2 * index + 1]!;
    const rr = reconstruction.data[2 * index]!;
    const ri = reconstruction.data[2 * index + 1]!;
    re += tr * rr + ti * ri;
    im += tr * ri - ti * rr;
  }
  return re === 0 && im === 0 ? 0 : Math.atan2(im, re);
}

/** Crops `box` of a real field. */
function crop(values: Float64Array, width: number, box: Box): Float64Array {
  const height = box.bottom - box.top;
  const cropWidth = box.right - box.left;
  const out = new Float64Array(height * cropWidth);
  for (let row = 0; row < height; row++) {
    const start = (box.top + row) * width + box.left;
    out.set(values.subarray(start, start + cropWidth), row * cropWidth);
  }
  return out;
}

/** Mean SSIM over masked pixels of two real images (same shape), data range `range`. */
export function structuralSimilarity(
  a: Float64Array,
  b: Float64Array,
  height: number,
  width: number,
  range: number,
  mask?: ArrayLike<number>,
): number {
  const kernel = gaussianTaps(5, 1.5);
  const c1 = (0.01 * range) ** 2;
  const c2 = (0.03 * range) ** 2;
  const product = (x: Float64Array, y: Float64Array): Float64Array => x.map((value, index) => value * y[index]!);
  const muA = filterSeparable(a, height, width, kernel);
  const muB = filterSeparable(b, height, width, kernel);
  const aa = filterSeparable(product(a, a), height, width, kernel);
  const bb = filterSeparable(product(b, b), height, width, kernel);
  const ab = filterSeparable(product(a, b), height, width, kernel);
  let total = 0;
  let count = 0;
  for (let index = 0; index < a.length; index++) {
    if (mask && !mask[index]) continue;
    const ma = muA[index]!;
    const mb = muB[index]!;
    const varA = aa[index]! - ma * ma;
    const varB = bb[index]! - mb * mb;
    const cov = ab[index]! - ma * mb;
    total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (varA + varB + c2));
    count += 1;
  }
  return count > 0 ? total / count : Number.NaN;
}

/** Fourier ring correlation of two complex images of the same shape (interleaved). */
export function fourierRingCorrelation(
  a: Float64Array,
  b: Float64Array,
  height: number,
  width: number,
): { frequency: number[]; correlation: number[] } {
  const transform = new Fourier2D(height, width);
  const fa = Float64Array.from(a);
  const fb = Float64Array.from(b);
  transform.forward(fa);
  transform.forward(fb);
  const bins = Math.floor(Math.min(height, width) / 2);
  // 2·bins, not min(height, width): odd sides keep this curve's original bin width.
  const { cross, powerA, powerB } = ringSums(fa, fb, height, width, 2 * bins, bins);
  const frequency: number[] = [];
  const correlation: number[] = [];
  for (let ring = 0; ring < bins; ring++) {
    const denominator = Math.sqrt(powerA[ring]! * powerB[ring]!);
    frequency.push(ring / (2 * bins));
    correlation.push(denominator > 0 ? cross[ring]! / denominator : 0);
  }
  return { frequency, correlation };
}

/** First 0.5 crossing of an FRC curve (cycles/pixel); Nyquist (0.5) when it never falls below 0.5. */
export function frcThresholdFrequency(curve: { frequency: readonly number[]; correlation: readonly number[] }, threshold = 0.5): number {
  const { frequency, correlation } = curve;
  for (let ring = 1; ring < correlation.length; ring++) {
    if (correlation[ring]! < threshold) {
      const f0 = frequency[ring - 1]!;
      const f1 = frequency[ring]!;
      const c0 = correlation[ring - 1]!;
      const c1 = correlation[ring]!;
      const t = c0 === c1 ? 0 : (c0 - threshold) / (c0 - c1);
      return Math.max(f0 + t * (f1 - f0), 1e-6);
    }
  }
  return 0.5;
}

/**
 * All metrics of `reconstruction` against `truth` (both full-object images) over pixels where
 * `coverage > 0`, inside `box`.
 */
export function scoreReconstruction(
  truth: ComplexImage,
  reconstruction: ComplexImage,
  coverage: ArrayLike<number>,
  box: Box,
): ReconstructionMetrics {
  const { width } = truth;
  const offset = globalPhaseOffset(truth, reconstruction, coverage);
  const total = truth.height * width;
  const truthAmplitude = new Float64Array(total);
  const truthPhase = new Float64Array(total);
  const reconAmplitude = new Float64Array(total);
  const reconPhase = new Float64Array(total);
  let minA = Infinity;
  let maxA = -Infinity;
  let minP = Infinity;
  let maxP = -Infinity;
  let pixels = 0;
  let errorA = 0;
  let errorP = 0;
  let squaredA = 0;
  let squaredP = 0;
  for (let index = 0; index < total; index++) {
    const ta = Math.hypot(truth.data[2 * index]!, truth.data[2 * index + 1]!);
    const tp = Math.atan2(truth.data[2 * index + 1]!, truth.data[2 * index]!);
    const ra = Math.hypot(reconstruction.data[2 * index]!, reconstruction.data[2 * index + 1]!);
    // Phase relative to the truth's phase, offset removed, so wrapping cannot create false errors.
    const rp = tp + wrapPhase(Math.atan2(reconstruction.data[2 * index + 1]!, reconstruction.data[2 * index]!) - offset - tp);
    truthAmplitude[index] = ta;
    truthPhase[index] = tp;
    reconAmplitude[index] = ra;
    reconPhase[index] = rp;
    if (!coverage[index]) continue;
    pixels += 1;
    minA = Math.min(minA, ta);
    maxA = Math.max(maxA, ta);
    minP = Math.min(minP, tp);
    maxP = Math.max(maxP, tp);
    errorA += Math.abs(ra - ta);
    errorP += Math.abs(rp - tp);
    squaredA += (ra - ta) ** 2;
    squaredP += (rp - tp) ** 2;
  }
  const rangeA = maxA - minA || 1;
  const rangeP = maxP - minP || 1;
  const psnr = (range: number, squared: number): number => (squared === 0 ? 100 : 10 * Math.log10((range * range) / (squared / pixels)));

  const height = box.bottom - box.top;
  const cropWidth = box.right - box.left;
  const mask = crop(Float64Array.from(coverage, (value) => (value ? 1 : 0)), width, box);
  const amplitudeSsim = structuralSimilarity(crop(reconAmplitude, width, box), crop(truthAmplitude, width, box), height, cropWidth, rangeA, mask);
  const phaseSsim = structuralSimilarity(crop(reconPhase, width, box), crop(truthPhase, width, box), height, cropWidth, rangeP, mask);

  // FRC on Hann-windowed complex crops (offset-corrected reconstruction), uncovered pixels zeroed.
  const a = new Float64Array(2 * height * cropWidth);
  const b = new Float64Array(2 * height * cropWidth);
  for (let row = 0; row < height; row++) {
    const wy = height > 1 ? 0.5 - 0.5 * Math.cos((2 * Math.PI * row) / (height - 1)) : 1;
    for (let column = 0; column < cropWidth; column++) {
      const wx = cropWidth > 1 ? 0.5 - 0.5 * Math.cos((2 * Math.PI * column) / (cropWidth - 1)) : 1;
      const local = row * cropWidth + column;
      const index = (box.top + row) * width + box.left + column;
      const weight = mask[local]! * wy * wx;
      a[2 * local] = weight * reconAmplitude[index]! * Math.cos(reconPhase[index]!);
      a[2 * local + 1] = weight * reconAmplitude[index]! * Math.sin(reconPhase[index]!);
      b[2 * local] = weight * truth.data[2 * index]!;
      b[2 * local + 1] = weight * truth.data[2 * index + 1]!;
    }
  }
  const frcCurve = fourierRingCorrelation(a, b, height, cropWidth);
  const frc50Frequency = frcThresholdFrequency(frcCurve);
  return {
    amplitudeMae: pixels > 0 ? errorA / pixels : Number.NaN,
    phaseMae: pixels > 0 ? errorP / pixels : Number.NaN,
    amplitudePsnr: psnr(rangeA, squaredA),
    phasePsnr: psnr(rangeP, squaredP),
    amplitudeSsim,
    phaseSsim,
    frc50Frequency,
    frc50ResolutionPx: 1 / frc50Frequency,
    pixels,
    frcCurve,
  };
}

/** Options of {@link scoreResolution}; defaults follow the seed design (see metric-definitions.ts). */
export interface ResolutionScoreOptions {
  readonly frc?: FrcOptions;
  /** MS-SSIM options for amplitude; default: Gaussian pre-smoothing σ = 1 px, data range = truth's range. */
  readonly amplitudeMsSsim?: MultiScaleSsimOptions;
  /** MS-SSIM options for phase; default: no pre-smoothing, data range 2π. */
  readonly phaseMsSsim?: MultiScaleSsimOptions;
}

/** Resolution and multi-scale metrics of one reconstruction (beside {@link ReconstructionMetrics}). */
export interface ResolutionMetrics {
  /** Apodised complex FRC with half-bit and 0.5 crossings ("not reached" as null + status). */
  readonly frc: FrcAnalysis;
  /** MS-SSIM of the amplitude, or null when the region is too small for five scales. */
  readonly amplitudeMsSsim: MultiScaleSsim | null;
  /** MS-SSIM of the phase (offset removed, data range 2π), or null when the region is too small. */
  readonly phaseMsSsim: MultiScaleSsim | null;
  /** Why MS-SSIM is null, when it is. */
  readonly msSsimSkipped?: string;
}

/** Default amplitude pre-smoothing of the seed design (PtychoPINN's `ms_ssim_sigma`). */
export const AMPLITUDE_MS_SSIM_PRESMOOTHING_SIGMA = 1;
/** Data range for phase SSIM-type scores in the seed design: the full circle. */
export const PHASE_DATA_RANGE = 2 * Math.PI;

/**
 * FRC (half-bit and 0.5, apodised, "not reached" reported as such) and MS-SSIM of amplitude and phase,
 * with the same alignment and region as {@link scoreReconstruction}: the global phase offset removed,
 * inside `box`, over pixels where `coverage > 0`.
 */
export function scoreResolution(
  truth: ComplexImage,
  reconstruction: ComplexImage,
  coverage: ArrayLike<number>,
  box: Box,
  options: ResolutionScoreOptions = {},
): ResolutionMetrics {
  const { width } = truth;
  const offset = globalPhaseOffset(truth, reconstruction, coverage);
  const height = box.bottom - box.top;
  const cropWidth = box.right - box.left;
  const size = height * cropWidth;
  const truthComplex = new Float64Array(2 * size);
  const reconComplex = new Float64Array(2 * size);
  const truthAmplitude = new Float64Array(size);
  const reconAmplitude = new Float64Array(size);
  const truthPhase = new Float64Array(size);
  const reconPhase = new Float64Array(size);
  const mask = new Uint8Array(size);
  let minA = Infinity;
  let maxA = -Infinity;
  const c = Math.cos(-offset);
  const s = Math.sin(-offset);
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < cropWidth; column++) {
      const local = row * cropWidth + column;
      const index = (box.top + row) * width + box.left + column;
      const tr = truth.data[2 * index]!;
      const ti = truth.data[2 * index + 1]!;
      const rr = reconstruction.data[2 * index]!;
      const ri = reconstruction.data[2 * index + 1]!;
      truthComplex[2 * local] = tr;
      truthComplex[2 * local + 1] = ti;
      reconComplex[2 * local] = rr * c - ri * s;
      reconComplex[2 * local + 1] = rr * s + ri * c;
      const ta = Math.hypot(tr, ti);
      const tp = Math.atan2(ti, tr);
      truthAmplitude[local] = ta;
      reconAmplitude[local] = Math.hypot(rr, ri);
      truthPhase[local] = tp;
      // Phase relative to the truth's, offset removed, so wrapping cannot create false errors.
      reconPhase[local] = tp + wrapPhase(Math.atan2(ri, rr) - offset - tp);
      mask[local] = coverage[index] ? 1 : 0;
      if (mask[local]) {
        minA = Math.min(minA, ta);
        maxA = Math.max(maxA, ta);
      }
    }
  }
  const frc = analyseFourierRingCorrelation(reconComplex, truthComplex, height, cropWidth, mask, options.frc);
  const rangeA = maxA - minA || 1;
  try {
    const amplitudeMsSsim = multiScaleStructuralSimilarity(reconAmplitude, truthAmplitude, height, cropWidth, rangeA, mask, {
      preSmoothingSigma: AMPLITUDE_MS_SSIM_PRESMOOTHING_SIGMA,
      ...options.amplitudeMsSsim,
    });
    const phaseMsSsim = multiScaleStructuralSimilarity(reconPhase, truthPhase, height, cropWidth, PHASE_DATA_RANGE, mask, options.phaseMsSsim);
    return { frc, amplitudeMsSsim, phaseMsSsim };
  } catch (error) {
    if (!hasErrorCode(error, MetricErrorCode.RegionTooSmall)) throw error;
    return { frc, amplitudeMsSsim: null, phaseMsSsim: null, msSsimSkipped: error.message };
  }
}
