/**
 * The study's seeded random source: every random draw of the simulation (object texture, scan positions,
 * photon noise, neighbour selection) comes from here, so the same seed gives bit-identical datasets on every
 * machine. `Math.random` is never used.
 *
 * Generator: xoshiro128** (32-bit state words, fast in JS integer arithmetic); doubles take 53 bits from two
 * outputs. Seeds and stream labels are mixed with splitmix32 so that nearby seeds give unrelated streams.
 */

function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

/** FNV-1a over a label, so that `stream("noise")` and `stream("scan")` of one seed are independent. */
function hashLabel(label: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < label.length; index++) {
    hash ^= label.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A deterministic pseudo-random stream. */
export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  /** `seed` is any integer (taken modulo 2^32 together with its high bits); `label` names the stream. */
  constructor(seed: number, label = "") {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    const low = Math.trunc(seed) >>> 0;
    const high = Math.trunc(seed / 2 ** 32) >>> 0;
    let state = (low ^ Math.imul(high, 0x27d4eb2d) ^ hashLabel(label)) | 0;
    const words: number[] = [];
    for (let index = 0; index < 4; index++) {
      const [next, value] = splitmix32(state);
      state = next;
      words.push(value);
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A derived, independent stream (e.g. one per dose). */
  fork(label: string): SeededRandom {
    return new SeededRandom(this.nextUint32(), label);
  }

  /** Uniform 32-bit unsigned integer. */
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
  nextDouble(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextDouble() * n);
  }

  /** Standard normal draw (Box–Muller, both values used). */
  nextNormal(): number {
    if (this.spareNormal !== null) {
      const value = this.spareNormal;
      this.spareNormal = null;
      return value;
    }
    let u = 0;
    while (u === 0) u = this.nextDouble();
    const v = this.nextDouble();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }

  /**
   * A Poisson draw with mean `lambda`. Small means use inversion by sequential search (exact, a few steps);
   * means ≥ 10 use Hörmann's transformed rejection with squeeze (PTRS, 1993), which is exact and needs
   * about 1.1 uniform pairs per draw whatever the mean.
   */
  nextPoisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda < 10) {
      let probability = Math.exp(-lambda);
      let cumulative = probability;
      const u = this.nextDouble();
      let k = 0;
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
}

function rotl(value: number, shift: number): number {
  return (value << shift) | (value >>> (32 - shift));
}

const LOG_FACTORIAL_TABLE: number[] = (() => {
  const table = [0];
  for (let k = 1; k < 64; k++) table.push(table[k - 1]! + Math.log(k));
  return table;
})();

/** log(k!) — a table below 64, Stirling's series (error < 1e-12 there) above. */
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
