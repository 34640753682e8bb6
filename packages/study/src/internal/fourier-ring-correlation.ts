/**
 * Fourier ring correlation (FRC) between a reconstruction and a reference, done the way a
 * ptychographer reads it: on an apodised region, against the half-bit threshold as well as 0.5, and
 * with "not reached" as an answer instead of a made-up number.
 *
 * Pipeline (both images treated identically):
 * 1. The region's weighted mean (weights = the coverage mask) is subtracted, so the apodising window
 *    cannot leak the DC term into the lowest rings (that leak is what gave a constant image a finite
 *    60–70 px resolution).
 * 2. The result is multiplied by the mask and a separable Tukey (tapered-cosine) window, α = 0.5 by
 *    default: flat over the central half of each axis, a half-cosine taper over the outer quarter at
 *    each end (`scipy.signal.windows.tukey(n, α, sym=True)` has the same values). α = 1 is a Hann window.
 * 3. Unnormalised 2-D DFT; ring r holds the frequencies with round(|f|·L) = r, L = min(height, width),
 *    |f| in cycles per pixel; rings 0..floor(L/2), ring r at frequency r / L.
 * 4. FRC(r) = Re Σ A·conj(B) / sqrt(Σ|A|² · Σ|B|²) over ring r. A ring where either image has no power
 *    (≤ 1e-20 of that image's energy before mean removal: only rounding is left) has no defined
 *    correlation: NaN in the curve, treated as 0 when looking for a crossing.
 *
 * Thresholds: the fixed 0.5, and the half-bit curve of van Heel & Schatz (2005),
 * T(r) = (0.2071 + 1.9102/√n_r) / (1.2071 + 0.9102/√n_r) with n_r the number of Fourier pixels in ring r
 * (the curve for an information content of ½ bit per pixel with the SNR of each of two half data sets).
 *
 * Crossing convention: the DC ring is never used. The curve must be at or above the threshold at ring 1;
 * the crossing is the first ring r ≥ 2 where it falls below, located by linear interpolation of
 * FRC(r) − T(r) between rings r − 1 and r; the frequency is (r − 1 + t) / L and the resolution its period
 * 1 / frequency, in pixels. When ring 1 is already below the threshold nothing is resolved
 * (`never-above`); when no ring falls below it the resolution is finer than the sampling can show
 * (`never-below`): both report `reached: false`, frequency and resolution `null`.
 */
import { MetricErrorCode, MetricInputError } from "../errors.js";
import { Fourier2D } from "./fourier.js";

/** Fixed correlation threshold (the "FRC 0.5" criterion). */
export const FRC_FIXED_THRESHOLD = 0.5;
/** Default Tukey taper fraction. */
export const FRC_DEFAULT_TUKEY_ALPHA = 0.5;
/** Ring power at or below this fraction of an image's energy counts as no power (rounding only). */
const NO_POWER_FRACTION = 1e-20;

export interface FrcOptions {
  /** Tukey taper fraction in [0, 1]: 0 is no apodisation, 1 a Hann window. Default 0.5. */
  readonly tukeyAlpha?: number;
}

/** An FRC curve with the half-bit threshold for each ring. */
export interface FrcCurve {
  /** Ring centre, cycles per pixel (r / L). */
  readonly frequency: number[];
  /** Correlation per ring; NaN where either image has no power in the ring. */
  readonly correlation: number[];
  /** Fourier pixels in each ring (n_r). */
  readonly pixelsInRing: number[];
  /** Half-bit threshold per ring. */
  readonly halfBitThreshold: number[];
}

export type FrcCrossingStatus = "crossed" | "never-above" | "never-below";

/** Where an FRC curve crosses one threshold. */
export interface FrcResolution {
  readonly threshold: "half-bit" | "0.5";
  readonly status: FrcCrossingStatus;
  /** Whether the curve crossed the threshold: false means "not reached", with null numbers. */
  readonly reached: boolean;
  /** Crossing frequency in cycles per pixel, or null. */
  readonly frequency: number | null;
  /** Period at the crossing in pixels (1 / frequency), or null. */
  readonly resolutionPx: number | null;
}

/** The FRC of two images and its resolution at both thresholds. */
export interface FrcAnalysis {
  readonly curve: FrcCurve;
  readonly halfBit: FrcResolution;
  readonly fixed: FrcResolution;
  /** The apodisation used, for the report. */
  readonly apodisation: { readonly window: "tukey"; readonly alpha: number; readonly meanRemoved: true };
}

/** Symmetric Tukey window of length n (α = 0: rectangular, α = 1: Hann). */
export function tukeyWindow(length: number, alpha: number): Float64Array {
  if (!Number.isInteger(length) || length < 1) throw new MetricInputError(MetricErrorCode.Input, `Tukey window length must be a positive integer, got ${length}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new MetricInputError(MetricErrorCode.Input, `Tukey alpha must lie in [0, 1], got ${alpha}: use 0 for no apodisation, 1 for a Hann window`);
  const window = new Float64Array(length).fill(1);
  if (length === 1 || alpha === 0) return window;
  const taper = (alpha * (length - 1)) / 2;
  for (let index = 0; index < length; index++) {
    const fromEdge = Math.min(index, length - 1 - index);
    if (fromEdge < taper) window[index] = 0.5 * (1 - Math.cos((Math.PI * fromEdge) / taper));
  }
  return window;
}

/** Half-bit threshold (van Heel & Schatz 2005) for a ring of `pixels` Fourier pixels. */
export function halfBitThreshold(pixels: number): number {
  const root = Math.sqrt(pixels);
  return (0.2071 + 1.9102 / root) / (1.2071 + 0.9102 / root);
}

function checkShape(name: string, values: ArrayLike<number>, expected: number, height: number, width: number): void {
  if (values.length !== expected) {
    throw new MetricInputError(MetricErrorCode.Input, `${name} has ${values.length} values, expected ${expected} for a ${height}×${width} image: pass both images at the same shape`);
  }
}

/** Mean-removed, masked, Tukey-windowed copy of an interleaved complex image; also its energy before. */
function apodise(
  values: Float64Array,
  height: number,
  width: number,
  mask: ArrayLike<number> | undefined,
  rowWindow: Float64Array,
  columnWindow: Float64Array,
): { data: Float64Array; energy: number } {
  let weight = 0;
  let meanRe = 0;
  let meanIm = 0;
  let energy = 0;
  for (let index = 0; index < height * width; index++) {
    const m = mask ? (mask[index] ? 1 : 0) : 1;
    weight += m;
    meanRe += m * values[2 * index]!;
    meanIm += m * values[2 * index + 1]!;
    energy += m * (values[2 * index]! ** 2 + values[2 * index + 1]! ** 2);
  }
  if (weight > 0) {
    meanRe /= weight;
    meanIm /= weight;
  }
  const data = new Float64Array(2 * height * width);
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      const index = row * width + column;
      const m = mask ? (mask[index] ? 1 : 0) : 1;
      const w = m * rowWindow[row]! * columnWindow[column]!;
      data[2 * index] = w * (values[2 * index]! - meanRe);
      data[2 * index + 1] = w * (values[2 * index + 1]! - meanIm);
    }
  }
  return { data, energy };
}

/** Per-ring sums of two spectra over rings 0..rings−1 (see {@link ringSums}). */
export interface RingSums {
  /** Σ Re A·conj(B). */
  readonly cross: Float64Array;
  /** Σ |A|². */
  readonly powerA: Float64Array;
  /** Σ |B|². */
  readonly powerB: Float64Array;
  /** Fourier pixels in the ring. */
  readonly count: Float64Array;
}

/**
 * Sums two unshifted `height`×`width` spectra (interleaved re, im) ring by ring: frequency pixel (fy, fx)
 * in cycles per pixel goes to ring round(|f|·`scale`), and rings at or past `rings` are dropped.
 */
export function ringSums(fa: Float64Array, fb: Float64Array, height: number, width: number, scale: number, rings: number): RingSums {
  const cross = new Float64Array(rings);
  const powerA = new Float64Array(rings);
  const powerB = new Float64Array(rings);
  const count = new Float64Array(rings);
  for (let row = 0; row < height; row++) {
    const fy = (row <= height / 2 ? row : row - height) / height;
    for (let column = 0; column < width; column++) {
      const fx = (column <= width / 2 ? column : column - width) / width;
      const ring = Math.round(Math.hypot(fx, fy) * scale);
      if (ring >= rings) continue;
      const index = 2 * (row * width + column);
      const ar = fa[index]!;
      const ai = fa[index + 1]!;
      const br = fb[index]!;
      const bi = fb[index + 1]!;
      cross[ring] = cross[ring]! + ar * br + ai * bi;
      powerA[ring] = powerA[ring]! + ar * ar + ai * ai;
      powerB[ring] = powerB[ring]! + br * br + bi * bi;
      count[ring] = count[ring]! + 1;
    }
  }
  return { cross, powerA, powerB, count };
}

/**
 * The FRC curve of two complex images (interleaved re, im; a real image has zero imaginary parts) of
 * `height`×`width`, over pixels where `mask` is non-zero (all when omitted), apodised as the module
 * doc says.
 */
export function apodisedFrcCurve(
  a: Float64Array,
  b: Float64Array,
  height: number,
  width: number,
  mask?: ArrayLike<number>,
  options: FrcOptions = {},
): FrcCurve {
  const expected = 2 * height * width;
  checkShape("the first image", a, expected, height, width);
  checkShape("the second image", b, expected, height, width);
  if (mask) checkShape("the mask", mask, height * width, height, width);
  const side = Math.min(height, width);
  if (side < 4) throw new MetricInputError(MetricErrorCode.RegionTooSmall, `FRC needs a region of at least 4×4 pixels, got ${height}×${width}: score a larger test region`);
  const alpha = options.tukeyAlpha ?? FRC_DEFAULT_TUKEY_ALPHA;
  const rowWindow = tukeyWindow(height, alpha);
  const columnWindow = tukeyWindow(width, alpha);
  const first = apodise(a, height, width, mask, rowWindow, columnWindow);
  const second = apodise(b, height, width, mask, rowWindow, columnWindow);
  const transform = new Fourier2D(height, width);
  transform.forward(first.data);
  transform.forward(second.data);

  const rings = Math.floor(side / 2) + 1;
  const { cross, powerA, powerB, count } = ringSums(first.data, second.data, height, width, side, rings);
  // Parseval: Σ|F|² = N·Σ|x|², so a ring's power compares with N times the image energy.
  const floorA = NO_POWER_FRACTION * height * width * first.energy;
  const floorB = NO_POWER_FRACTION * height * width * second.energy;
  const frequency: number[] = [];
  const correlation: number[] = [];
  const pixelsInRing: number[] = [];
  const halfBit: number[] = [];
  for (let ring = 0; ring < rings; ring++) {
    frequency.push(ring / side);
    const defined = powerA[ring]! > floorA && powerB[ring]! > floorB;
    correlation.push(defined ? cross[ring]! / Math.sqrt(powerA[ring]! * powerB[ring]!) : Number.NaN);
    pixelsInRing.push(count[ring]!);
    halfBit.push(halfBitThreshold(count[ring]!));
  }
  return { frequency, correlation, pixelsInRing, halfBitThreshold: halfBit };
}

/** Where `curve` crosses the half-bit curve or the fixed 0.5 threshold (convention in the module doc). */
export function frcCrossing(curve: FrcCurve, threshold: "half-bit" | "0.5"): FrcResolution {
  const { frequency, correlation } = curve;
  const limit = (ring: number): number => (threshold === "half-bit" ? curve.halfBitThreshold[ring]! : FRC_FIXED_THRESHOLD);
  const margin = (ring: number): number => {
    const value = correlation[ring]!;
    return (Number.isNaN(value) ? 0 : value) - limit(ring);
  };
  const notReached = (status: FrcCrossingStatus): FrcResolution => ({ threshold, status, reached: false, frequency: null, resolutionPx: null });
  if (correlation.length < 2 || margin(1) < 0) return notReached("never-above");
  for (let ring = 2; ring < correlation.length; ring++) {
    const after = margin(ring);
    if (after >= 0) continue;
    const before = margin(ring - 1);
    const t = before / (before - after);
    const crossing = frequency[ring - 1]! + t * (frequency[ring]! - frequency[ring - 1]!);
    return { threshold, status: "crossed", reached: true, frequency: crossing, resolutionPx: 1 / crossing };
  }
  return notReached("never-below");
}

/** The apodised FRC of two complex images and its resolution at the half-bit and 0.5 thresholds. */
export function analyseFourierRingCorrelation(
  a: Float64Array,
  b: Float64Array,
  height: number,
  width: number,
  mask?: ArrayLike<number>,
  options: FrcOptions = {},
): FrcAnalysis {
  const curve = apodisedFrcCurve(a, b, height, width, mask, options);
  return {
    curve,
    halfBit: frcCrossing(curve, "half-bit"),
    fixed: frcCrossing(curve, "0.5"),
    apodisation: { window: "tukey", alpha: options.tukeyAlpha ?? FRC_DEFAULT_TUKEY_ALPHA, meanRemoved: true },
  };
}
