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

/**
 * Disjoint scans of one spacing: the spacing filter (see {@link selectBySpacing}) keeps a first scan, then
 * runs again on the positions no earlier scan took, and so on, until `maxScans` scans are taken (null: until
 * every position is in one). Every scan on its own keeps the view's spacing, so groups drawn inside one scan
 * overlap as that view does; the scans together hold more distinct patterns than one scan. Returns each
 * scan's indices into `positions`, in visiting order; the first is exactly `selectBySpacing`'s result.
 */
export function partitionBySpacing(positions: readonly ScanPosition[], spacing: number, maxScans: number | null): number[][] {
  const scans: number[][] = [];
  let remaining = positions.map((_, index) => index);
  while (remaining.length > 0 && (maxScans === null || scans.length < maxScans)) {
    const kept = selectBySpacing(remaining.map((index) => positions[index]!), spacing).map((slot) => remaining[slot]!);
    scans.push(kept);
    const taken = new Set(kept);
    remaining = remaining.filter((index) => !taken.has(index));
  }
  return scans;
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
    const pool = nearestNeighbours(positions, anchor, k);
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

/** Options of {@link sampleGroups}. */
export interface GroupSamplingOptions {
  /** Patterns per group, C = gridsize² (≥ 2). */
  readonly groupSize: number;
  /** K: each group is an anchor and C − 1 of its K nearest neighbours. */
  readonly candidates: number;
  /** Groups wanted (fewer come back when the view has fewer distinct acceptable groups). */
  readonly count: number;
  /** A group is accepted only when every member's offset from the group centre is ≤ this, per axis (pixels). */
  readonly maxOffset: number;
  readonly seed: number;
}

/** What {@link sampleGroups} returns. */
export interface SampledGroups {
  /** Indices into the positions, anchor first, the partners in drawn order. */
  readonly groups: number[][];
  /** `[groups, C, 2]` flattened: each member's (x, y) from the group centre, whole pixels (see {@link groupOffsets}). */
  readonly offsets: Float32Array;
  /** Distinct groups drawn and rejected because a member lay beyond `maxOffset`. */
  readonly rejected: number;
  /** Distinct acceptable groups the view holds at most (anchors × K-choose-(C − 1), less the rejected ones once all were drawn). */
  readonly available: number;
}

/**
 * A group's member offsets from its centre: x = xcoord − round(mean xcoords), y likewise (whole pixels for
 * whole-pixel positions, so a translation by them is exact). Offset 0 puts a patch at the canvas centre.
 */
export function groupOffsets(positions: readonly ScanPosition[], group: readonly number[]): number[] {
  let sumX = 0;
  let sumY = 0;
  for (const index of group) {
    sumX += positions[index]!.x;
    sumY += positions[index]!.y;
  }
  const centreX = Math.round(sumX / group.length);
  const centreY = Math.round(sumY / group.length);
  return group.flatMap((index) => [positions[index]!.x - centreX, positions[index]!.y - centreY]);
}

/** The k nearest by (distance, index), kept sorted by insertion: O(n·k) per anchor, no full sort. */
function nearestNeighbours(positions: readonly ScanPosition[], anchor: number, k: number): number[] {
  const { x, y } = positions[anchor]!;
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
  return best.map((entry) => entry.index);
}

/** Every (size)-subset of 0..n−1, as index lists in lexicographic order. */
function combinations(n: number, size: number): number[][] {
  const out: number[][] = [];
  const current: number[] = [];
  const visit = (start: number): void => {
    if (current.length === size) {
      out.push([...current]);
      return;
    }
    for (let value = start; value <= n - (size - current.length); value++) {
      current.push(value);
      visit(value + 1);
      current.pop();
    }
  };
  visit(0);
  return out;
}

/**
 * Gridsize-C groups with K-choose-C oversampling (PtychoPINN's grouping): every position anchors up to
 * C(K, C − 1) distinct groups (itself and C − 1 of its K nearest neighbours). Rounds visit the anchors in a
 * seeded order and give each its next unused combination (combinations in a seeded order per anchor), so
 * the groups spread evenly over the view until `count` are accepted or every combination is used. A group
 * with a member farther than `maxOffset` from the group centre (per axis) does not fit the canvas: it is
 * rejected and counted, and the anchor moves on to its next combination.
 */
export function sampleGroups(positions: readonly ScanPosition[], options: GroupSamplingOptions): SampledGroups {
  const { groupSize, candidates, count, maxOffset, seed } = options;
  if (groupSize < 2) throw new RangeError(`sampleGroups needs groups of at least 2, got ${groupSize}`);
  if (positions.length < groupSize || count < 1) return { groups: [], offsets: new Float32Array(0), rejected: 0, available: 0 };
  const k = Math.max(groupSize - 1, Math.min(candidates, positions.length - 1));
  const random = SeededRandom.derive(seed, `group-sampling/${groupSize}/${k}`);
  const subsets = combinations(k, groupSize - 1);
  const anchors = positions.map((_, index) => index);
  // A seeded order of anchors and, per anchor, of its combinations (lazily, as anchors come up).
  const anchorOrder = random.permutation(anchors.length);
  const queues = new Map<number, { neighbours: number[]; order: Uint32Array; next: number }>();
  const groups: number[][] = [];
  const offsets: number[] = [];
  let rejected = 0;
  let live = anchors.length;
  const exhausted = new Uint8Array(anchors.length);
  while (groups.length < count && live > 0) {
    for (const anchor of anchorOrder) {
      if (groups.length >= count) break;
      if (exhausted[anchor]) continue;
      let queue = queues.get(anchor);
      if (!queue) {
        queue = { neighbours: nearestNeighbours(positions, anchor, k), order: SeededRandom.derive(seed, "group-sampling/anchor", anchor).permutation(subsets.length), next: 0 };
        queues.set(anchor, queue);
      }
      // The anchor's next combination that fits the canvas.
      let accepted = false;
      while (queue.next < queue.order.length && !accepted) {
        const subset = subsets[queue.order[queue.next]!]!;
        queue.next += 1;
        const group = [anchor, ...subset.map((slot) => queue!.neighbours[slot]!)];
        const groupOffset = groupOffsets(positions, group);
        if (groupOffset.some((value) => Math.abs(value) > maxOffset)) {
          rejected += 1;
          continue;
        }
        groups.push(group);
        offsets.push(...groupOffset);
        accepted = true;
      }
      if (queue.next >= queue.order.length) {
        exhausted[anchor] = 1;
        live -= 1;
      }
    }
  }
  const available = live === 0 ? groups.length : anchors.length * subsets.length - rejected;
  return { groups, offsets: Float32Array.from(offsets), rejected, available };
}

/**
 * The groups of a training view of several scans: `count` groups shared out over the scans by their size
 * (largest remainders; a scan of fewer than `groupSize` positions gets none; what a scan cannot give goes
 * to the others), each scan's drawn by {@link sampleGroups} among its own positions only (scan k with
 * seed + k, so one scan gives exactly the one-scan groups). Indices are rows of the view's npz, whose rows are
 * the scans one after the other; offsets `[groups][C][2]`.
 */
export function sampleScanGroups(
  positions: readonly ScanPosition[],
  scans: readonly (readonly number[])[],
  options: { groupSize: number; candidates: number; count: number; maxOffset: number; seed: number },
): { groups: number[][]; offsets: number[][][]; rejected: number } {
  // Scans too small for one group get none; the others share all `count` by size.
  const size = (scan: readonly number[]): number => (scan.length >= options.groupSize ? scan.length : 0);
  const total = scans.reduce((sum, scan) => sum + size(scan), 0);
  const exact = scans.map((scan) => (total > 0 ? (options.count * size(scan)) / total : 0));
  const shares = exact.map(Math.floor);
  const byRemainder = exact.map((value, scan) => ({ scan, remainder: value - Math.floor(value) })).sort((a, b) => b.remainder - a.remainder || a.scan - b.scan);
  const left = options.count - shares.reduce((sum, share) => sum + share, 0);
  for (let index = 0; index < left; index++) shares[byRemainder[index]!.scan]! += 1;
  // A scan that holds fewer acceptable groups than its share leaves the rest to the scans that still have
  // some (largest first, one at a time), until `count` are drawn or every scan is used up. A larger count
  // only extends a scan's draw (sampleGroups is incremental), so shares can grow without redrawing.
  const draw = (index: number, count: number) => sampleGroups(scans[index]!.map((position) => positions[position]!), { groupSize: options.groupSize, candidates: options.candidates, count, maxOffset: options.maxOffset, seed: options.seed + index });
  let drawn = scans.map((_, index) => (shares[index]! > 0 ? draw(index, shares[index]!) : null));
  const bySize = scans.map((_, index) => index).filter((index) => size(scans[index]!) > 0).sort((a, b) => scans[b]!.length - scans[a]!.length || a - b);
  for (;;) {
    const got = drawn.reduce((sum, sample) => sum + (sample?.groups.length ?? 0), 0);
    // A scan that gave all it was asked for may have more.
    const open = bySize.filter((index) => (drawn[index]?.groups.length ?? 0) === shares[index]!);
    if (got >= options.count || open.length === 0) break;
    for (const index of scans.keys()) shares[index] = drawn[index]?.groups.length ?? 0;
    for (let k = 0; k < options.count - got; k++) shares[open[k % open.length]!]! += 1;
    drawn = drawn.map((sample, index) => (open.includes(index) ? draw(index, shares[index]!) : sample));
  }
  const groups: number[][] = [];
  const offsets: number[][][] = [];
  let rejected = 0;
  let firstRow = 0;
  scans.forEach((scan, index) => {
    const sampled = drawn[index];
    if (sampled) {
      sampled.groups.forEach((group, g) => {
        groups.push(group.map((member) => firstRow + member));
        offsets.push(group.map((_, member) => [sampled.offsets[(g * options.groupSize + member) * 2]!, sampled.offsets[(g * options.groupSize + member) * 2 + 1]!]));
      });
      rejected += sampled.rejected;
    }
    firstRow += scan.length;
  });
  return { groups, offsets, rejected };
}
