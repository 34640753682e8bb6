/**
 * The one seeded pseudo-random generator of studykit: xoshiro128** (Blackman & Vigna, 2018, the current
 * definition whose output scrambles `s[1]`), seeded through splitmix32. The trainer draws initial weights,
 * shuffles and dropout masks from it; the study draws object textures, scan positions, photon noise and
 * neighbour groups. `Math.random` is never used for anything that must reproduce.
 *
 * Why our own: both training engines (TF.js, ONNX Runtime) and every back end must start from identical
 * weights and draw identical shuffles, so randomness cannot come from an engine; and a study's datasets must
 * be bit-identical on every machine. The generator is pure 32-bit integer arithmetic (`Math.imul`, shifts),
 * so its stream is the same on every platform, and it is small enough that a library would add nothing.
 *
 * Seeding:
 *   - `new SeededRandom(seed)`: a non-negative safe integer is folded to 32 bits (high half mixed in), then
 *     four splitmix32 outputs fill the state (never all zero).
 *   - `SeededRandom.derive(seed, ...labels)`: each label (a string, or a number written as `#<n>`) is folded
 *     into the 32-bit seed with FNV-1a over its UTF-16 code units and a splitmix32 finaliser, so a path like
 *     `("init", "conv1", "kernel")` names an independent stream and adding a stream never shifts another.
 *   - `fork(...labels)`: a child stream derived from the parent's next 32-bit output.
 *
 * The trainer's streams (weights, shuffles, dropout) are pinned by the unit tests: changing anything here
 * changes every model initialisation and every bundle.
 */

const UINT32 = 0x1_0000_0000;
/** 2^26 and 2^53: a double in [0, 1) is built from 27 + 26 random bits. */
const TWO_POW_26 = 67_108_864;
const TWO_POW_53 = 9_007_199_254_740_992;
/** Below this mean Poisson draws use inversion; from it on, transformed rejection (PTRS). */
const POISSON_INVERSION_LIMIT = 10;

/** splitmix32 step: a well-mixed 32-bit output for a 32-bit state (used to expand seeds). */
function splitmix32(state: number): [next: number, output: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [next, z >>> 0];
}

/** FNV-1a over a label's UTF-16 code units, mixed into `hash` (folds one label of a derive path). */
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

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * A seeded xoshiro128** stream (not cryptographic). Construct with a seed, or with `derive` for a named
 * independent stream; see the module doc for how seeds and labels are mixed.
 */
export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Second Box-Muller value, returned by the next `nextNormal` call. */
  private spareNormal: number | null = null;

  /** `seed`: a non-negative safe integer (`RangeError` otherwise). */
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

  /** An independent stream for `seed` and a path of labels (e.g. `derive(7, "init", "conv1")`). */
  static derive(seed: number, ...labels: ReadonlyArray<string | number>): SeededRandom {
    let h = seedTo32(seed);
    for (const label of labels) h = foldLabel(h, label);
    return new SeededRandom(h);
  }

  /** A child stream named by `labels`, seeded from this stream's next output (so it advances this one). */
  fork(...labels: ReadonlyArray<string | number>): SeededRandom {
    return SeededRandom.derive(this.nextUint32(), ...labels);
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

  /** Uniform double in [0, 1) with 53 random bits (two outputs). */
  nextDouble(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * TWO_POW_26 + low) / TWO_POW_53;
  }

  /** Uniform integer in [0, n) for n in 1..2^32, without modulo bias (rejection sampling). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > UINT32) throw new RangeError(`nextInt bound must be an integer in 1..2^32, got ${n}`);
    const limit = UINT32 - (UINT32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal draw (Box-Muller; the second value of each pair is returned by the next call). */
  nextNormal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.nextDouble();
    const v = this.nextDouble();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /**
   * A Poisson draw with mean `lambda` (0 for a zero, negative or NaN mean). Means below 10 use inversion by
   * sequential search (exact, a few steps); larger means use Hörmann's transformed rejection with squeeze
   * (PTRS, 1993), which is exact and needs about 1.1 uniform pairs per draw whatever the mean.
   */
  nextPoisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda < POISSON_INVERSION_LIMIT) {
      let probability = Math.exp(-lambda);
      let cumulative = probability;
      const u = this.nextDouble();
      let k = 0;
      // The cap only guards against rounding leaving `cumulative` just below u; P(k ≥ 1000) is nil here.
      while (u > cumulative && k < 1000) {
        k += 1;
        probability *= lambda / k;
        cumulative += probability;
      }
      return k;
    }
    const sqrtLambda = Math.sqrt(lambda);
    const logLambda = Math.log(lambda);
    const b = 0.931 + 2.53 * sqrtLambda;
    const a = -0.059 + 0.02483 * b;
    const inverseAlpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.nextDouble() - 0.5;
      const v = this.nextDouble();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + Math.log(inverseAlpha) - Math.log(a / (us * us) + b) <= -lambda + k * logLambda - logFactorial(k)) {
        return k;
      }
    }
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates, drawing with `nextInt`). */
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

const LOG_FACTORIAL_TABLE: readonly number[] = (() => {
  const table = [0];
  for (let k = 1; k < 64; k++) table.push(table[k - 1]! + Math.log(k));
  return table;
})();

/** log(k!) for a non-negative integer k: a table below 64, Stirling's series (error < 1e-12) above. */
export function logFactorial(k: number): number {
  if (k < LOG_FACTORIAL_TABLE.length) return LOG_FACTORIAL_TABLE[k]!;
  const n = k + 1;
  const inverse = 1 / n;
  const inverseSquared = inverse * inverse;
  return (
    (n - 0.5) * Math.log(n) -
    n +
    0.5 * Math.log(2 * Math.PI) +
    inverse * (1 / 12 - inverseSquared * (1 / 360 - inverseSquared * (1 / 1260 - inverseSquared / 1680)))
  );
}
