/**
 * The real-space overlap constraint of the physics loss for grouped samples (gridsize > 1, PtychoPINN's
 * method): the C object patches of a group are placed on one padded canvas at their relative offsets,
 * averaged where they overlap, and cut back out at the same offsets, so that the patches the forward
 * model sees agree wherever their scan positions overlap.
 *
 * Geometry. Patches are N×N (`size`), the canvas M×M with M = N + 2·`padding`. A patch pixel (row j,
 * column k) at offset (dx, dy) lands on the canvas at (j + padding + dy, k + padding + dx): offset 0 puts
 * the patch in the canvas centre, positive dx moves it right (columns), positive dy down (rows). Offsets
 * are `[batch, C, 2]` in pixels, `(x, y)` per patch like the dataset's `xcoords` / `ycoords`.
 *
 * Translation is bilinear and separable: along one axis, patch pixel j contributes to canvas pixel m
 * with weight `max(0, 1 − |m − j − padding − d|)`, an M×N matrix `T(d)` per patch and axis (a
 * permutation for whole-pixel d). So
 *   canvas  = Σ_c T_y(c) · patch_c · T_x(c)ᵀ / max(Σ_c T_y(c) · 1 · T_x(c)ᵀ, δ)     (real and imaginary parts)
 *   patch'_c = T_y(c)ᵀ · canvas · T_x(c)                                              (bilinear sampling)
 * with the mask `1` the patch's whole N×N support. The weights are built in the graph from the offsets
 * input with Sub/Abs/Relu; they depend on data only, so the gradient flows through the MatMuls and the
 * Div alone (existing rules: no new op).
 *
 * Why bilinear and not the Fourier shift theorem: the shifted masks must stay non-negative for the
 * division to be a weighted average, and a Fourier-shifted box rings (Gibbs: ±9 % at its edges, zero
 * crossings outside it), which the division amplifies; bilinear weights are in [0, 1], a whole-pixel
 * shift is an exact permutation, and it is the interpolation PtychoPINN translates with. Its cost is a
 * small low-pass at fractional shifts (a [1 − f, f] kernel), which whole-pixel offsets avoid entirely.
 */
import type { GraphBuilder } from "./graph-builder.js";

/** Canvas pixels whose summed mask is below this count as uncovered (the ratio there is ~0/δ). */
export const OVERLAP_MASK_FLOOR = 1e-3;

export interface OverlapGeometry {
  /** Patch size N (square patches). */
  readonly size: number;
  /** Canvas margin on each side: the canvas is (N + 2·padding)². Must be ≥ every |offset| for no loss. */
  readonly padding: number;
  /**
   * Per-pixel weights `W` of every patch in the average (N×N, row-major, ≥ 0): canvas = Σ T(W·patch) /
   * Σ T(W). Absent: the whole N×N support counts once (`W = 1`).
   */
  readonly weight?: ArrayLike<number>;
}

/**
 * Bilinear translation matrices `T(d)` of one axis for every patch, `[batch, C, M, N]`, from that axis's
 * offsets `[batch, C, 1, 1]`.
 */
function translationMatrices(b: GraphBuilder, offset: string, geometry: OverlapGeometry): string {
  const { size, padding } = geometry;
  const canvas = size + 2 * padding;
  // (m − j − padding) for canvas row m, patch row j.
  const grid = Array.from({ length: canvas * size }, (_, k) => Math.floor(k / size) - (k % size) - padding);
  const distance = b.op("Abs", [b.op("Sub", [b.constFloat(grid, [canvas, size]), offset])]);
  return b.op("Relu", [b.op("Sub", [b.constFloat(1, []), distance])]);
}

/** `x` with its last two axes swapped. */
function swapLast(b: GraphBuilder, x: string): string {
  const rank = b.shape(x).length;
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return b.op("Transpose", [x], { perm });
}

/** The translation matrices of both axes from offsets `[batch, C, 2]` (x then y). */
export function groupTranslations(b: GraphBuilder, offsets: string, geometry: OverlapGeometry): { rows: string; columns: string } {
  const [batch, channels] = b.shape(offsets) as [number, number, number];
  const axis = (k: number): string => b.op("Reshape", [b.op("Slice", [offsets, b.constInt64([k]), b.constInt64([k + 1]), b.constInt64([2])]), b.constInt64([batch, channels, 1, 1])]);
  return { columns: translationMatrices(b, axis(0), geometry), rows: translationMatrices(b, axis(1), geometry) };
}

/** Each patch `[batch, C, N, N]` translated onto its own canvas, `[batch, C, M, M]`: `T_y · patch · T_xᵀ`. */
export function translateToCanvas(b: GraphBuilder, patches: string, translations: { rows: string; columns: string }): string {
  return b.op("MatMul", [b.op("MatMul", [translations.rows, patches]), swapLast(b, translations.columns)]);
}

/**
 * Applies the overlap constraint to complex patches `[batch, C, N, N]` (real and imaginary parts) with
 * offsets `[batch, C, 2]`: the averaged canvas, cut back out at each offset (see the module doc).
 */
export function applyOverlapConstraint(
  b: GraphBuilder,
  real: string,
  imag: string,
  offsets: string,
  geometry: OverlapGeometry,
): { real: string; imag: string; canvasReal: string; canvasImag: string } {
  const t = groupTranslations(b, offsets, geometry);
  const { size } = geometry;
  const weight = geometry.weight === undefined ? undefined : b.constFloat(Array.from(geometry.weight), [size, size]);
  let coverage: string;
  if (weight === undefined) {
    // The mask's translation T_y·1·T_xᵀ is the outer product of the matrices' row sums.
    const rowWeights = b.op("ReduceSum", [t.rows, b.constInt64([3])], { keepdims: 1 });
    const columnWeights = swapLast(b, b.op("ReduceSum", [t.columns, b.constInt64([3])], { keepdims: 1 }));
    coverage = b.op("ReduceSum", [b.op("Mul", [rowWeights, columnWeights]), b.constInt64([1])], { keepdims: 1 });
  } else {
    // T_y·W·T_xᵀ per patch (W broadcast over batch and C), summed over the group.
    coverage = b.op("ReduceSum", [translateToCanvas(b, weight, t), b.constInt64([1])], { keepdims: 1 });
  }
  const denominator = b.op("Max", [coverage, b.constFloat(OVERLAP_MASK_FLOOR, [])]);
  const weighted = (part: string): string => (weight === undefined ? part : b.op("Mul", [part, weight]));
  const canvasOf = (part: string): string => b.op("Div", [b.op("ReduceSum", [translateToCanvas(b, weighted(part), t), b.constInt64([1])], { keepdims: 1 }), denominator]);
  const canvasReal = canvasOf(real);
  const canvasImag = canvasOf(imag);
  // Bilinear sampling at each patch's place: T_yᵀ · canvas · T_x (the canvas broadcast over C).
  const extract = (canvas: string): string => b.op("MatMul", [b.op("MatMul", [swapLast(b, t.rows), canvas]), t.columns]);
  return { real: extract(canvasReal), imag: extract(canvasImag), canvasReal, canvasImag };
}
