/**
 * Stitching predicted patches back into an object: each patch's central window is added (as a complex
 * value, so phases near ±π average correctly) at its scan position and overlapping pixels are averaged.
 * Only the central window is used because a patch's border lies outside the probe's illumination, where
 * the diffraction carries no information about the object.
 */
import { createComplexImage, type ComplexImage } from "@studykit/ptycho";
import { patchCorner, type ScanPosition } from "@studykit/ptycho";

/** A stitched reconstruction: the object (zeros where uncovered), coverage counts and the covered box. */
export interface StitchedObject {
  readonly object: ComplexImage;
  readonly counts: Uint32Array;
  /** Bounding box of covered pixels, half-open: rows [top, bottom), columns [left, right). */
  readonly box: { readonly top: number; readonly left: number; readonly bottom: number; readonly right: number };
}

/** Accumulates predicted patches (amplitude, phase) and averages them. */
export class PatchStitcher {
  private readonly sum: Float64Array;
  private readonly counts: Uint32Array;

  constructor(
    readonly height: number,
    readonly width: number,
    readonly patchSize: number,
    /** Side of the central window used from each patch (≤ patchSize). */
    readonly window: number,
  ) {
    if (window < 1 || window > patchSize) throw new RangeError(`stitch window ${window} must be in [1, ${patchSize}]`);
    this.sum = new Float64Array(2 * height * width);
    this.counts = new Uint32Array(height * width);
  }

  /** Adds one patch given as amplitude and phase arrays (row-major N×N, any stride via `offset`). */
  add(position: ScanPosition, amplitude: ArrayLike<number>, phase: ArrayLike<number>, offset = 0, stride = 1): void {
    const size = this.patchSize;
    const { top, left } = patchCorner(position, size);
    const margin = Math.floor((size - this.window) / 2);
    for (let row = margin; row < margin + this.window; row++) {
      const y = top + row;
      if (y < 0 || y >= this.height) continue;
      for (let column = margin; column < margin + this.window; column++) {
        const x = left + column;
        if (x < 0 || x >= this.width) continue;
        const source = offset + (row * size + column) * stride;
        const a = amplitude[source]!;
        const p = phase[source]!;
        const target = y * this.width + x;
        this.sum[2 * target] = this.sum[2 * target]! + a * Math.cos(p);
        this.sum[2 * target + 1] = this.sum[2 * target + 1]! + a * Math.sin(p);
        this.counts[target] = this.counts[target]! + 1;
      }
    }
  }

  /** The averaged object and its coverage. */
  finish(): StitchedObject {
    const object = createComplexImage(this.height, this.width);
    let top = this.height;
    let left = this.width;
    let bottom = 0;
    let right = 0;
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++) {
        const index = y * this.width + x;
        const count = this.counts[index]!;
        if (count === 0) continue;
        object.data[2 * index] = this.sum[2 * index]! / count;
        object.data[2 * index + 1] = this.sum[2 * index + 1]! / count;
        top = Math.min(top, y);
        left = Math.min(left, x);
        bottom = Math.max(bottom, y + 1);
        right = Math.max(right, x + 1);
      }
    }
    if (bottom === 0) {
      top = 0;
      left = 0;
    }
    return { object, counts: Uint32Array.from(this.counts), box: { top, left, bottom, right } };
  }
}
