/**
 * Scan positions for Phase C and the spatial train/test split: the study's sampling design. The patch
 * geometry (which N×N patch a centre illuminates) is `@studykit/ptycho`'s `patchCorner`, shared with the
 * forward model and the reconstruction.
 *
 * Positions are patch centres drawn uniformly inside the object with a buffer of N/2 on every side (so the
 * N×N patch stays inside), rounded to whole pixels so that the ground-truth patches are exact crops. The
 * split is spatial: positions with y below the middle of the y range train, the others test — the test
 * region is never seen in training.
 */
import { SeededRandom } from "@studykit/core";
import { patchCorner, type ScanPosition } from "@studykit/ptycho";

/** Uniform random positions (see the module doc), in draw order. */
export function randomScanPositions(options: {
  readonly objectHeight: number;
  readonly objectWidth: number;
  readonly patchSize: number;
  readonly count: number;
  readonly seed: number;
}): ScanPosition[] {
  const { objectHeight, objectWidth, patchSize, count, seed } = options;
  const half = patchSize / 2;
  const spanY = objectHeight - patchSize;
  const spanX = objectWidth - patchSize;
  if (spanY < 0 || spanX < 0) {
    throw new RangeError(`the ${objectHeight}×${objectWidth} object is smaller than one ${patchSize}×${patchSize} patch`);
  }
  const random = SeededRandom.derive(seed, "scan-positions");
  const positions: ScanPosition[] = [];
  for (let index = 0; index < count; index++) {
    const y = Math.round(half + random.nextDouble() * spanY);
    const x = Math.round(half + random.nextDouble() * spanX);
    positions.push({ x, y });
  }
  return positions;
}

/**
 * Keeps the given positions (e.g. from a real scan) whose patch fits inside the object, rounded to whole
 * pixels. Returns the positions and their indices in the input.
 */
export function fitPositions(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  objectHeight: number,
  objectWidth: number,
  patchSize: number,
): { positions: ScanPosition[]; kept: number[] } {
  const positions: ScanPosition[] = [];
  const kept: number[] = [];
  for (let index = 0; index < xs.length; index++) {
    const x = Math.round(xs[index]!);
    const y = Math.round(ys[index]!);
    const { top, left } = patchCorner({ x, y }, patchSize);
    if (top >= 0 && left >= 0 && top + patchSize <= objectHeight && left + patchSize <= objectWidth) {
      positions.push({ x, y });
      kept.push(index);
    }
  }
  return { positions, kept };
}

/** Indices of the train (y < middle) and test (y ≥ middle) positions, middle = (min y + max y) / 2. */
export function splitByY(positions: readonly ScanPosition[]): { train: number[]; test: number[]; middle: number } {
  let minY = Infinity;
  let maxY = -Infinity;
  for (const position of positions) {
    minY = Math.min(minY, position.y);
    maxY = Math.max(maxY, position.y);
  }
  const middle = (minY + maxY) / 2;
  const train: number[] = [];
  const test: number[] = [];
  positions.forEach((position, index) => (position.y < middle ? train : test).push(index));
  return { train, test, middle };
}
