/**
 * `pinn` suite: one physics-informed (PtychoPINN) training step with the gridsize-2 overlap constraint,
 * the ONNX Runtime engine against PyTorch CPU running the same graph (`python/pinn_peer.py`), in samples/s.
 * Issue 21's goal: at least 1.0× PyTorch on the reference model (64 × 64, C = 4, batch 16, 2 threads).
 *
 * Both sides get the same problem from one npz: ours' initial weights (model seed 7), the batch of measured
 * amplitudes, the per-sample channel offsets (fractional, within the canvas padding), the complex probe, the
 * intensity scale and Adam's settings. The graph is the same op for op: network → amplitude/phase heads →
 * O = A·e^{iφ} → bilinear translation matrices from the offsets → canvas Σ shifted patches / max(Σ shifted
 * masks, 1e-3) → patches cut back out → × probe → orthonormal DFT with fftshift → I = scale·|F|² → Poisson
 * NLL → backward → Adam. PyTorch runs the DFT two ways, as rows of their own: `torch.fft.fft2` (its
 * fastest; also with each ×2 upsample + 3×3 conv at the low resolution, as ours' blocked training graph
 * computes it) and the DFT as real matrix products (ours' op). The losses of both sides' first two steps from
 * the shared weights must agree (the second checks gradients and the Adam update too); if they do not, the
 * two graphs differ and the suite fails instead of reporting a ratio between different computations.
 */
import { join } from "node:path";
import { saveNpz, type WritableArray } from "@studykit/data";
import { BenchErrorCode, PeerMismatchError } from "../../errors.js";
import * as trainer from "@studykit/trainer";
import { ptychoModelPreset, type PtychoModelName } from "@studykit/study";
import type { EngineHyperparameters, ModelDescription, PhysicsLoss, TrainingBatch } from "@studykit/trainer";
import { ContenderAbsentError, GroupBuilder, onThreads, timeRepeated, type RepeatPlan } from "../measure.js";
import { findPythonWith, numbersField, runPythonScript } from "../python-peer.js";
import type { ComparisonGroup, SuiteResult } from "../../results.js";
import { planArguments, type SuiteContext } from "../suite-context.js";
import { describeRewrite, subpixelRewrite, THREADS } from "./model-contender.js";

/** Error code of a peer whose graph computes other numbers than ours: the suite fails, not the row. */

/** How far the first two steps' losses may differ (relative): float32 sums in another order, nothing more. */
const LOSS_TOLERANCE = { first: 1e-4, second: 1e-3 } as const;

const LEARNING_RATE = 1e-3;
const ADAM = { kind: "adam", beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } as const;

/** Interleaved measuring rounds of a full run: ours, then each PyTorch variant, in the same order. */
const ROUNDS = 3;

interface Workload {
  readonly id: string;
  readonly model: PtychoModelName;
  readonly size: number;
  readonly channels: number;
  readonly batch: number;
  readonly padding: number;
  /** One network per pattern of a group (the study's gridsize-2 PINN jobs) instead of one over C channels. */
  readonly perPattern?: boolean;
  /** The overlap average's weights (the study's: `probeIntensity`). */
  readonly weighting?: "uniform" | "probeIntensity";
  /** Held to ≥ 1.0× every PyTorch variant. */
  readonly goal: boolean;
  readonly plan: RepeatPlan;
}

const FULL: readonly Workload[] = [
  { id: "pinn-reference-model", model: "reference", size: 64, channels: 4, batch: 16, padding: 8, goal: true, plan: { warmup: 1, repetitions: 4, minRepetitions: 2, budgetSeconds: 8 } },
  // The full preset's gridsize-2 PINN step as the study runs it: the reference network per pattern, 8 groups
  // (its batch of 32 patterns), the probe-weighted canvas with P = N.
  { id: "pinn-full-study-step", model: "reference", size: 64, channels: 4, batch: 8, padding: 64, perPattern: true, weighting: "probeIntensity", goal: true, plan: { warmup: 1, repetitions: 4, minRepetitions: 2, budgetSeconds: 8 } },
  // The quick preset's: the strided compact network per pattern, 4 groups (its batch of 16 patterns), P = N.
  { id: "pinn-quick-study-step", model: "compactStrided", size: 32, channels: 4, batch: 4, padding: 32, perPattern: true, weighting: "probeIntensity", goal: true, plan: { warmup: 2, repetitions: 10, minRepetitions: 3, budgetSeconds: 3 } },
  { id: "pinn-tiny-model", model: "tiny", size: 32, channels: 4, batch: 16, padding: 4, goal: false, plan: { warmup: 2, repetitions: 10, minRepetitions: 3, budgetSeconds: 3 } },
];
const QUICK: readonly Workload[] = [
  { id: "pinn-tiny-model", model: "tiny", size: 16, channels: 4, batch: 4, padding: 2, goal: false, plan: { warmup: 1, repetitions: 2, minRepetitions: 1, budgetSeconds: 1 } },
  { id: "pinn-quick-study-step", model: "compactStrided", size: 16, channels: 4, batch: 2, padding: 16, perPattern: true, weighting: "probeIntensity", goal: false, plan: { warmup: 1, repetitions: 2, minRepetitions: 1, budgetSeconds: 1 } },
];


/** xorshift32 in [0, 1): inputs only need to be the same on both sides (they are passed in the npz). */
function uniformSource(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

interface Problem {
  readonly description: ModelDescription;
  readonly loss: PhysicsLoss;
  readonly batch: TrainingBatch;
}

function buildProblem(work: Workload): Problem {
  const description = ptychoModelPreset(work.model)({ size: work.size, channels: work.channels, seed: 7, ...(work.perPattern ? { perPattern: true } : {}) });
  const uniform = uniformSource(11);
  const pixels = work.size * work.size;
  // A random complex probe and measured amplitudes in [0, 2): the cost of a step does not depend on them.
  const probe = { height: work.size, width: work.size, real: Float32Array.from({ length: pixels }, uniform), imag: Float32Array.from({ length: pixels }, () => uniform() - 0.5) };
  const loss: PhysicsLoss = { kind: "physics", objective: "poissonNll", probe, intensityScale: 1, fftshift: true, overlap: { canvasPadding: work.padding, weighting: work.weighting ?? "uniform" } };
  const span = 2 * (work.padding - 0.5);
  const batch: TrainingBatch = {
    count: work.batch,
    inputs: Float32Array.from({ length: work.batch * pixels * work.channels }, () => 2 * uniform()),
    // Fractional offsets within the padding, as a group's scan positions relative to its centre are.
    offsets: Float32Array.from({ length: work.batch * work.channels * 2 }, () => (uniform() - 0.5) * span),
  };
  return { description, loss, batch };
}

/** The npz pinn_peer.py reads: ours' initial weights (HWIO), the batch, offsets, probe and settings. */
function writePeerProblem(file: string, work: Workload, problem: Problem): void {
  const arrays: Record<string, WritableArray> = {};
  const weights = trainer.initialWeights(problem.description);
  weights.forEach((weight, k) => (arrays[`weight_${k}`] = { data: weight.values, shape: weight.shape }));
  const scalar = (value: number) => ({ data: Float64Array.of(value), shape: [] });
  Object.assign(arrays, {
    weight_count: scalar(weights.length),
    model: { data: [work.model], shape: [1] },
    inputs: { data: problem.batch.inputs, shape: [work.batch, work.size, work.size, work.channels] },
    offsets: { data: problem.batch.offsets!, shape: [work.batch, work.channels, 2] },
    probe_real: { data: problem.loss.probe.real, shape: [work.size, work.size] },
    probe_imag: { data: problem.loss.probe.imag, shape: [work.size, work.size] },
    padding: scalar(work.padding),
    per_pattern: scalar(work.perPattern ? 1 : 0),
    weighting: { data: [work.weighting ?? "uniform"], shape: [1] },
    intensity_scale: scalar(problem.loss.intensityScale),
    fftshift: scalar(problem.loss.fftshift ? 1 : 0),
    learning_rate: scalar(LEARNING_RATE),
    beta1: scalar(ADAM.beta1),
    beta2: scalar(ADAM.beta2),
    epsilon: scalar(ADAM.epsilon),
  });
  saveNpz(file, arrays);
}

const PEERS = [
  { id: "pytorch-cpu", dft: "fft", subpixel: false, label: "PyTorch CPU (torch.fft.fft2)" },
  { id: "pytorch-cpu-subpixel", dft: "fft", subpixel: true, label: "PyTorch CPU, sub-pixel upsample + conv (torch.fft.fft2)" },
  { id: "pytorch-cpu-dft-matmul", dft: "matmul", subpixel: false, label: "PyTorch CPU (DFT as matmul, ours' op)" },
] as const;

function checkLosses(work: Workload, label: string, ours: readonly number[], peer: readonly number[]): void {
  const tolerances = [LOSS_TOLERANCE.first, LOSS_TOLERANCE.second];
  tolerances.forEach((tolerance, step) => {
    const [a, b] = [ours[step]!, peer[step]!];
    if (!(Math.abs(a - b) <= tolerance * Math.max(Math.abs(a), Math.abs(b)))) {
      throw new PeerMismatchError(
        BenchErrorCode.GraphMismatch,
        `${work.id}: ${label}'s loss at step ${step + 1} is ${String(b)}, ours ${String(a)} (relative tolerance ${tolerance}): python/pinn_peer.py no longer computes the trainer's physics graph; make it match the overlap/probe/DFT/NLL of training-graph.ts`,
      );
    }
  });
}

async function measureWorkload(context: SuiteContext, work: Workload): Promise<{ group: ComparisonGroup; lossNote: string }> {
  const problem = buildProblem(work);
  const parameters = trainer.countParameters(problem.description);
  const group = new GroupBuilder({
    id: work.id,
    title: `PINN training step (forward, overlap constraint, probe, DFT, Poisson NLL, backward, Adam) of the ${work.model} model${work.perPattern ? " per pattern" : ""}, ${work.size}×${work.size}×${work.channels}, batch ${work.batch}, canvas padding ${work.padding}${work.weighting === "probeIntensity" ? " (probe-weighted average)" : ""}, ${THREADS} threads`,
    kind: "time",
    work: { amount: work.batch, unit: "samples" },
    log: context.log,
  });
  const file = join(context.scratchDir, `${work.id}.npz`);
  writePeerProblem(file, work, problem);

  const rounds = context.quick ? 1 : ROUNDS;
  const hyper: EngineHyperparameters = { loss: problem.loss, optimizer: ADAM };
  const engine = trainer.createOnnxTrainingEngine({ executionProviders: ["cpu"], replicas: THREADS, intraOpNumThreads: 1 });
  const oursSamples: number[] = [];
  const oursLosses: number[] = [];
  let oursDetail = "";
  let oursLayout: string | undefined;
  let oursFailure: string | null = null;
  const peerState = PEERS.map(() => ({ samples: [] as number[], detail: "", failure: null as { kind: "absent" | "failed"; reason: string } | null, losses: [] as number[] }));
  try {
    try {
      await engine.init(problem.description, trainer.initialWeights(problem.description), hyper);
      const info = engine.info;
      oursLayout = info.layout;
      oursDetail = `${info.backend}, ${info.replicas ?? 1} replicas × ${info.threads} thread${info.threads === 1 ? "" : "s"}${info.layout ? `, ${info.layout} layout` : ""}`;
      // The first two steps from the shared weights (untimed): their losses are compared with PyTorch's.
      for (let step = 0; step < 2; step++) oursLosses.push(await engine.trainStep(problem.batch, LEARNING_RATE));
    } catch (error) {
      oursFailure = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    }
    for (let round = 0; round < rounds; round++) {
      if (oursFailure === null) {
        try {
          oursSamples.push(...(await timeRepeated(() => engine.trainStep(problem.batch, LEARNING_RATE), work.plan)));
        } catch (error) {
          oursFailure = error instanceof Error ? error.message.split("\n")[0]! : String(error);
        }
      }
      for (const [k, peer] of PEERS.entries()) {
        const state = peerState[k]!;
        if (state.failure) continue;
        let answer: Record<string, unknown>;
        try {
          const python = await findPythonWith("torch");
          answer = await runPythonScript(python, "pinn_peer.py", [...planArguments(work.plan), "--threads", String(THREADS), "--dft", peer.dft, ...(peer.subpixel ? ["--subpixel"] : []), file], 600_000);
          state.samples.push(...numbersField(answer, "samples"));
          state.losses = numbersField(answer, "losses");
          state.detail = `torch ${String(answer.torch)}, ${String(answer.threads)} threads, ${peer.dft === "fft" ? "torch.fft.fft2 + fftshift" : "DFT as 2 real matmuls per axis and part"}`;
        } catch (error) {
          state.failure = { kind: error instanceof ContenderAbsentError ? "absent" : "failed", reason: error instanceof Error ? error.message.split("\n")[0]! : String(error) };
          continue;
        }
        if (answer.parameters !== parameters) {
          throw new PeerMismatchError(BenchErrorCode.GraphMismatch, `${work.id}: PyTorch's ${work.model} model has ${String(answer.parameters)} parameters, studykit's ${parameters}: make pinn_peer.py build the trainer's model`);
        }
        if (oursLosses.length === 2) checkLosses(work, peer.label, oursLosses, state.losses);
      }
    }
  } finally {
    await engine.dispose();
  }

  // ONNX Runtime's training graph computes ×2 upsample + 3×3 conv pairs at the low resolution in its blocked layout.
  const oursRewrite = subpixelRewrite(problem.description, "train", oursLayout);
  const oursSpec = {
    id: "onnxruntime-cpu",
    label: "ONNX Runtime CPU (studykit trainer)",
    role: "ours" as const,
    parallelism: onThreads(THREADS, 1, `${THREADS} replicas × 1 thread`),
    ...(oursRewrite ? { computes: describeRewrite(oursRewrite) } : {}),
  };
  const peerRewrite = subpixelRewrite(problem.description, "train", "all");
  if (oursFailure !== null && oursSamples.length === 0) group.addUnavailable(oursSpec, "failed", oursFailure);
  else group.addSamples(oursSpec, oursSamples, oursDetail);
  for (const [k, peer] of PEERS.entries()) {
    const state = peerState[k]!;
    const spec = { id: peer.id, label: peer.label, role: "peer" as const, parallelism: onThreads(THREADS), ...(peer.subpixel && peerRewrite ? { computes: describeRewrite(peerRewrite) } : {}) };
    if (state.failure && state.samples.length === 0) group.addUnavailable(spec, state.failure.kind, state.failure.reason);
    else group.addSamples(spec, state.samples, state.detail);
  }
  if (rounds > 1) group.note(`Ours and each PyTorch variant ran in ${rounds} interleaved rounds (PyTorch a fresh process each round, warm-up runs discarded in each), so a slow spell of the host falls on all of them alike.`);
  const shown = (values: readonly number[]) => (values.length === 2 ? values.map((v) => v.toPrecision(7)).join(", ") : "not measured");
  const lossNote = `${work.id}: losses of the first two steps from the shared weights: ours ${shown(oursLosses)}; ${PEERS.map((peer, k) => `${peer.label} ${shown(peerState[k]!.losses)}`).join("; ")} (must agree to ${LOSS_TOLERANCE.first} / ${LOSS_TOLERANCE.second} relative).`;
  group.note(lossNote);
  const goals = work.goal ? PEERS.map((peer) => ({ kind: "ratio" as const, ours: "onnxruntime-cpu", peer: peer.id, atLeast: 1.0 })) : [];
  return { group: group.finish(goals), lossNote };
}

export async function runPinnSuite(context: SuiteContext): Promise<SuiteResult> {
  const started = performance.now();
  const groups: ComparisonGroup[] = [];
  for (const work of context.quick ? QUICK : FULL) groups.push((await measureWorkload(context, work)).group);
  const notes = [
    "Same model description (per pattern where the row says so: one network for each of a group's C patterns, shared weights, as the study's gridsize-2 PINN jobs) and initial weights (model seed 7), batch, offsets, probe and Adam settings (lr 1e-3, β 0.9/0.999, ε 1e-7) on both sides, passed to PyTorch in one npz. The overlap constraint is the trainer's: bilinear translation matrices built from the offsets, canvas = Σ shifted W·patches / max(Σ shifted W, 1e-3) with W = 1 or, in the probe-weighted rows, |P|²/max|P|², patches cut back out, then × probe, orthonormal DFT with fftshift, intensity, Poisson NLL.",
    // Measured on a 2-core VM: 1.95× (reference row) in the least-loaded run, 2.2-6.9× at load averages of 3-6.
    "When other processes share the cores, PyTorch's two OpenMP threads (which wait for each other after every op) slow far more than ONNX Runtime's two independent single-threaded replicas, so the ratios grow with the host's load: quote them from a quiet host (see the machine's load average).",
  ];
  return { suite: "pinn", wallSeconds: (performance.now() - started) / 1000, groups, notes };
}
