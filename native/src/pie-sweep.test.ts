/**
 * The PIE sweep (addon and pure-TS fallback) against a naive implementation written here from the
 * published rules (complex numbers as pairs, a direct O(n⁴) DFT, a fresh ψ per position), and the addon
 * against the fallback on random sizes, positions, orders and weights. The comparison of the two needs the
 * addon: skipped with a message outside CI, failed under CI.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PieErrorCode, fft2InPlace, hasErrorCode, pieSweep, pieSweepAsync, type PieRule, type PieSweepArguments } from "./index.js";
import { nativeBinding, withBinding } from "./internal/loader.js";
import { skipWithout } from "../../tools/test-dependencies.js";

const native = nativeBinding();
const implementations = [...(native ? [{ name: "native", binding: native }] : []), { name: "fallback", binding: null }] as const;
const noNative = skipWithout({ name: "the native addon", available: native !== null, install: "build it with `npm run build` (needs Rust/cargo)" });

/** mulberry32 in [0, 1). */
function uniformSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

interface Scenario {
  readonly n: number;
  readonly objectHeight: number;
  readonly objectWidth: number;
  readonly object: Float64Array;
  readonly probe: Float64Array;
  readonly measured: Float32Array;
  readonly corners: Int32Array;
  readonly order: Uint32Array;
}

/**
 * A random starting object (amplitude 0.5–1), a probe with a smooth envelope and a random phase (so no
 * far-field pixel is near zero, where two correct transforms may disagree on the phase by more than
 * rounding), random patch corners, magnitudes from another object, and an order with repeats.
 */
function scenario(seed: number, n: number, count: number, steps: number, extraHeight: number, extraWidth: number): Scenario {
  const uniform = uniformSource(seed);
  const objectHeight = n + extraHeight;
  const objectWidth = n + extraWidth;
  const object = new Float64Array(2 * objectHeight * objectWidth);
  for (let pixel = 0; pixel < objectHeight * objectWidth; pixel++) {
    const amplitude = 0.5 + 0.5 * uniform();
    const phase = 2 * uniform() - 1;
    object[2 * pixel] = amplitude * Math.cos(phase);
    object[2 * pixel + 1] = amplitude * Math.sin(phase);
  }
  const probe = new Float64Array(2 * n * n);
  for (let pixel = 0; pixel < n * n; pixel++) {
    const r = Math.floor(pixel / n) - n / 2;
    const c = (pixel % n) - n / 2;
    const envelope = Math.exp(-(r * r + c * c) / (n * n));
    const phase = 6 * uniform();
    probe[2 * pixel] = envelope * Math.cos(phase);
    probe[2 * pixel + 1] = envelope * Math.sin(phase);
  }
  const corners = Int32Array.from({ length: 2 * count }, (_, k) => Math.floor(uniform() * ((k % 2 === 0 ? extraHeight : extraWidth) + 1)));
  // Magnitudes of another random object's exit waves, perturbed by ±10%: close to consistent data, as a
  // reconstruction sees (fully random magnitudes make the iteration chaotic, which amplifies rounding).
  const truth = Float64Array.from({ length: object.length }, () => 2 * uniform() - 1);
  const measured = new Float32Array(count * n * n);
  const wave = new Float64Array(2 * n * n);
  for (let j = 0; j < count; j++) {
    for (let k = 0; k < n * n; k++) {
      const o = 2 * ((corners[2 * j]! + Math.floor(k / n)) * objectWidth + corners[2 * j + 1]! + (k % n));
      wave[2 * k] = probe[2 * k]! * truth[o]! - probe[2 * k + 1]! * truth[o + 1]!;
      wave[2 * k + 1] = probe[2 * k]! * truth[o + 1]! + probe[2 * k + 1]! * truth[o]!;
    }
    fft2InPlace(wave, n, 1);
    for (let k = 0; k < n * n; k++) measured[j * n * n + k] = Math.hypot(wave[2 * k]!, wave[2 * k + 1]!) * (0.9 + 0.2 * uniform());
  }
  const order = Uint32Array.from({ length: steps }, () => Math.floor(uniform() * count));
  return { n, objectHeight, objectWidth, object, probe, measured, corners, order };
}

function argumentsOf(s: Scenario, rule: PieRule, objectWeight: number, probeWeight: number, updateProbe: boolean): PieSweepArguments {
  return { ...s, object: s.object.slice(), probe: s.probe.slice(), rule, objectWeight, probeWeight, updateProbe };
}

/** Direct DFT of an n × n complex image (interleaved); the inverse divides by n². */
function naiveDft(x: Float64Array, n: number, inverse: boolean): Float64Array {
  const out = new Float64Array(2 * n * n);
  const sign = inverse ? 1 : -1;
  for (let k = 0; k < n; k++) {
    for (let l = 0; l < n; l++) {
      let re = 0;
      let im = 0;
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < n; c++) {
          const angle = (sign * 2 * Math.PI * ((k * r + l * c) % n)) / n;
          const xr = x[2 * (r * n + c)]!;
          const xi = x[2 * (r * n + c) + 1]!;
          re += xr * Math.cos(angle) - xi * Math.sin(angle);
          im += xr * Math.sin(angle) + xi * Math.cos(angle);
        }
      }
      const scale = inverse ? 1 / (n * n) : 1;
      out[2 * (k * n + l)] = re * scale;
      out[2 * (k * n + l) + 1] = im * scale;
    }
  }
  return out;
}

/** ePIE / rPIE as the papers write them, one position at a time; returns Σ(|Ψ| − M)². */
function naiveSweep(a: PieSweepArguments): number {
  const { n, objectWidth, object, probe, measured, corners, order } = a;
  const pixels = n * n;
  let error = 0;
  for (const j of order) {
    const top = corners[2 * j]!;
    const left = corners[2 * j + 1]!;
    const at = (k: number) => 2 * ((top + Math.floor(k / n)) * objectWidth + left + (k % n));
    const patch = new Float64Array(2 * pixels);
    const psi = new Float64Array(2 * pixels);
    for (let k = 0; k < pixels; k++) {
      patch[2 * k] = object[at(k)]!;
      patch[2 * k + 1] = object[at(k) + 1]!;
      psi[2 * k] = probe[2 * k]! * patch[2 * k]! - probe[2 * k + 1]! * patch[2 * k + 1]!;
      psi[2 * k + 1] = probe[2 * k]! * patch[2 * k + 1]! + probe[2 * k + 1]! * patch[2 * k]!;
    }
    const far = naiveDft(psi, n, false);
    for (let k = 0; k < pixels; k++) {
      const m = measured[j * pixels + k]!;
      const magnitude = Math.hypot(far[2 * k]!, far[2 * k + 1]!);
      error += (magnitude - m) ** 2;
      far[2 * k] = magnitude > 0 ? (far[2 * k]! * m) / magnitude : m;
      far[2 * k + 1] = magnitude > 0 ? (far[2 * k + 1]! * m) / magnitude : 0;
    }
    const corrected = naiveDft(far, n, true);
    let pMax = 0;
    let oMax = 0;
    for (let k = 0; k < pixels; k++) {
      pMax = Math.max(pMax, probe[2 * k]! ** 2 + probe[2 * k + 1]! ** 2);
      oMax = Math.max(oMax, patch[2 * k]! ** 2 + patch[2 * k + 1]! ** 2);
    }
    const alpha = a.objectWeight;
    const beta = a.probeWeight;
    for (let k = 0; k < pixels; k++) {
      const dr = corrected[2 * k]! - psi[2 * k]!;
      const di = corrected[2 * k + 1]! - psi[2 * k + 1]!;
      const pr = probe[2 * k]!;
      const pi = probe[2 * k + 1]!;
      const or = patch[2 * k]!;
      const oi = patch[2 * k + 1]!;
      const objectStep = a.rule === "epie" ? alpha / pMax : 1 / ((1 - alpha) * (pr * pr + pi * pi) + alpha * pMax);
      object[at(k)] = or + objectStep * (pr * dr + pi * di);
      object[at(k) + 1] = oi + objectStep * (pr * di - pi * dr);
      if (a.updateProbe) {
        const probeStep = a.rule === "epie" ? beta / oMax : 1 / ((1 - beta) * (or * or + oi * oi) + beta * oMax);
        probe[2 * k] = pr + probeStep * (or * dr + oi * di);
        probe[2 * k + 1] = pi + probeStep * (or * di - oi * dr);
      }
    }
  }
  return error;
}

/** Largest absolute difference relative to the largest magnitude in `expected`. */
function relativeDifference(actual: Float64Array, expected: Float64Array): number {
  let peak = Number.MIN_VALUE;
  for (const value of expected) peak = Math.max(peak, Math.abs(value));
  return largestDifference(actual, expected) / peak;
}

function largestDifference(actual: Float64Array, expected: Float64Array): number {
  expect(actual.length).toBe(expected.length);
  let largest = 0;
  for (let index = 0; index < actual.length; index++) largest = Math.max(largest, Math.abs(actual[index]! - expected[index]!));
  return largest;
}

const settings = fc.oneof(
  fc.record({ rule: fc.constant<PieRule>("epie"), objectWeight: fc.double({ min: 0.05, max: 2, noNaN: true }), probeWeight: fc.double({ min: 0.05, max: 2, noNaN: true }) }),
  fc.record({ rule: fc.constant<PieRule>("rpie"), objectWeight: fc.double({ min: 0, max: 1, noNaN: true }), probeWeight: fc.double({ min: 0, max: 1, noNaN: true }) }),
);

describe.each(implementations)("pieSweep ($name)", ({ binding }) => {
  it("follows the published ePIE / rPIE rules (property: sizes, positions, orders, weights)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.constantFrom(2, 4, 8),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 0, max: 9 }),
        settings,
        fc.boolean(),
        (seed, n, count, steps, extraHeight, extraWidth, rule, updateProbe) => {
          const s = scenario(seed, n, count, steps, extraHeight, extraWidth);
          const ours = argumentsOf(s, rule.rule, rule.objectWeight, rule.probeWeight, updateProbe);
          const reference = argumentsOf(s, rule.rule, rule.objectWeight, rule.probeWeight, updateProbe);
          const error = withBinding(binding, () => pieSweep(ours));
          const expected = naiveSweep(reference);
          expect(Math.abs(error / expected - 1)).toBeLessThan(1e-9);
          expect(largestDifference(ours.object, reference.object)).toBeLessThan(1e-8);
          expect(largestDifference(ours.probe, reference.probe)).toBeLessThan(1e-8);
          // The probe changes exactly when asked to.
          expect(largestDifference(ours.probe, s.probe) > 0).toBe(updateProbe);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("leaves every array untouched and names the problem when an argument is bad", () => {
    const s = { ...scenario(3, 4, 3, 4, 2, 3), order: Uint32Array.of(0, 1, 2) };
    const cases: [(good: PieSweepArguments) => Partial<Record<keyof PieSweepArguments, unknown>>, string, RegExp][] = [
      [(good) => ({ object: new Float32Array(good.object.length) }), PieErrorCode.Type, /object must be a Float64Array, got Float32Array/],
      [(good) => ({ order: Int32Array.from(good.order) }), PieErrorCode.Type, /order must be a Uint32Array/],
      [(good) => ({ probe: good.object.subarray(0, 32) }), PieErrorCode.Type, /object and probe share memory/],
      [() => ({ n: 3 }), PieErrorCode.Shape, /n = 3 is not a power of two/],
      [() => ({ probe: new Float64Array(30) }), PieErrorCode.Shape, /probe holds 30 values but an 4 × 4 complex probe needs 32/],
      [() => ({ objectWidth: s.objectWidth + 1 }), PieErrorCode.Shape, /object holds 84 values but a 6 × 8 complex object needs 96/],
      [() => ({ measured: s.measured.subarray(1) }), PieErrorCode.Shape, /measured holds 47 values but 3 positions of 4 × 4 patterns need 48/],
      [() => ({ order: Uint32Array.of(0, 3) }), PieErrorCode.Position, /order names position 3 but the scan has 3 positions/],
      [() => ({ corners: Int32Array.of(0, 0, 0, 0, 3, 0) }), PieErrorCode.Position, /position 2: its 4 × 4 patch at \(top 3, left 0\) is not inside the 6 × 7 object/],
      [() => ({ corners: Int32Array.of(0, 0, 0, -1, 0, 0) }), PieErrorCode.Position, /position 1: .* \(top 0, left -1\)/],
      [() => ({ objectWeight: 0 }), PieErrorCode.Weight, /objectWeight for ePIE must be in \(0, 2\], got 0/],
      [() => ({ rule: "rpie", probeWeight: 1.5 }), PieErrorCode.Weight, /probeWeight for rPIE must be in \[0, 1\], got 1.5/],
      [() => ({ objectWeight: Number.NaN }), PieErrorCode.Weight, /got NaN/],
      [() => ({ rule: "dm" }), PieErrorCode.Weight, /rule must be "epie" or "rpie"/],
      [() => ({ updateProbe: 1 }), PieErrorCode.Type, /updateProbe must be true or false/],
    ];
    for (const [change, code, message] of cases) {
      const good = argumentsOf(s, "epie", 1, 1, true);
      const args = { ...good, ...change(good) } as PieSweepArguments;
      const before = [args.object.slice(), args.probe.slice()];
      let thrown: unknown;
      try {
        withBinding(binding, () => pieSweep(args));
      } catch (error) {
        thrown = error;
      }
      expect(hasErrorCode(thrown) && thrown.code, message.source).toBe(code);
      expect((thrown as Error).message).toMatch(message);
      if (args.object instanceof Float64Array) expect(args.object).toEqual(before[0]);
      if (args.probe instanceof Float64Array) expect(args.probe).toEqual(before[1]);
    }
  });

  it("gives the same bytes twice, and the async form the same as the sync one", async () => {
    const s = scenario(9, 16, 5, 20, 12, 9);
    const runs = [argumentsOf(s, "rpie", 0.3, 0.9, true), argumentsOf(s, "rpie", 0.3, 0.9, true), argumentsOf(s, "rpie", 0.3, 0.9, true)];
    const errors = [withBinding(binding, () => pieSweep(runs[0]!)), withBinding(binding, () => pieSweep(runs[1]!)), await withBinding(binding, () => pieSweepAsync(runs[2]!))];
    expect(errors[1]).toBe(errors[0]);
    expect(errors[2]).toBe(errors[0]);
    for (const run of runs.slice(1)) {
      expect(Buffer.from(run.object.buffer).equals(Buffer.from(runs[0]!.object.buffer))).toBe(true);
      expect(Buffer.from(run.probe.buffer).equals(Buffer.from(runs[0]!.probe.buffer))).toBe(true);
    }
  });
});

/**
 * The long runs keep the weights inside the stable range: rPIE without regularisation divides each step by
 * the local |P|² (and |O_j|²), and ePIE steps near 2 over-relax (2 reflects), both of which amplify rounding
 * differences step after step (a property of the rules, which the short runs above cover to the limits).
 */
const regularisedSettings = fc.oneof(
  fc.record({ rule: fc.constant<PieRule>("epie"), objectWeight: fc.double({ min: 0.1, max: 1.2, noNaN: true }), probeWeight: fc.double({ min: 0.1, max: 1.2, noNaN: true }) }),
  fc.record({ rule: fc.constant<PieRule>("rpie"), objectWeight: fc.double({ min: 0.2, max: 1, noNaN: true }), probeWeight: fc.double({ min: 0.2, max: 1, noNaN: true }) }),
);

describe.skipIf(noNative)("pieSweep: addon against the fallback", () => {
  it("agree to rounding over sizes up to 64, long orders, both rules, with and without probe update", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.constantFrom(2, 4, 8, 16, 32, 64),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 40 }),
        regularisedSettings,
        fc.boolean(),
        (seed, n, count, steps, extraHeight, extraWidth, rule, updateProbe) => {
          const s = scenario(seed, n, count, steps, extraHeight, extraWidth);
          const addon = argumentsOf(s, rule.rule, rule.objectWeight, rule.probeWeight, updateProbe);
          const fallback = argumentsOf(s, rule.rule, rule.objectWeight, rule.probeWeight, updateProbe);
          const addonError = withBinding(native, () => pieSweep(addon));
          const fallbackError = withBinding(null, () => pieSweep(fallback));
          expect(Math.abs(addonError / fallbackError - 1)).toBeLessThan(1e-6);
          // Rounding (~1e-15 per step) grown over up to 40 steps, where near-zero far-field pixels amplify
          // it; a wrong term shows at 1e-3 or more.
          expect(relativeDifference(addon.object, fallback.object)).toBeLessThan(1e-6);
          expect(relativeDifference(addon.probe, fallback.probe)).toBeLessThan(1e-6);
        },
      ),
      { numRuns: 40 },
    );
  });
});
