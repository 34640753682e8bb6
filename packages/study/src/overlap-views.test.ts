import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildGroups, groupOffsets, partitionBySpacing, sampleGroups, sampleScanGroups, selectBySpacing, spacingThreshold } from "./overlap-views.js";
import { randomScanPositions } from "./internal/scan-positions.js";

const positions = randomScanPositions({ objectHeight: 200, objectWidth: 200, patchSize: 32, count: 400, seed: 1 });

describe("spacing filter", () => {
  it("S = (1 − f)·N", () => {
    expect(spacingThreshold(0.7, 64)).toBeCloseTo(19.2, 10);
    expect(spacingThreshold(0.2, 64)).toBeCloseTo(51.2, 10);
  });

  it("keeps points pairwise ≥ S apart, and every dropped point is within S of a point kept before it", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ x: fc.integer({ min: 0, max: 120 }), y: fc.integer({ min: 0, max: 120 }) }), { maxLength: 80 }), fc.double({ min: 1, max: 40, noNaN: true }), (points, spacing) => {
        const kept = selectBySpacing(points, spacing);
        const keptSet = new Set(kept);
        for (let i = 0; i < kept.length; i++) {
          for (let j = i + 1; j < kept.length; j++) {
            const a = points[kept[i]!]!;
            const b = points[kept[j]!]!;
            expect(Math.hypot(a.x - b.x, a.y - b.y)).toBeGreaterThanOrEqual(spacing);
          }
        }
        // Greedy order is (y, x, index): a dropped point conflicts with a kept point that precedes it.
        const before = (a: number, b: number) => {
          const pa = points[a]!;
          const pb = points[b]!;
          return pa.y - pb.y || pa.x - pb.x || a - b;
        };
        points.forEach((point, index) => {
          if (keptSet.has(index)) return;
          const blocker = kept.find((other) => before(other, index) < 0 && Math.hypot(points[other]!.x - point.x, points[other]!.y - point.y) < spacing);
          expect(blocker).toBeDefined();
        });
      }),
      { numRuns: 200 },
    );
  });

  it("keeps fewer points for the sparse threshold than for the dense one", () => {
    const dense = selectBySpacing(positions, spacingThreshold(0.7, 32));
    const sparse = selectBySpacing(positions, spacingThreshold(0.2, 32));
    expect(dense.length).toBeGreaterThan(sparse.length);
    expect(sparse.length).toBeGreaterThan(0);
  });
});

describe("disjoint scans of one spacing", () => {
  it("partitions the positions into scans each pairwise ≥ S apart, the first being the spacing filter's", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ x: fc.integer({ min: 0, max: 120 }), y: fc.integer({ min: 0, max: 120 }) }), { maxLength: 80 }), fc.double({ min: 1, max: 40, noNaN: true }), (points, spacing) => {
        const scans = partitionBySpacing(points, spacing, null);
        // Every position in exactly one scan.
        expect(scans.flat().sort((a, b) => a - b)).toEqual(points.map((_, index) => index));
        if (points.length > 0) expect(scans[0]).toEqual(selectBySpacing(points, spacing));
        for (const scan of scans)
          for (let i = 0; i < scan.length; i++)
            for (let j = i + 1; j < scan.length; j++) {
              const a = points[scan[i]!]!;
              const b = points[scan[j]!]!;
              expect(Math.hypot(a.x - b.x, a.y - b.y)).toBeGreaterThanOrEqual(spacing);
            }
      }),
      { numRuns: 100 },
    );
  });

  it("stops at maxScans, leaving the remaining positions out", () => {
    const spacing = spacingThreshold(0.7, 32);
    const all = partitionBySpacing(positions, spacing, null);
    expect(all.length).toBeGreaterThan(2);
    expect(partitionBySpacing(positions, spacing, 2)).toEqual(all.slice(0, 2));
  });

  it("draws each group inside one scan, shares the groups by scan size, and one scan gives the one-scan groups", () => {
    const spacing = spacingThreshold(0.7, 32);
    const scans = partitionBySpacing(positions, spacing, 4);
    const options = { groupSize: 4, candidates: 7, count: 120, maxOffset: 1000, seed: 5 };
    const sampled = sampleScanGroups(positions, scans, options);
    expect(sampled.groups).toHaveLength(120);
    // Rows of the view's npz are the scans one after the other.
    const scanOfRow = scans.flatMap((scan, index) => scan.map(() => index));
    const rowPosition = scans.flat();
    const perScan = scans.map(() => 0);
    sampled.groups.forEach((group, g) => {
      expect(new Set(group.map((row) => scanOfRow[row])).size).toBe(1);
      perScan[scanOfRow[group[0]!]!]! += 1;
      expect(sampled.offsets[g]!.flat()).toEqual(groupOffsets(positions, group.map((row) => rowPosition[row]!)));
    });
    const total = scans.reduce((sum, scan) => sum + (scan.length >= 4 ? scan.length : 0), 0);
    perScan.forEach((count, index) => expect(Math.abs(count - (120 * (scans[index]!.length >= 4 ? scans[index]!.length : 0)) / total)).toBeLessThan(1));
    // A scan that holds fewer groups than its share (4 positions: one combination per anchor, 4 groups;
    // share 88·4/44 = 8) leaves the rest to the other scan: all 88 are drawn.
    const small = [Array.from({ length: 40 }, (_, index) => index), [40, 41, 42, 43]];
    const shared = sampleScanGroups(positions, small, { ...options, count: 88 });
    expect(shared.groups).toHaveLength(88);
    expect(shared.groups.filter((group) => group[0]! >= 40)).toHaveLength(4);
    const first = scans.slice(0, 1);
    const one = sampleGroups(first[0]!.map((index) => positions[index]!), options);
    expect(sampleScanGroups(positions, first, options).groups).toEqual(one.groups);
  });
});

describe("gridsize groups", () => {
  it("each group is its anchor plus 3 distinct partners among its 7 nearest neighbours", () => {
    const groups = buildGroups(positions, { groupSize: 4, candidates: 7, seed: 3 });
    expect(groups).toHaveLength(positions.length);
    groups.forEach((group, anchor) => {
      expect(group[0]).toBe(anchor);
      expect(new Set(group).size).toBe(4);
      const a = positions[anchor]!;
      const distances = positions.map((p, index) => ({ index, d: (p.x - a.x) ** 2 + (p.y - a.y) ** 2 })).filter((e) => e.index !== anchor);
      distances.sort((p, q) => p.d - q.d || p.index - q.index);
      const seventh = distances[6]!.d;
      for (const partner of group.slice(1)) {
        expect((positions[partner]!.x - a.x) ** 2 + (positions[partner]!.y - a.y) ** 2).toBeLessThanOrEqual(seventh);
      }
    });
  });

  it("is deterministic for a seed and changes with it", () => {
    const a = buildGroups(positions, { groupSize: 4, candidates: 7, seed: 3 });
    expect(buildGroups(positions, { groupSize: 4, candidates: 7, seed: 3 })).toEqual(a);
    expect(buildGroups(positions, { groupSize: 4, candidates: 7, seed: 4 })).not.toEqual(a);
  });

  it("gridsize 1 groups each position alone; too few positions form no group", () => {
    expect(buildGroups(positions.slice(0, 3), { groupSize: 1, candidates: 7, seed: 1 })).toEqual([[0], [1], [2]]);
    expect(buildGroups(positions.slice(0, 3), { groupSize: 4, candidates: 7, seed: 1 })).toEqual([]);
  });
});

describe("oversampled groups (K choose C)", () => {
  /** The 7 nearest of `anchor` by (distance, index), computed here by a full sort. */
  const nearestSeven = (points: readonly { x: number; y: number }[], anchor: number): Set<number> => {
    const a = points[anchor]!;
    return new Set(
      points
        .map((p, index) => ({ index, d: (p.x - a.x) ** 2 + (p.y - a.y) ** 2 }))
        .filter((entry) => entry.index !== anchor)
        .sort((p, q) => p.d - q.d || p.index - q.index)
        .slice(0, 7)
        .map((entry) => entry.index),
    );
  };
  const view = positions.slice(0, 60);

  it("yields nGroups distinct groups, each an anchor and 3 of its 7 nearest, more groups than positions", () => {
    const sampled = sampleGroups(view, { groupSize: 4, candidates: 7, count: 500, maxOffset: 1000, seed: 5 });
    expect(sampled.groups).toHaveLength(500);
    expect(sampled.rejected).toBe(0);
    expect(new Set(sampled.groups.map((group) => group.join())).size).toBe(500);
    for (const group of sampled.groups) {
      expect(new Set(group).size).toBe(4);
      const allowed = nearestSeven(view, group[0]!);
      for (const partner of group.slice(1)) expect(allowed.has(partner)).toBe(true);
    }
    // Spread over the view: every position anchors groups (500 over 60 anchors: 8 or 9 each).
    const perAnchor = new Map<number, number>();
    for (const group of sampled.groups) perAnchor.set(group[0]!, (perAnchor.get(group[0]!) ?? 0) + 1);
    expect(perAnchor.size).toBe(60);
    expect(Math.min(...perAnchor.values())).toBeGreaterThanOrEqual(8);
    expect(Math.max(...perAnchor.values())).toBeLessThanOrEqual(9);
  });

  it("stops at every distinct group: anchors × C(7, 3)", () => {
    const sampled = sampleGroups(view.slice(0, 10), { groupSize: 4, candidates: 7, count: 10_000, maxOffset: 1000, seed: 5 });
    expect(sampled.groups).toHaveLength(10 * 35);
    expect(sampled.available).toBe(350);
  });

  it("offsets are each member's position less the rounded group mean, and groups beyond the canvas are rejected and counted", () => {
    const maxOffset = 12;
    const all = sampleGroups(view, { groupSize: 4, candidates: 7, count: 60 * 35, maxOffset: 1000, seed: 5 });
    const fitting = all.groups.filter((group) => {
      const cx = Math.round(group.reduce((sum, index) => sum + view[index]!.x, 0) / 4);
      const cy = Math.round(group.reduce((sum, index) => sum + view[index]!.y, 0) / 4);
      return group.every((index) => Math.abs(view[index]!.x - cx) <= maxOffset && Math.abs(view[index]!.y - cy) <= maxOffset);
    });
    const limited = sampleGroups(view, { groupSize: 4, candidates: 7, count: 60 * 35, maxOffset, seed: 5 });
    expect(fitting.length).toBeGreaterThan(0);
    expect(fitting.length).toBeLessThan(all.groups.length);
    expect(limited.groups.length).toBe(fitting.length);
    expect(limited.rejected).toBe(all.groups.length - fitting.length);
    limited.groups.forEach((group, g) => {
      const cx = Math.round(group.reduce((sum, index) => sum + view[index]!.x, 0) / 4);
      const cy = Math.round(group.reduce((sum, index) => sum + view[index]!.y, 0) / 4);
      group.forEach((index, member) => {
        expect(limited.offsets[(g * 4 + member) * 2]).toBe(view[index]!.x - cx);
        expect(limited.offsets[(g * 4 + member) * 2 + 1]).toBe(view[index]!.y - cy);
      });
    });
    expect(groupOffsets([{ x: 10, y: 4 }, { x: 13, y: 4 }, { x: 10, y: 9 }, { x: 14, y: 8 }], [0, 1, 2, 3])).toEqual([-2, -2, 1, -2, -2, 3, 2, 2]);
  });

  it("is deterministic for a seed and changes with it", () => {
    const options = { groupSize: 4, candidates: 7, count: 200, maxOffset: 20, seed: 5 };
    const a = sampleGroups(view, options);
    expect(sampleGroups(view, options)).toEqual(a);
    expect(sampleGroups(view, { ...options, seed: 6 }).groups).not.toEqual(a.groups);
  });
});
