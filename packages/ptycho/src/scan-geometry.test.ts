import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { centralWindowMask, checkPositionsInside, maxRoundingResidual, patchCorner, rasterScanPositions } from "./scan-geometry.js";

describe("scan geometry", () => {
  it("puts a patch's corner N/2 above and left of the rounded centre", () => {
    expect(patchCorner({ x: 16, y: 16 }, 32)).toEqual({ top: 0, left: 0 });
    expect(patchCorner({ x: 20.4, y: 30.6 }, 32)).toEqual({ top: 15, left: 4 });
  });

  it("spaces raster positions (1 − f)·N apart and keeps every patch inside", () => {
    const dense = rasterScanPositions({ objectHeight: 96, objectWidth: 96, size: 32, overlap: 0.7 });
    const sparse = rasterScanPositions({ objectHeight: 96, objectWidth: 96, size: 32, overlap: 0.2 });
    expect([...new Set(dense.map((position) => position.x))]).toEqual([16, 26, 35, 45, 54, 64, 74]);
    expect([...new Set(sparse.map((position) => position.y))]).toEqual([16, 42, 67]);
    expect(dense).toHaveLength(49);
    expect(() => checkPositionsInside(dense, 32, 96, 96)).not.toThrow();
  });

  it("names the source and the offending positions when a patch leaves the object", () => {
    const positions = [{ x: 16, y: 16 }, { x: 81, y: 40 }, { x: 40, y: 15.4 }];
    let caught: unknown;
    try {
      checkPositionsInside(positions, 32, 96, 96, "scan.npz");
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: "E_PTYCHO_POSITION_OUTSIDE" });
    const message = (caught as Error).message;
    expect(message).toContain("scan.npz");
    expect(message).toContain("1 (x = 81, y = 40)");
    expect(message).toContain("2 (x = 40, y = 15.4)");
    expect(message).toContain("xcoords must lie in [16, 80]");
    expect(() => checkPositionsInside([{ x: Number.NaN, y: 20 }], 32, 96, 96, "scan.npz")).toThrow(expect.objectContaining({ code: "E_PTYCHO_NON_FINITE" }));
  });

  it("reports the largest rounding residual", () => {
    expect(maxRoundingResidual([{ x: 3, y: 4 }])).toBe(0);
    expect(maxRoundingResidual([{ x: 3.3, y: 4 }, { x: 1, y: 1.6 }])).toBeCloseTo(0.4, 12);
  });

  it("marks exactly the pixels inside some position's central window", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(8, 16),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 })), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 8 }),
        (size, draws, windowDraw) => {
          const height = 40;
          const width = 30;
          const window = Math.min(size, windowDraw);
          const positions = draws.map(([a, b]) => ({ x: size / 2 + (a % (width - size + 1)), y: size / 2 + (b % (height - size + 1)) }));
          const mask = centralWindowMask(positions, size, window, height, width);
          const margin = Math.floor((size - window) / 2);
          for (let row = 0; row < height; row++) {
            for (let column = 0; column < width; column++) {
              const inside = positions.some((position) => {
                const top = position.y - size / 2 + margin;
                const left = position.x - size / 2 + margin;
                return row >= top && row < top + window && column >= left && column < left + window;
              });
              if (mask[row * width + column] !== (inside ? 1 : 0)) return false;
            }
          }
          return true;
        },
      ),
      { seed: 4, numRuns: 60 },
    );
  });
});
