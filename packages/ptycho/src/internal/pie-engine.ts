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
 *
 * The steps run in `@studykit/native`'s `pieSweep`: the addon's fused kernel (exit wave, FFT, modulus
 * constraint, inverse FFT and updates in one native call per run of positions), or its pure-TS fallback.
 */
import { pieSweep } from "@studykit/native";
import type { ComplexImage } from "../complex-image.js";

/** The update rule and its weights. */
export interface PieRule {
  readonly kind: "epie" | "rpie";
  /** ePIE: object step α; rPIE: object regularisation α. */
  readonly objectWeight: number;
  /** ePIE: probe step β; rPIE: probe regularisation β. */
  readonly probeWeight: number;
}

/** The estimates and the scan of one sequential reconstruction. */
export class PieSweep {
  constructor(
    private readonly object: ComplexImage,
    private readonly probe: ComplexImage,
    /** Measured magnitudes in FFT order and |F(ψ)| units, one n×n pattern per position. */
    private readonly measured: Float32Array,
    /** (top, left) of each position's patch. */
    private readonly corners: Int32Array,
    private readonly rule: PieRule,
  ) {}

  /** Updates the estimates from the positions `order`, one after the other; returns their Σ(|Ψ| − M)². */
  sweep(order: Uint32Array, updateProbe: boolean): number {
    return pieSweep({
      object: this.object.data,
      objectHeight: this.object.height,
      objectWidth: this.object.width,
      probe: this.probe.data,
      n: this.probe.width,
      measured: this.measured,
      corners: this.corners,
      order,
      rule: this.rule.kind,
      objectWeight: this.rule.objectWeight,
      probeWeight: this.rule.probeWeight,
      updateProbe,
    });
  }
}
