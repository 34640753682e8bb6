/**
 * `epie` suite: iterative ptychographic reconstruction, `@studykit/ptycho`'s ePIE (the native fused
 * `pieSweep` kernel) against a straightforward numpy ePIE (`python/epie_peer.py`), in position updates per
 * second. Issue 20's goal: at least 10× numpy, with a final error no worse than numpy's + 1%.
 *
 * Both get the same data and the same algorithm: the quick study preset's geometry (192 × 192 procedural
 * object, 32 × 32 defocused probe from `@studykit/study`, ptycho's forward model with seeded photon noise at a
 * dose of 1e4), 2000 random scan positions, 20 iterations, the known probe, step α = 1, a flat starting
 * object, and the same position order per iteration (data's `shuffledOrder`, passed to python). Each
 * repetition is a whole reconstruction. The final errors are the last iteration's normalised Fourier
 * error Σ(|F(ψ)| − M)² / Σ M², accumulated during the sweep; ours is reported `failed` when it exceeds
 * numpy's by more than 1% (a fast wrong reconstruction is not a result).
 */
import { join } from "node:path";
import { saveNpz, shuffledOrder } from "@studykit/data";
import * as native from "@studykit/native";
import { patchCorner, reconstruct, simulateDiffraction, type PtychoProblem, type ScanPosition } from "@studykit/ptycho";
import { generateObject, generateProbe } from "@studykit/study";
import { GroupBuilder, onThreads } from "../measure.js";
import { findPythonWith, numbersField, runPythonScript } from "../python-peer.js";
import type { SuiteResult } from "../../results.js";
import { planArguments, repeatPlan, type SuiteContext } from "../suite-context.js";

/** ePIE updates one position after another: one thread on both sides (numpy's FFT is single-threaded). */
const ONE_THREAD = onThreads(1);

/** How much worse than numpy's our final error may be (relative). */
const ERROR_MARGIN = 0.01;

/** ePIE's object step (the published default); the probe is known and never updated. */
const ALPHA = 1;

interface Geometry {
  readonly size: number;
  readonly objectSide: number;
  readonly positions: number;
  readonly iterations: number;
  readonly dose: number;
}

const FULL: Geometry = { size: 32, objectSide: 192, positions: 2000, iterations: 20, dose: 1e4 };
const QUICK: Geometry = { size: 16, objectSide: 64, positions: 60, iterations: 2, dose: 1e4 };

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

/** Seeded photon counts: Poisson by multiplying uniforms below a mean of 30, a rounded normal above. */
function photonSampler(seed: number): (mean: number) => number {
  const uniform = uniformSource(seed);
  return (mean) => {
    if (!(mean > 0)) return 0;
    if (mean < 30) {
      const limit = Math.exp(-mean);
      let product = uniform();
      let count = 0;
      while (product > limit) {
        count += 1;
        product *= uniform();
      }
      return count;
    }
    const normal = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal));
  };
}

/** The simulated scan: quick-preset object and probe, random positions with an N/2 margin, noisy amplitudes. */
function simulatedScan(geometry: Geometry): PtychoProblem {
  const { size, objectSide } = geometry;
  const object = generateObject({ height: objectSide, width: objectSide, seed: 20, featureSize: size });
  const probe = generateProbe({ size, apertureFraction: 0.3, defocusRadians: -12 });
  const uniform = uniformSource(21);
  const span = objectSide - size;
  const positions: ScanPosition[] = Array.from({ length: geometry.positions }, () => ({ x: size / 2 + uniform() * span, y: size / 2 + uniform() * span }));
  const { amplitudes } = simulateDiffraction(probe, object, positions, { dose: geometry.dose, noise: photonSampler(22) });
  return { amplitudes, positions, probe, objectHeight: objectSide, objectWidth: objectSide, source: "epie suite scan" };
}

/** Writes what the numpy peer needs: the same amplitudes, probe, patch corners and position orders. */
function writePeerInput(file: string, problem: PtychoProblem, iterations: number, seed: number): void {
  const count = problem.positions.length;
  const size = problem.probe.width;
  const corners = problem.positions.map((position) => patchCorner(position, size));
  const orders = new Int32Array(iterations * count);
  for (let iteration = 0; iteration < iterations; iteration++) orders.set(shuffledOrder(count, seed, iteration), iteration * count);
  saveNpz(file, {
    amplitudes: { data: Float32Array.from(problem.amplitudes), shape: [count, size, size] },
    probe: { data: problem.probe.data, shape: [size, size], complex: true },
    object_shape: Int32Array.of(problem.objectHeight, problem.objectWidth),
    tops: Int32Array.from(corners, (corner) => corner.top),
    lefts: Int32Array.from(corners, (corner) => corner.left),
    orders: { data: orders, shape: [iterations, count] },
    alpha: { data: Float64Array.of(ALPHA), shape: [] },
  });
}

function implementationDetail(): string {
  try {
    const status = native.nativeStatus();
    return status.implementation === "native" ? `pieSweep: native addon ${status.version ?? ""}`.trim() : "pieSweep: pure-TS fallback (addon not loaded)";
  } catch (error) {
    return `native unavailable: ${(error as Error).message.split("\n")[0]}`;
  }
}

export async function runEpieSuite(context: SuiteContext): Promise<SuiteResult> {
  const started = performance.now();
  const geometry = context.quick ? QUICK : FULL;
  const { size, objectSide, positions, iterations } = geometry;
  const seed = 0;
  const plan = repeatPlan(context, "slow");
  const updates = positions * iterations;
  const group = new GroupBuilder({
    id: `epie-${size}`,
    title: `ePIE, known probe: ${positions} positions of ${size} × ${size} on a ${objectSide} × ${objectSide} object, ${iterations} iterations (${updates} position updates)`,
    kind: "time",
    work: { amount: updates, unit: "updates" },
    log: context.log,
  });
  const problem = simulatedScan(geometry);
  const scanFile = join(context.scratchDir, "epie-scan.npz");
  writePeerInput(scanFile, problem, iterations, seed);

  let numpyError: number | null = null;
  await group.run({ id: "numpy-epie", label: "numpy ePIE (complex128, one position at a time)", role: "peer", parallelism: ONE_THREAD }, async () => {
    const python = await findPythonWith("numpy");
    const answer = await runPythonScript(python, "epie_peer.py", [...planArguments(plan), scanFile], 1_800_000);
    const errors = numbersField(answer, "errors");
    if (errors.length !== iterations) throw new Error(`epie_peer.py reported ${errors.length} iteration errors, expected ${iterations}`);
    numpyError = errors.at(-1)!;
    return { samples: numbersField(answer, "samples"), detail: `${String(answer.version)}, python ${python.pythonVersion}` };
  });

  let oursError: number | null = null;
  const options = { algorithm: "epie", iterations, seed, objectWeight: ALPHA } as const;
  await group.time({ id: "studykit-epie", label: "studykit ePIE (ptycho reconstruct, native pieSweep)", role: "ours", parallelism: ONE_THREAD }, plan, async () => {
    // Untimed check run (it also warms up): the final error must be no worse than numpy's + 1%.
    const check = await reconstruct(problem, options);
    oursError = check.fourierError.at(-1)!;
    if (numpyError !== null && !(oursError <= numpyError * (1 + ERROR_MARGIN))) {
      throw new Error(`final Fourier error ${oursError.toExponential(4)} is worse than numpy's ${(numpyError as number).toExponential(4)} + ${ERROR_MARGIN * 100}%`);
    }
    return { run: () => reconstruct(problem, options), detail: implementationDetail() };
  });

  const shown = (value: number | null) => (value === null ? "not measured" : value.toExponential(4));
  group.note(`final normalised Fourier error after ${iterations} iterations: studykit ${shown(oursError)}, numpy ${shown(numpyError)} (ours must be ≤ numpy's + ${ERROR_MARGIN * 100}%)`);
  group.note("same scan, probe, corners and position order on both sides; each repetition reconstructs from a flat object");
  const groups = [group.finish([{ kind: "ratio", ours: "studykit-epie", peer: "numpy-epie", atLeast: 10 }])];
  return { suite: "epie", wallSeconds: (performance.now() - started) / 1000, groups, notes: [] };
}
