import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildGroups, selectBySpacing, spacingThreshold } from "./overlap-views.js";
import { randomScanPositions } from "./scan-positions.js";

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
