import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Prng } from "./prng.js";

/** Reference xoshiro128** with BigInt arithmetic, written from the published algorithm. */
function referenceXoshiro(state: [bigint, bigint, bigint, bigint], count: number): number[] {
  const M = 0xffffffffn;
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M;
  let [s0, s1, s2, s3] = state;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number((rotl((s1 * 5n) & M, 7n) * 9n) & M));
    const t = (s1 << 9n) & M;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11n);
  }
  return out;
}

describe("Prng", () => {
  it("matches a BigInt xoshiro128** from the same state", () => {
    const prng = new Prng(12345);
    const internal = prng as unknown as { s0: number; s1: number; s2: number; s3: number };
    const state: [bigint, bigint, bigint, bigint] = [internal.s0, internal.s1, internal.s2, internal.s3].map((v) => BigInt(v >>> 0)) as [bigint, bigint, bigint, bigint];
    const expected = referenceXoshiro(state, 100);
    expect(Array.from({ length: 100 }, () => prng.nextUint32())).toEqual(expected);
  });

  it("is reproducible per seed and label path, and independent across labels", () => {
    const draw = (p: Prng) => Array.from({ length: 8 }, () => p.nextUint32());
    expect(draw(Prng.derive(7, "init", "conv1"))).toEqual(draw(Prng.derive(7, "init", "conv1")));
    expect(draw(Prng.derive(7, "init", "conv1"))).not.toEqual(draw(Prng.derive(7, "init", "conv2")));
    expect(draw(new Prng(2 ** 40))).not.toEqual(draw(new Prng(0)));
  });

  it("gives floats in [0, 1) and unbiased permutations", () => {
    fc.assert(fc.property(fc.nat(), fc.integer({ min: 1, max: 200 }), (seed, n) => {
      const p = new Prng(seed);
      const f = p.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      const perm = Array.from(p.permutation(n)).sort((a, b) => a - b);
      expect(perm).toEqual(Array.from({ length: n }, (_, i) => i));
    }));
  });

  it("draws standard normals with mean 0 and variance 1", () => {
    const p = new Prng(1);
    const n = 20000;
    let sum = 0, sq = 0;
    for (let i = 0; i < n; i++) { const z = p.nextNormal(); sum += z; sq += z * z; }
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.04);
  });

  it("rejects bad seeds", () => {
    expect(() => new Prng(-1)).toThrow(RangeError);
    expect(() => new Prng(1.5)).toThrow(RangeError);
  });
});
