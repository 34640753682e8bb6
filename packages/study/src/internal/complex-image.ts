/**
 * Complex 2-D images as the study passes them around: row-major, interleaved (re, im) float64 — the same
 * memory layout as a numpy complex128 array, so they go to and from npz files without reshuffling.
 */

/** A complex image, `data[2 * (y * width + x)]` = real part, `+ 1` = imaginary part. */
export interface ComplexImage {
  readonly height: number;
  readonly width: number;
  readonly data: Float64Array;
}

/** A real image, row-major. */
export interface RealImage {
  readonly height: number;
  readonly width: number;
  readonly data: Float64Array;
}

export function createComplexImage(height: number, width: number): ComplexImage {
  return { height, width, data: new Float64Array(2 * height * width) };
}

/** |z| per pixel. */
export function amplitudeOf(image: ComplexImage): RealImage {
  const out = new Float64Array(image.height * image.width);
  for (let index = 0; index < out.length; index++) {
    out[index] = Math.hypot(image.data[2 * index]!, image.data[2 * index + 1]!);
  }
  return { height: image.height, width: image.width, data: out };
}

/** arg(z) per pixel, in (−π, π]. */
export function phaseOf(image: ComplexImage): RealImage {
  const out = new Float64Array(image.height * image.width);
  for (let index = 0; index < out.length; index++) {
    out[index] = Math.atan2(image.data[2 * index + 1]!, image.data[2 * index]!);
  }
  return { height: image.height, width: image.width, data: out };
}

/** Builds amplitude · exp(i · phase). */
export function fromAmplitudePhase(amplitude: RealImage, phase: RealImage): ComplexImage {
  const out = createComplexImage(amplitude.height, amplitude.width);
  for (let index = 0; index < amplitude.data.length; index++) {
    const a = amplitude.data[index]!;
    const p = phase.data[index]!;
    out.data[2 * index] = a * Math.cos(p);
    out.data[2 * index + 1] = a * Math.sin(p);
  }
  return out;
}

/** Copies the `size`×`size` window with top-left corner (top, left) into `out` (interleaved). */
export function extractPatch(image: ComplexImage, top: number, left: number, size: number, out: Float64Array): void {
  for (let row = 0; row < size; row++) {
    const source = 2 * ((top + row) * image.width + left);
    out.set(image.data.subarray(source, source + 2 * size), 2 * row * size);
  }
}
