/**
 * Multi-scale structural similarity (MS-SSIM) of Wang, Simoncelli & Bovik (2003), on float images
 * with an optional coverage mask.
 *
 * Definition used (the standard one, with every constant an option):
 * - M = 5 scales with exponents β = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333) (α_M = β_M at the coarsest);
 * - at each scale, local statistics under an 11-tap Gaussian window, σ = 1.5, applied separably with edge
 *   replication (the same filtering as this package's single-scale SSIM, so the two agree on the first
 *   scale), C1 = (0.01·L)², C2 = (0.03·L)², L the data range;
 * - contrast-structure map cs = (2σ_xy + C2) / (σ_x² + σ_y² + C2) at every scale, luminance map
 *   l = (2μ_xμ_y + C1) / (μ_x² + μ_y² + C1) at the coarsest; each map averaged over covered pixels;
 * - MS-SSIM = l_M^β_M · Π_j cs_j^β_j;
 * - between scales both images are low-passed by a 2×2 average and decimated by 2 (odd last rows and
 *   columns dropped); a coarse pixel is covered when all four of its fine pixels are.
 * A negative cs or l mean (anti-correlated structure) is clamped to 0 before the power, so MS-SSIM
 * lies in [0, 1]; the per-scale values are returned unclamped.
 *
 * The seed design (PtychoPINN's evaluation) runs MS-SSIM after a Gaussian pre-smoothing of the
 * amplitude with σ = 1 px (`preSmoothingSigma`, applied to both images, edge-replicated, truncated at
 * 4σ) and compares phase mapped from [−π, π] to [0, 1] with data range 1, i.e. data range 2π on
 * radians (its "phase emphasis": a phase error is judged against the full circle, not the truth's
 * range). Its own multi-scale loop (full SSIM per scale, decimation without averaging) departs from
 * Wang et al.; this module follows the paper and exposes σ and the weights instead.
 */
import { MetricErrorCode, MetricInputError } from "../errors.js";
import { filterSeparable, gaussianTaps } from "./gaussian-filter.js";

/** The five MS-SSIM exponents of Wang, Simoncelli & Bovik (2003), finest scale first. */
export const MS_SSIM_WEIGHTS: readonly number[] = Object.freeze([0.0448, 0.2856, 0.3001, 0.2363, 0.1333]);

export interface MultiScaleSsimOptions {
  /** Exponent per scale, finest first; its length is the number of scales. Default {@link MS_SSIM_WEIGHTS}. */
  readonly weights?: readonly number[];
  /** Gaussian window σ in pixels. Default 1.5. */
  readonly windowSigma?: number;
  /** Window half-width in pixels (taps = 2·radius + 1). Default 5 (11 taps). */
  readonly windowRadius?: number;
  /** Gaussian pre-smoothing σ applied to both images before the first scale; 0 (default) for none. */
  readonly preSmoothingSigma?: number;
  readonly k1?: number;
  readonly k2?: number;
}

export interface MultiScaleSsim {
  /** MS-SSIM in [0, 1]. */
  readonly value: number;
  /** Mean contrast-structure term per scale, finest first. */
  readonly contrastStructure: number[];
  /** Mean luminance term at the coarsest scale. */
  readonly luminance: number;
}

/** 2×2 average, then every second pixel; a coarse mask pixel needs all four fine ones. */
function halve(values: Float64Array, mask: Uint8Array, height: number, width: number) {
  const h = Math.floor(height / 2);
  const w = Math.floor(width / 2);
  const out = new Float64Array(h * w);
  const outMask = new Uint8Array(h * w);
  for (let row = 0; row < h; row++) {
    for (let column = 0; column < w; column++) {
      const i = 2 * row * width + 2 * column;
      out[row * w + column] = (values[i]! + values[i + 1]! + values[i + width]! + values[i + width + 1]!) / 4;
      outMask[row * w + column] = mask[i]! & mask[i + 1]! & mask[i + width]! & mask[i + width + 1]!;
    }
  }
  return { values: out, mask: outMask, height: h, width: w };
}

/**
 * MS-SSIM of two real images of `height`×`width` (row-major) with data range `range`, averaged over
 * pixels where `mask` is non-zero (all when omitted). Throws `E_METRIC_INPUT` when the shapes
 * disagree or an option is out of range, `E_METRIC_REGION_TOO_SMALL` when the coarsest scale would be
 * under one pixel or have no covered pixel.
 */
export function multiScaleStructuralSimilarity(
  a: Float64Array,
  b: Float64Array,
  height: number,
  width: number,
  range: number,
  mask?: ArrayLike<number>,
  options: MultiScaleSsimOptions = {},
): MultiScaleSsim {
  const weights = options.weights ?? MS_SSIM_WEIGHTS;
  const sigma = options.windowSigma ?? 1.5;
  const radius = options.windowRadius ?? 5;
  const smoothing = options.preSmoothingSigma ?? 0;
  const c1 = ((options.k1 ?? 0.01) * range) ** 2;
  const c2 = ((options.k2 ?? 0.03) * range) ** 2;
  if (a.length !== height * width || b.length !== height * width || (mask && mask.length !== height * width)) {
    throw new MetricInputError(MetricErrorCode.Input, `MS-SSIM inputs must all hold ${height}×${width} = ${height * width} values, got ${a.length}, ${b.length}${mask ? `, mask ${mask.length}` : ""}: pass images and mask at the same shape`);
  }
  if (!(range > 0) || !Number.isFinite(range)) throw new MetricInputError(MetricErrorCode.Input, `MS-SSIM data range must be a positive finite number, got ${range}`);
  if (weights.length < 1 || weights.some((weight) => !(weight >= 0))) throw new MetricInputError(MetricErrorCode.Input, `MS-SSIM weights must be a non-empty list of non-negative numbers, got [${weights.join(", ")}]`);
  if (!(sigma > 0) || !Number.isInteger(radius) || radius < 1 || !(smoothing >= 0)) {
    throw new MetricInputError(MetricErrorCode.Input, `MS-SSIM window needs σ > 0 and an integer radius ≥ 1, pre-smoothing σ ≥ 0; got σ ${sigma}, radius ${radius}, pre-smoothing ${smoothing}`);
  }
  const coarsest = 2 ** (weights.length - 1);
  if (Math.min(height, width) < coarsest) {
    throw new MetricInputError(MetricErrorCode.RegionTooSmall, `MS-SSIM with ${weights.length} scales needs images of at least ${coarsest}×${coarsest} pixels, got ${height}×${width}: score a larger region or pass fewer weights`);
  }

  let x = a;
  let y = b;
  if (smoothing > 0) {
    const pre = gaussianTaps(Math.ceil(4 * smoothing), smoothing);
    x = filterSeparable(a, height, width, pre);
    y = filterSeparable(b, height, width, pre);
  }
  let covered = Uint8Array.from({ length: height * width }, (_, index) => (mask && !mask[index] ? 0 : 1));
  let h = height;
  let w = width;
  const taps = gaussianTaps(radius, sigma);
  const contrastStructure: number[] = [];
  let luminance = Number.NaN;
  for (let scale = 0; scale < weights.length; scale++) {
    const muX = filterSeparable(x, h, w, taps);
    const muY = filterSeparable(y, h, w, taps);
    const xx = filterSeparable(x.map((value) => value * value), h, w, taps);
    const yy = filterSeparable(y.map((value) => value * value), h, w, taps);
    const xy = filterSeparable(x.map((value, index) => value * y[index]!), h, w, taps);
    let csTotal = 0;
    let lTotal = 0;
    let count = 0;
    for (let index = 0; index < h * w; index++) {
      if (!covered[index]) continue;
      const mx = muX[index]!;
      const my = muY[index]!;
      const varX = xx[index]! - mx * mx;
      const varY = yy[index]! - my * my;
      const cov = xy[index]! - mx * my;
      csTotal += (2 * cov + c2) / (varX + varY + c2);
      lTotal += (2 * mx * my + c1) / (mx * mx + my * my + c1);
      count += 1;
    }
    if (count === 0) {
      throw new MetricInputError(MetricErrorCode.RegionTooSmall, `MS-SSIM scale ${scale + 1} of ${weights.length} (${h}×${w}) has no covered pixel: the coverage mask is too sparse for this many scales; pass fewer weights`);
    }
    contrastStructure.push(csTotal / count);
    if (scale === weights.length - 1) luminance = lTotal / count;
    else {
      const nextX = halve(x, covered, h, w);
      y = halve(y, covered, h, w).values;
      x = nextX.values;
      covered = nextX.mask;
      h = nextX.height;
      w = nextX.width;
    }
  }
  let value = Math.max(0, luminance) ** weights[weights.length - 1]!;
  for (let scale = 0; scale < weights.length; scale++) value *= Math.max(0, contrastStructure[scale]!) ** weights[scale]!;
  return { value, contrastStructure, luminance };
}
