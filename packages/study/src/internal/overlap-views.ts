/**
 * Phase D: overlap views and gridsize groups.
 *
 * A view keeps a subset of the scan positions so that no two kept positions are closer than the spacing
 * threshold S = (1 − f)·N (f = the nominal overlap fraction: 0.7 dense, 0.2 sparse). Points are visited in
 * a deterministic greedy order — by y, then x, then original index — and kept when at least S away from
 * every point kept so far. A view with fewer than `minCount` points is rejected (its files are not written).
 *
 * Gridsize-2 groups: each kept position with its 3 nearest neighbours, picked at random (seeded) from its
 * K = 7 nearest, gives C = 4 channels. The groups (lists of scan indices) are the feature signature that
 * finalises the job's identity.
 */
import { SeededRandom } from "@studykit/core";
import type { ScanPosition } from "@studykit/ptycho";

/** Nominal overlap fractions of the two views. */
export const VIEW_OVERLAP = { dense: 0.7, sparse: 0.2 } as const;
export type OverlapViewName = keyof typeof VIEW_OVERLAP;

/** The spacing threshold S = (1 − f)·N. */
export function spacingThreshold(overlapFraction: number, patchSize: number): number {
  return (1 - overlapFraction) * patchSize;
}

/**
 * Greedy spacing filter (see the module doc). Returns the kept indices into `positions`, in visiting order.
 * A uniform grid over the kept points' cells keeps it O(n) for typical densities.
 */
export function selectBySpacing(positions: readonly ScanPosition[], spacing: number): number[] {
  const order = positions.map((_, index) => index);
  order.sort((a, b) => {
    const pa = positions[a]!;
    const pb = positions[b]!;
    return pa.y - pb.y || pa.x - pb.x || a - b;
  });
  if (!(spacing > 0)) return order;
  const cell = spacing;
  const grid = new Map<string, number[]>();
  const kept: number[] = [];
  const spacingSquared = spacing * spacing;
  for (const index of order) {
    const { x, y } = positions[index]!;
    const cellX = Math.floor(x / cell);
    const cellY = Math.floor(y / cell);
    let ok = true;
    search: for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        for (const other of grid.get(`${cellX + dx},${cellY + dy}`) ?? []) {
          const q = positions[other]!;
          if ((q.x - x) ** 2 + (q.y - y) ** 2 < spacingSquared) {
            ok = false;
            break search;
          }
        }
      }
    }
    if (!ok) continue;
    kept.push(index);
    const key = `${cellX},${cellY}`;
    const bucket = grid.get(key);
    if (bucket) bucket.push(index);
    else grid.set(key, [index]);
  }
  return kept;
}

/** Options of {@link buildGroups}. */
export interface GroupOptions {
  /** Patterns per group (gridsize²); 1 gives one group per position. */
  readonly groupSize: number;
  /** Nearest-neighbour candidates the partners are drawn from (K). */
  readonly candidates: number;
  readonly seed: number;
}

/**
 * One group per position: the position itself first, then `groupSize − 1` partners drawn without
 * replacement (seeded) from its `candidates` nearest neighbours (ties by index). Indices refer to
 * `positions`. With fewer than `groupSize` positions in all, no group can be formed and none is returned.
 */
export function buildGroups(positions: readonly ScanPosition[], options: GroupOptions): number[][] {
  const { groupSize, candidates, seed } = options;
  if (groupSize === 1) return positions.map((_, index) => [index]);
  if (positions.length < groupSize) return [];
  const random = SeededRandom.derive(seed, `groups/${groupSize}/${candidates}`);
  const groups: number[][] = [];
  const k = Math.max(groupSize - 1, Math.min(candidates, positions.length - 1));
  for (let anchor = 0; anchor < positions.length; anchor++) {
    const { x, y } = positions[anchor]!;
    // The k nearest by (distance, index), kept sorted by insertion: O(n·k) per anchor, no full sort.
    const best: { index: number; distance: number }[] = [];
    for (let other = 0; other < positions.length; other++) {
      if (other === anchor) continue;
      const q = positions[other]!;
      const distance = (q.x - x) ** 2 + (q.y - y) ** 2;
      if (best.length === k && distance >= best[k - 1]!.distance) continue;
      let slot = best.length;
      while (slot > 0 && best[slot - 1]!.distance > distance) slot -= 1;
      best.splice(slot, 0, { index: other, distance });
      if (best.length > k) best.pop();
    }
    const pool = best.map((entry) => entry.index);
    const group = [anchor];
    for (let pick = 0; pick < groupSize - 1; pick++) {
      const chosen = random.nextInt(pool.length);
      group.push(pool[chosen]!);
      pool.splice(chosen, 1);
    }
    groups.push(group);
  }
  return groups;
}
