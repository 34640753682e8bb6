/**
 * One short definition per reconstruction metric, for the report's appendix: what is computed, on what
 * region, with which thresholds. The text states what reconstruction-metrics.ts,
 * fourier-ring-correlation.ts and multiscale-structural-similarity.ts compute; change them together.
 */

/** A metric's name as the report prints it and its definition (plain text, one paragraph). */
export interface MetricDefinition {
  readonly id: string;
  readonly name: string;
  readonly definition: string;
}

const REGION =
  "Region: the held-out test region (its bounding box), over pixels covered by at least one scan position; " +
  "the global phase offset arg Σ conj(truth)·reconstruction over those pixels is removed from the reconstruction first.";

/** Definitions in the order the report lists them. */
export const METRIC_DEFINITIONS: readonly MetricDefinition[] = Object.freeze([
  {
    id: "mae",
    name: "Mean absolute error (amplitude, phase)",
    definition: `Mean of |reconstruction − truth| over covered pixels; phase differences are wrapped to (−π, π] (radians). ${REGION}`,
  },
  {
    id: "psnr",
    name: "Peak signal-to-noise ratio (amplitude, phase)",
    definition: `10·log10(L² / MSE) in dB, L the truth's range (max − min) over covered pixels, MSE the mean squared difference there. ${REGION}`,
  },
  {
    id: "ssim",
    name: "Structural similarity, SSIM (amplitude, phase)",
    definition:
      "Wang et al. (2004): local means, variances and covariance under an 11-tap Gaussian window (σ = 1.5 px, edges replicated), " +
      "C1 = (0.01·L)², C2 = (0.03·L)², L the truth's range over covered pixels; the SSIM map averaged over covered pixels. " +
      REGION,
  },
  {
    id: "ms-ssim",
    name: "Multi-scale structural similarity, MS-SSIM (amplitude, phase)",
    definition:
      "Wang, Simoncelli & Bovik (2003): five scales with exponents 0.0448, 0.2856, 0.3001, 0.2363, 0.1333 (finest first); " +
      "at each scale the SSIM contrast-structure term (11-tap Gaussian window, σ = 1.5 px, edges replicated, C2 = (0.03·L)²) " +
      "averaged over covered pixels, and the luminance term (C1 = (0.01·L)²) at the coarsest; between scales a 2×2 average " +
      "and decimation by 2 (a coarse pixel counts when its four fine pixels are covered); negative terms count as 0. " +
      "As in the seed design, amplitude is pre-smoothed by a Gaussian of σ = 1 px and uses L = the truth's range; " +
      "phase is not smoothed and uses L = 2π, so errors are judged against the full phase circle. " +
      "Not computed (reported as such) when the region is smaller than 16×16 pixels. " +
      REGION,
  },
  {
    id: "frc",
    name: "Fourier ring correlation, FRC (complex object)",
    definition:
      "Both complex images (truth and offset-corrected reconstruction) over the test region's bounding box: the mean over " +
      "covered pixels subtracted, uncovered pixels set to 0, multiplied by a separable Tukey window (α = 0.5: flat centre, " +
      "cosine tapers over the outer quarter of each axis). Rings one frequency bin (1/L cycles per pixel, L the shorter side) " +
      "wide; FRC = Re Σ A·conj(B) / √(Σ|A|²·Σ|B|²) per ring; a ring where either image has no power has no value. " +
      "Thresholds: the fixed 0.5, and the half-bit curve of van Heel & Schatz (2005), " +
      "T = (0.2071 + 1.9102/√n) / (1.2071 + 0.9102/√n), n the Fourier pixels in the ring. The zero-frequency ring is not used; " +
      "the curve must start (first ring) at or above the threshold, and the resolution is the period (pixels) at the first " +
      "ring where it falls below, located by linear interpolation between the two rings around the crossing. " +
      "\"Not reached\" when the curve is below the threshold from the first ring (nothing resolved, e.g. a constant image) " +
      "or never falls below it (finer than the 2 px sampling limit can show).",
  },
]);
