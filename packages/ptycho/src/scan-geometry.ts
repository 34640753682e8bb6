/**
 * Scan geometry shared by simulation and reconstruction.
 *
 * A scan position is the centre of the illuminated N×N patch in object pixels (x = column, y = row), as
 * Phase C stores `xcoords` / `ycoords`. The patch's top-left corner is (round(y) − ⌊N/2⌋, round(x) − ⌊N/2⌋):
 * positions are rounded to whole pixels, both when simulating and when reconstructing, so the two use the
 * same patches. (Sub-pixel positions are not Fourier-shifted: the study's positions are whole pixels by
 * construction, and a file's real positions are simulated at their rounded values; the reconstruction
 * records this choice and the largest rounding residual.)
 *
 * Overlap f between neighbouring positions is expressed, as in the study, by the spacing S = (1 − f)·N.
 */
import { PtychoError, PtychoErrorCode } from "./errors.js";

/** A scan position: the centre of the illuminated patch, in object pixels. */
export interface ScanPosition {
  readonly x: number;
  readonly y: number;
}

/** How the reconstruction places patches (recorded in every result). */
export const POSITION_HANDLING = "rounded-to-nearest-pixel" as const;

/** Top-left corner of the `size`×`size` patch centred at `position` (rounded to whole pixels). */
export function patchCorner(position: ScanPosition, size: number): { top: number; left: number } {
  const half = Math.floor(size / 2);
  return { top: Math.round(position.y) - half, left: Math.round(position.x) - half };
}

/** Spacing S = (1 − f)·N between neighbouring positions for overlap fraction f and patch size N. */
export function overlapSpacing(overlap: number, size: number): number {
  if (!(overlap >= 0 && overlap < 1)) throw new PtychoError(PtychoErrorCode.Option, `overlap must be in [0, 1), got ${overlap}`);
  return (1 - overlap) * size;
}

/**
 * A raster scan whose neighbours are S = (1 − overlap)·N apart: centres from N/2 to the far edge − N/2 in
 * both axes (rounded to whole pixels), row by row. The patches stay inside the object.
 */
export function rasterScanPositions(options: { readonly objectHeight: number; readonly objectWidth: number; readonly size: number; readonly overlap: number }): ScanPosition[] {
  const { objectHeight, objectWidth, size } = options;
  const step = overlapSpacing(options.overlap, size);
  const half = Math.floor(size / 2);
  const axis = (extent: number): number[] => {
    const last = extent - size + half;
    if (last < half) throw new PtychoError(PtychoErrorCode.Shape, `a ${size}×${size} patch does not fit in an object dimension of ${extent} pixels`);
    const centres: number[] = [];
    for (let index = 0; half + index * step <= last + 1e-9; index++) centres.push(Math.round(half + index * step));
    return centres;
  };
  const rows = axis(objectHeight);
  const columns = axis(objectWidth);
  const positions: ScanPosition[] = [];
  for (const y of rows) for (const x of columns) positions.push({ x, y });
  return positions;
}

/** The largest distance between a position and its rounded pixel, over all positions (0 for whole pixels). */
export function maxRoundingResidual(positions: readonly ScanPosition[]): number {
  let largest = 0;
  for (const position of positions) largest = Math.max(largest, Math.hypot(position.x - Math.round(position.x), position.y - Math.round(position.y)));
  return largest;
}

/**
 * Throws `E_PTYCHO_POSITION_OUTSIDE` (naming `source`, the first few offending indices and their values)
 * when a position's patch leaves the object, and `E_PTYCHO_NON_FINITE` for a NaN or infinite coordinate.
 */
export function checkPositionsInside(positions: readonly ScanPosition[], size: number, objectHeight: number, objectWidth: number, source = "<positions>"): void {
  const outside: string[] = [];
  let count = 0;
  for (let index = 0; index < positions.length; index++) {
    const position = positions[index]!;
    if (!Number.isFinite(position.x) || !Number.isFinite(position.y)) {
      throw new PtychoError(PtychoErrorCode.NonFinite, `${source}: scan position ${index} is (x = ${position.x}, y = ${position.y}); xcoords and ycoords must be finite pixel coordinates`);
    }
    const { top, left } = patchCorner(position, size);
    if (top < 0 || left < 0 || top + size > objectHeight || left + size > objectWidth) {
      count += 1;
      if (outside.length < 5) outside.push(`${index} (x = ${position.x}, y = ${position.y})`);
    }
  }
  if (count > 0) {
    const half = Math.floor(size / 2);
    throw new PtychoError(
      PtychoErrorCode.PositionOutside,
      `${source}: ${count} scan position(s) put the ${size}×${size} patch outside the ${objectHeight}×${objectWidth} object: ${outside.join(", ")}${count > outside.length ? ", ..." : ""}; ` +
        `xcoords must lie in [${half}, ${objectWidth - size + half}] and ycoords in [${half}, ${objectHeight - size + half}] (drop those positions or pad the object)`,
    );
  }
}

/**
 * The scored region: pixels covered by the central `window`×`window` part of at least one patch (the
 * study's test region uses the same rule, with window N/2), as a 0/1 mask over the object.
 */
export function centralWindowMask(positions: readonly ScanPosition[], size: number, window: number, objectHeight: number, objectWidth: number): Uint8Array {
  if (!Number.isInteger(window) || window < 1 || window > size) throw new PtychoError(PtychoErrorCode.Option, `the scored window must be an integer in [1, ${size}], got ${window}`);
  const mask = new Uint8Array(objectHeight * objectWidth);
  const margin = Math.floor((size - window) / 2);
  for (const position of positions) {
    const { top, left } = patchCorner(position, size);
    for (let row = Math.max(0, top + margin); row < Math.min(objectHeight, top + margin + window); row++) {
      mask.fill(1, row * objectWidth + Math.max(0, left + margin), row * objectWidth + Math.min(objectWidth, left + margin + window));
    }
  }
  return mask;
}
