/**
 * Iterative ptychographic reconstruction: ePIE, rPIE and a mini-batch (parallel) variant on the addon's
 * FFT kernels, with a known probe or a probe update from a chosen iteration on.
 *
 * - Positions are scan centres in pixels and are rounded to whole pixels (`positionHandling` in the result
 *   says so, with the largest rounding residual); the patch geometry is the forward model's.
 * - Each iteration visits every position once in a seeded random order (`shuffledOrder(n, seed, iteration)`
 *   of `@studykit/data`); the mini-batch variant cuts that order into batches.
 * - Per iteration: the Fourier-magnitude error Σ(|F(ψ)| − M)² / Σ M² over all positions, accumulated
 *   during the sweep (each position against the estimates it was updated from), and, with a ground truth,
 *   the object error over the central windows of the positions after the iteration (see `objectError`).
 * - Deterministic: the same problem, options and seed give bit-identical estimates; the mini-batch
 *   variant's sums run in a fixed order on the main thread, so its thread count does not change them.
 * - Cancellation through `signal` (checked between positions; the promise rejects with `E_CANCELLED`);
 *   progress after every iteration.
 */
import { shuffledOrder } from "@studykit/data";
import { CancelledError } from "@studykit/native";
import type { ComplexImage } from "./complex-image.js";
import { PtychoError, PtychoErrorCode } from "./errors.js";
import { MinibatchSweep } from "./internal/minibatch-engine.js";
import { PieSweep } from "./internal/pie-engine.js";
import { ifftshiftReal } from "./fft-shift.js";
import { objectError } from "./object-error.js";
import { POSITION_HANDLING, centralWindowMask, checkPositionsInside, maxRoundingResidual, patchCorner, type ScanPosition } from "./scan-geometry.js";

/** The reconstruction algorithms. */
export type ReconstructionAlgorithm = "epie" | "rpie" | "minibatch";

/** Every algorithm name, in the order the CLI lists them. */
export const RECONSTRUCTION_ALGORITHMS: readonly ReconstructionAlgorithm[] = ["epie", "rpie", "minibatch"];

/** The measurements and geometry of one reconstruction. */
export interface PtychoProblem {
  /** Diffraction amplitudes as Phase C stores them (zero frequency centred, `sqrt(I)` with I = |F(ψ)|²/N²), shape (n, N, N). */
  readonly amplitudes: Float32Array | Float64Array;
  /** Scan centres in object pixels, one per pattern. */
  readonly positions: readonly ScanPosition[];
  /** The probe (N×N): the known probe, or the starting estimate when the probe is updated. */
  readonly probe: ComplexImage;
  readonly objectHeight: number;
  readonly objectWidth: number;
  /** The true object, when known (scores every iteration). */
  readonly groundTruth?: ComplexImage | null;
  /** Where the problem came from (named in error messages). */
  readonly source?: string;
}

/** Progress after an iteration. */
export interface ReconstructionProgress {
  /** Iterations done (1-based). */
  readonly iteration: number;
  readonly iterations: number;
  readonly fourierError: number;
  /** Object phase MAE (rad) after this iteration, when a ground truth is given. */
  readonly phaseMae: number | null;
  readonly elapsedMs: number;
}

/** Options of {@link reconstruct}. */
export interface ReconstructOptions {
  /** Default `"epie"`. */
  readonly algorithm?: ReconstructionAlgorithm;
  /** Sweeps over all positions (default 20). */
  readonly iterations?: number;
  /** Seed of the position order (default 0). */
  readonly seed?: number;
  /**
   * Object weight: ePIE's step α (default 1); rPIE's and the mini-batch's regularisation α ∈ [0, 1]
   * (default 0.1 for rPIE, 0.5 for the mini-batch).
   */
  readonly objectWeight?: number;
  /** Probe weight: ePIE's step β (default 1); rPIE's and the mini-batch's regularisation β ∈ [0, 1] (default 1). */
  readonly probeWeight?: number;
  /** The probe is updated from this iteration on (0-based); absent or `null`: the probe is known and kept. */
  readonly probeUpdateFrom?: number | null;
  /** Positions per mini-batch step (mini-batch only; default 32). */
  readonly batchSize?: number;
  /**
   * Threads of the mini-batch variant's transforms (default 2; does not change the result): each half of a
   * batch is transformed on ⌊threads/2⌋ (at least 1) addon threads while the main thread works on the other.
   */
  readonly threads?: number;
  /** Side of each position's central window in the scored region (default ⌊N/2⌋, as the study scores). */
  readonly scoreWindow?: number;
  /** Starting object (default: 1 everywhere). Copied, not modified. */
  readonly initialObject?: ComplexImage;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ReconstructionProgress) => void;
}

/** The parameters a reconstruction ran with (all defaults resolved). */
export interface ReconstructionParameters {
  readonly algorithm: ReconstructionAlgorithm;
  readonly iterations: number;
  readonly seed: number;
  readonly objectWeight: number;
  readonly probeWeight: number;
  readonly probeUpdateFrom: number | null;
  readonly batchSize: number | null;
  readonly threads: number | null;
  readonly scoreWindow: number;
  readonly positionHandling: typeof POSITION_HANDLING;
  /** Largest distance between a given position and the pixel it was rounded to. */
  readonly maxRoundingResidual: number;
  readonly initialObject: "ones" | "given";
}

/** The outcome of {@link reconstruct}. */
export interface ReconstructionResult {
  readonly object: ComplexImage;
  readonly probe: ComplexImage;
  /** The positions as given (centres, pixels). */
  readonly positions: readonly ScanPosition[];
  readonly parameters: ReconstructionParameters;
  /** Normalised Fourier-magnitude error per iteration. */
  readonly fourierError: Float64Array;
  /** Object phase MAE (rad) per iteration, with a ground truth. */
  readonly phaseMae: Float64Array | null;
  /** Object amplitude MAE per iteration, with a ground truth. */
  readonly amplitudeMae: Float64Array | null;
  /** Scored pixels (the central windows), with a ground truth. */
  readonly scoredPixels: number;
  readonly timings: { readonly totalMs: number; readonly positionsPerSecond: number };
}

/** Positions between cancellation checks (and event-loop turns) in the sequential engines. */
const YIELD_EVERY = 128;

function optionError(message: string): PtychoError {
  return new PtychoError(PtychoErrorCode.Option, message);
}

function integerOption(value: number | undefined, fallback: number, name: string, min: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < min) throw optionError(`${name} must be an integer ≥ ${min}, got ${value}`);
  return resolved;
}

function unitOption(value: number | undefined, fallback: number, name: string, algorithm: ReconstructionAlgorithm): number {
  const resolved = value ?? fallback;
  const ok = algorithm === "epie" ? resolved > 0 && resolved <= 2 : resolved >= 0 && resolved <= 1;
  if (!ok || !Number.isFinite(resolved)) throw optionError(`${name} for ${algorithm} must be in ${algorithm === "epie" ? "(0, 2]" : "[0, 1]"}, got ${value}`);
  return resolved;
}

function resolveParameters(problem: PtychoProblem, options: ReconstructOptions, size: number): ReconstructionParameters {
  const algorithm = options.algorithm ?? "epie";
  if (!RECONSTRUCTION_ALGORITHMS.includes(algorithm)) throw optionError(`unknown algorithm '${String(algorithm)}' (known: ${RECONSTRUCTION_ALGORITHMS.join(", ")})`);
  const minibatch = algorithm === "minibatch";
  const probeUpdateFrom = options.probeUpdateFrom ?? null;
  if (probeUpdateFrom !== null) integerOption(probeUpdateFrom, 0, "probeUpdateFrom", 0);
  return {
    algorithm,
    iterations: integerOption(options.iterations, 20, "iterations", 1),
    seed: integerOption(options.seed, 0, "seed", 0),
    objectWeight: unitOption(options.objectWeight, algorithm === "epie" ? 1 : algorithm === "rpie" ? 0.1 : 0.5, "objectWeight", algorithm),
    probeWeight: unitOption(options.probeWeight, 1, "probeWeight", algorithm),
    probeUpdateFrom,
    batchSize: minibatch ? integerOption(options.batchSize, 32, "batchSize", 1) : null,
    threads: minibatch ? integerOption(options.threads, 2, "threads", 1) : null,
    scoreWindow: integerOption(options.scoreWindow, Math.max(1, Math.floor(size / 2)), "scoreWindow", 1),
    positionHandling: POSITION_HANDLING,
    maxRoundingResidual: maxRoundingResidual(problem.positions),
    initialObject: options.initialObject ? "given" : "ones",
  };
}

function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value >= 2 && (value & (value - 1)) === 0;
}

/** Checks the problem's shapes and values; returns N. Every message names the source and the key. */
export function checkProblem(problem: PtychoProblem): number {
  const source = problem.source ?? "<problem>";
  const { probe, positions, amplitudes, objectHeight, objectWidth } = problem;
  const size = probe.width;
  if (probe.height !== size || probe.data.length !== 2 * size * size) {
    throw new PtychoError(PtychoErrorCode.Shape, `${source}: probeGuess must be a square complex image, got ${probe.height}×${probe.width} (${probe.data.length} values)`);
  }
  if (!isPowerOfTwo(size)) throw new PtychoError(PtychoErrorCode.Shape, `${source}: the pattern size N = ${size} is not a power of two, which the FFT kernels need (crop or pad patterns and probe to 2^k)`);
  const pixels = size * size;
  if (amplitudes.length !== positions.length * pixels) {
    throw new PtychoError(
      PtychoErrorCode.Shape,
      `${source}: diff3d holds ${amplitudes.length} values, but ${positions.length} positions of ${size}×${size} patterns (the probe's size) need ${positions.length * pixels}: the patterns, the probe and xcoords/ycoords must describe the same scan`,
    );
  }
  if (positions.length === 0) throw new PtychoError(PtychoErrorCode.Shape, `${source}: the scan has no positions`);
  if (!Number.isSafeInteger(objectHeight) || !Number.isSafeInteger(objectWidth) || objectHeight < size || objectWidth < size) {
    throw new PtychoError(PtychoErrorCode.Shape, `${source}: the object (${objectHeight}×${objectWidth}) must be at least the ${size}×${size} probe`);
  }
  for (let index = 0; index < amplitudes.length; index++) {
    const value = amplitudes[index]!;
    if (!(value >= 0) || value === Infinity) {
      const pattern = Math.floor(index / pixels);
      const pixel = index % pixels;
      throw new PtychoError(
        PtychoErrorCode.NonFinite,
        `${source}: diff3d[${pattern}, ${Math.floor(pixel / size)}, ${pixel % size}] = ${value}; amplitudes must be finite and ≥ 0 (remove or repair that pattern)`,
      );
    }
  }
  for (let index = 0; index < probe.data.length; index++) {
    if (!Number.isFinite(probe.data[index]!)) throw new PtychoError(PtychoErrorCode.NonFinite, `${source}: probeGuess has a non-finite value at pixel ${index >> 1}`);
  }
  checkPositionsInside(positions, size, objectHeight, objectWidth, source);
  const truth = problem.groundTruth;
  if (truth && (truth.height !== objectHeight || truth.width !== objectWidth || truth.data.length !== 2 * objectHeight * objectWidth)) {
    throw new PtychoError(PtychoErrorCode.Shape, `${source}: the ground truth is ${truth.height}×${truth.width} but the object is ${objectHeight}×${objectWidth}`);
  }
  return size;
}

/** Measured magnitudes in FFT order and |F(ψ)| units: ifftshift(A)·N, float32. */
function measuredMagnitudes(amplitudes: Float32Array | Float64Array, count: number, size: number): Float32Array {
  const pixels = size * size;
  const out = new Float32Array(count * pixels);
  for (let index = 0; index < count; index++) {
    ifftshiftReal(amplitudes.subarray(index * pixels, (index + 1) * pixels), out.subarray(index * pixels, (index + 1) * pixels), size, size, size);
  }
  return out;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function throwIfAborted(signal: AbortSignal | undefined, iteration: number): void {
  if (signal?.aborted) throw new CancelledError(`reconstruction cancelled during iteration ${iteration + 1}`, { cause: signal.reason });
}

/** Runs the reconstruction (see the module doc). */
export async function reconstruct(problem: PtychoProblem, options: ReconstructOptions = {}): Promise<ReconstructionResult> {
  const size = checkProblem(problem);
  const parameters = resolveParameters(problem, options, size);
  const { objectHeight, objectWidth } = problem;
  const initial = options.initialObject;
  if (initial && (initial.height !== objectHeight || initial.width !== objectWidth || initial.data.length !== 2 * objectHeight * objectWidth)) {
    throw optionError(`initialObject is ${initial.height}×${initial.width}, the object is ${objectHeight}×${objectWidth}`);
  }
  const started = performance.now();
  const count = problem.positions.length;
  const object: ComplexImage = { height: objectHeight, width: objectWidth, data: initial ? Float64Array.from(initial.data) : new Float64Array(2 * objectHeight * objectWidth) };
  if (!initial) for (let index = 0; index < object.data.length; index += 2) object.data[index] = 1;
  const probe: ComplexImage = { height: size, width: size, data: Float64Array.from(problem.probe.data) };
  const measured = measuredMagnitudes(problem.amplitudes, count, size);
  let measuredEnergy = 0;
  for (let index = 0; index < measured.length; index++) measuredEnergy += measured[index]! * measured[index]!;
  const corners = new Int32Array(2 * count);
  problem.positions.forEach((position, index) => {
    const { top, left } = patchCorner(position, size);
    corners[2 * index] = top;
    corners[2 * index + 1] = left;
  });
  const truth = problem.groundTruth ?? null;
  const mask = truth ? centralWindowMask(problem.positions, size, parameters.scoreWindow, objectHeight, objectWidth) : null;
  const fourierError = new Float64Array(parameters.iterations);
  const phaseMae = truth ? new Float64Array(parameters.iterations) : null;
  const amplitudeMae = truth ? new Float64Array(parameters.iterations) : null;
  let scoredPixels = 0;
  const signal = options.signal;
  let sweepMs = 0;

  const pie = parameters.algorithm === "minibatch" ? null : new PieSweep(object, probe, measured, corners, { kind: parameters.algorithm, objectWeight: parameters.objectWeight, probeWeight: parameters.probeWeight });
  const minibatch =
    parameters.algorithm === "minibatch"
      ? new MinibatchSweep(object, probe, measured, corners, { objectWeight: parameters.objectWeight, probeWeight: parameters.probeWeight }, parameters.batchSize!, parameters.threads!)
      : null;

  for (let iteration = 0; iteration < parameters.iterations; iteration++) {
    throwIfAborted(signal, iteration);
    const sweepStarted = performance.now();
    const order = shuffledOrder(count, parameters.seed, iteration);
    const updateProbe = parameters.probeUpdateFrom !== null && iteration >= parameters.probeUpdateFrom;
    let error = 0;
    if (pie) {
      for (let start = 0; start < count; start += YIELD_EVERY) {
        const end = Math.min(count, start + YIELD_EVERY);
        error += pie.sweep(order.subarray(start, end), updateProbe);
        if (end < count) {
          await yieldToEventLoop();
          throwIfAborted(signal, iteration);
        }
      }
    } else {
      const batchSize = parameters.batchSize!;
      for (let start = 0; start < count; start += batchSize) {
        error += await minibatch!.step(order.subarray(start, Math.min(count, start + batchSize)), updateProbe);
        throwIfAborted(signal, iteration);
      }
    }
    sweepMs += performance.now() - sweepStarted;
    fourierError[iteration] = measuredEnergy > 0 ? error / measuredEnergy : 0;
    if (truth && mask && phaseMae && amplitudeMae) {
      const scored = objectError(truth, object, mask);
      phaseMae[iteration] = scored.phaseMae;
      amplitudeMae[iteration] = scored.amplitudeMae;
      scoredPixels = scored.pixels;
    }
    options.onProgress?.({
      iteration: iteration + 1,
      iterations: parameters.iterations,
      fourierError: fourierError[iteration]!,
      phaseMae: phaseMae ? phaseMae[iteration]! : null,
      elapsedMs: performance.now() - started,
    });
    await yieldToEventLoop();
  }
  const totalMs = performance.now() - started;
  return {
    object,
    probe,
    positions: problem.positions,
    parameters,
    fourierError,
    phaseMae,
    amplitudeMae,
    scoredPixels,
    timings: { totalMs, positionsPerSecond: sweepMs > 0 ? (count * parameters.iterations * 1000) / sweepMs : 0 },
  };
}
