/**
 * Public PIE sweep: the fused per-position update of ePIE / rPIE (exit wave, FFT, modulus constraint,
 * inverse FFT, object and optional probe update) over a list of positions in one call. Argument checks
 * with typed errors, then the addon's kernel (`ptycho_update.rs`: the element-wise passes vectorised with
 * AVX2 where the CPU has it, the addon's FFT) or the pure-TS fallback. Both get the same checked arguments,
 * so they fail with the same codes and messages, and agree to rounding.
 *
 * Layout (what `@studykit/ptycho` keeps): object `objectHeight × objectWidth` and probe `n × n` complex128
 * interleaved `(re, im)` row-major; `measured` holds `count × n × n` float32 magnitudes in FFT order (zero
 * frequency at (0, 0), i.e. ifftshifted) in |FFT2(ψ)| units (the centred amplitudes times n); `corners` the
 * `(top, left)` of each position's patch.
 */
import { NativeError, PieErrorCode } from "./errors.js";
import { activeBinding } from "./internal/loader.js";
import { fallbackPieSweepKernels } from "./internal/pie-sweep-fallback.js";
import { callNative, fromNativeError } from "./internal/typed-errors.js";

/** ePIE (Maiden & Rodenburg 2009) or rPIE (Maiden, Johnson & Li 2017). */
export type PieRule = "epie" | "rpie";

/** The estimates, the scan and the settings of one {@link pieSweep} call. */
export interface PieSweepArguments {
  /** The object estimate, updated in place. */
  readonly object: Float64Array;
  readonly objectHeight: number;
  readonly objectWidth: number;
  /** The probe estimate (n × n), updated in place when `updateProbe`. */
  readonly probe: Float64Array;
  /** Probe and pattern side, a power of two from 2 to 1024. */
  readonly n: number;
  /** Measured magnitudes of every position of the scan (see the module doc). */
  readonly measured: Float32Array;
  /** `(top, left)` of every position's patch. */
  readonly corners: Int32Array;
  /** Positions to visit, in order (indices into `corners`; repeats allowed). */
  readonly order: Uint32Array;
  readonly rule: PieRule;
  /**
   * ePIE: object step α ∈ (0, 2], O_j += α·conj(P)·Δψ / max|P|²; rPIE: regularisation α ∈ [0, 1],
   * O_j += conj(P)·Δψ / ((1 − α)|P|² + α·max|P|²).
   */
  readonly objectWeight: number;
  /** ePIE: probe step β ∈ (0, 2]; rPIE: regularisation β ∈ [0, 1] (the same forms with O_j and P swapped). */
  readonly probeWeight: number;
  /** Update the probe after each position (from the patch before that position's object update). */
  readonly updateProbe: boolean;
}

const MIN_SIZE = 2;
const MAX_SIZE = 1024;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  return typeof value === "number" ? String(value) : typeof value;
}

function pieError(code: string, message: string): NativeError {
  return new NativeError(code, message);
}

function checkType(value: unknown, name: string, type: { new (length: number): ArrayBufferView; name: string }): void {
  if (!(value instanceof type)) throw pieError(PieErrorCode.Type, `pieSweep ${name} must be a ${type.name}, got ${describe(value)}`);
}

function checkDimension(value: unknown, name: string): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw pieError(PieErrorCode.Shape, `pieSweep ${name} must be a non-negative integer, got ${describe(value)}`);
}

function sharesMemory(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** Every check the kernel relies on, worded as the addon's (`check_sweep` in `ptycho_update.rs`). */
function check(args: PieSweepArguments): void {
  if (typeof args !== "object" || args === null) throw pieError(PieErrorCode.Type, `pieSweep takes one object of arguments, got ${describe(args)}`);
  checkType(args.object, "object", Float64Array);
  checkType(args.probe, "probe", Float64Array);
  checkType(args.measured, "measured", Float32Array);
  checkType(args.corners, "corners", Int32Array);
  checkType(args.order, "order", Uint32Array);
  const arrays: [string, ArrayBufferView][] = [["object", args.object], ["probe", args.probe], ["measured", args.measured], ["corners", args.corners], ["order", args.order]];
  for (let a = 0; a < arrays.length; a++) {
    for (let b = a + 1; b < arrays.length; b++) {
      if (sharesMemory(arrays[a]![1], arrays[b]![1])) throw pieError(PieErrorCode.Type, `pieSweep ${arrays[a]![0]} and ${arrays[b]![0]} share memory; pass separate arrays`);
    }
  }
  if (args.rule !== "epie" && args.rule !== "rpie") throw pieError(PieErrorCode.Weight, `pieSweep rule must be "epie" or "rpie", got ${describe(args.rule)}`);
  if (typeof args.updateProbe !== "boolean") throw pieError(PieErrorCode.Type, `pieSweep updateProbe must be true or false, got ${describe(args.updateProbe)}`);
  const { n, objectHeight, objectWidth } = args;
  checkDimension(n, "n");
  checkDimension(objectHeight, "objectHeight");
  checkDimension(objectWidth, "objectWidth");
  if (n < MIN_SIZE || n > MAX_SIZE || (n & (n - 1)) !== 0) {
    throw pieError(PieErrorCode.Shape, `probe side n = ${n} is not a power of two between ${MIN_SIZE} and ${MAX_SIZE}; pad or crop patterns and probe to 2^k`);
  }
  const pixels = n * n;
  if (args.probe.length !== 2 * pixels) throw pieError(PieErrorCode.Shape, `probe holds ${args.probe.length} values but an ${n} × ${n} complex probe needs ${2 * pixels}`);
  if (args.object.length !== 2 * objectHeight * objectWidth) {
    throw pieError(PieErrorCode.Shape, `object holds ${args.object.length} values but a ${objectHeight} × ${objectWidth} complex object needs ${2 * objectHeight * objectWidth}`);
  }
  if (args.corners.length % 2 !== 0) throw pieError(PieErrorCode.Shape, `corners holds ${args.corners.length} values, not (top, left) pairs`);
  const count = args.corners.length / 2;
  if (args.measured.length !== count * pixels) {
    throw pieError(PieErrorCode.Shape, `measured holds ${args.measured.length} values but ${count} positions of ${n} × ${n} patterns need ${count * pixels}`);
  }
  const { corners, order } = args;
  for (let step = 0; step < order.length; step++) {
    const index = order[step]!;
    if (index >= count) throw pieError(PieErrorCode.Position, `order names position ${index} but the scan has ${count} positions`);
    const top = corners[2 * index]!;
    const left = corners[2 * index + 1]!;
    if (top < 0 || left < 0 || top + n > objectHeight || left + n > objectWidth) {
      throw pieError(PieErrorCode.Position, `position ${index}: its ${n} × ${n} patch at (top ${top}, left ${left}) is not inside the ${objectHeight} × ${objectWidth} object`);
    }
  }
  const rule = args.rule;
  for (const [name, weight] of [["objectWeight", args.objectWeight], ["probeWeight", args.probeWeight]] as const) {
    const ok = typeof weight === "number" && (rule === "epie" ? weight > 0 && weight <= 2 : weight >= 0 && weight <= 1);
    if (!ok) throw pieError(PieErrorCode.Weight, `${name} for ${rule === "epie" ? "ePIE" : "rPIE"} must be in ${rule === "epie" ? "(0, 2]" : "[0, 1]"}, got ${describe(weight)}`);
  }
}

function positional(args: PieSweepArguments) {
  return [args.object, args.objectHeight, args.objectWidth, args.probe, args.n, args.measured, args.corners, args.order, args.rule, args.objectWeight, args.probeWeight, args.updateProbe] as const;
}

/**
 * Runs the positions `order` one after the other (see {@link PieSweepArguments} for the update rules),
 * updating `object` (and `probe`) in place; returns Σ(|FFT2(ψ)| − M)² over the visited positions, each
 * against the estimates it was updated from. Native when the addon loads, pure TypeScript otherwise
 * (same results to rounding); deterministic either way.
 *
 * Throws a `NativeError` with code `E_PIE_TYPE`, `E_PIE_SHAPE`, `E_PIE_POSITION` or `E_PIE_WEIGHT` (see
 * `PieErrorCode`) for bad arguments, before anything is modified.
 */
export function pieSweep(args: PieSweepArguments): number {
  check(args);
  if (args.order.length === 0) return 0;
  const binding = activeBinding();
  if (!binding) return fallbackPieSweepKernels.pieSweep(...positional(args));
  return callNative(() => binding.pieSweep(...positional(args)));
}

/**
 * {@link pieSweep} off the main thread (a libuv worker); do not touch the arrays until it settles. The
 * fallback computes on the calling thread before resolving. Bad arguments reject with the same errors.
 */
export async function pieSweepAsync(args: PieSweepArguments): Promise<number> {
  check(args);
  if (args.order.length === 0) return 0;
  const binding = activeBinding();
  if (!binding) return fallbackPieSweepKernels.pieSweep(...positional(args));
  let pending: Promise<number>;
  try {
    pending = binding.pieSweepAsync(...positional(args));
  } catch (error) {
    throw fromNativeError(error);
  }
  try {
    return await pending;
  } catch (error) {
    throw fromNativeError(error);
  }
}
