import { describe, expect, it } from "vitest";
import { STUDY_LAYOUT, replicateSeed } from "./study-layout.js";

describe("replicates in the layout", () => {
  it("replicate 0 keeps the study's seed and root, so one replicate reproduces the study as it was", () => {
    expect(replicateSeed(20251122, 0)).toBe(20251122);
    expect(STUDY_LAYOUT.replicateRoot(0)).toBe("");
    expect(STUDY_LAYOUT.replicateRoot(3)).toBe("replicates/r3");
  });

  it("gives every other replicate its own deterministic seed, distinct from the study's and each other's", () => {
    const seeds = Array.from({ length: 50 }, (_, index) => replicateSeed(20251122, index + 1));
    expect(new Set([20251122, ...seeds]).size).toBe(51);
    for (const seed of seeds) expect(Number.isSafeInteger(seed) && seed >= 0).toBe(true);
    expect(replicateSeed(20251122, 7)).toBe(seeds[6]);
    // Another study seed gives other replicate seeds.
    expect(replicateSeed(1, 1)).not.toBe(replicateSeed(2, 1));
    expect(() => replicateSeed(1, -1)).toThrow(RangeError);
  });
});
