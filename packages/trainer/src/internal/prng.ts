/**
 * The one pseudo-random generator studykit's training uses: xoshiro128** (Blackman & Vigna, 2018),
 * seeded through splitmix32.
 *
 * Why our own: both engines (TF.js, ONNX Runtime) and every back end must start from identical initial
 * weights and draw identical shuffles, so randomness cannot come from an engine. The generator is pure
 * 32-bit integer arithmetic (`Math.imul`, shifts), so its stream is the same on every platform.
 *
 * Streams: `Prng.derive(seed, ...labels)` hashes a seed and a path of labels (layer names, "shuffle",
 * epoch numbers) into an independent generator, so adding a layer never shifts another layer's draws.
 */

const UINT32 = 0x1_0000_0000;

/** splitmix32 step: a well-mixed 32-bit output for a 32-bit state (used to expand seeds). */
function splitmix32(state: number): [next: number, output: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [next, z >>> 0];
}

/** FNV-1a over a string's UTF-16 code units, mixed into `hash` (used to fold labels into a seed). */
function foldLabel(hash: number, label: string | number): number {
  const text = typeof label === "number" ? `#${label}` : label;
  let h = (hash ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return splitmix32(h)[1];
}

/** Folds a non-negative integer seed (up to 2^53) into 32 bits without losing its high half. */
function seedTo32(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  }
  const high = Math.floor(seed / UINT32) >>> 0;
  const low = seed >>> 0;
  return (splitmix32(low ^ Math.imul(high, 0x9e3779b1))[1] ^ high) >>> 0;
}

/** A seeded xoshiro128** generator. Not cryptographic. */
export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Cached second Box-Muller value. */
  private spareNormal: number | null = null;

  /** Seeds from a 32-bit-folded integer seed via splitmix32 (never all-zero state). */
  constructor(seed: number) {
    let state = seedTo32(seed);
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(state);
      state = next;
      words.push(out);
    }
    if ((words[0]! | words[1]! | words[2]! | words[3]!) === 0) words[0] = 1;
    this.s0 = words[0]!;
    this.s1 = words[1]!;
    this.s2 = words[2]!;
    this.s3 = words[3]!;
  }

  /** An independent generator for `seed` and a path of labels (e.g. `derive(7, "init", "conv1")`). */
  static derive(seed: number, ...labels: ReadonlyArray<string | number>): Prng {
    let h = seedTo32(seed);
    for (const label of labels) h = foldLabel(h, label);
    return new Prng(h);
  }

  /** Next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Uniform integer in [0, n), without modulo bias (rejection sampling). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > UINT32) throw new RangeError(`nextInt bound must be in 1..2^32, got ${n}`);
    const limit = UINT32 - (UINT32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal draw (Box-Muller; the second value is kept for the next call). */
  nextNormal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.nextFloat();
    const v = this.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = out[i]!;
      out[i] = out[j]!;
      out[j] = tmp;
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
