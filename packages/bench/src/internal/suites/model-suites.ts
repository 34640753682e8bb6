/**
 * `train` and `infer` suites: samples/s of studykit's models on every engine and back end it offers, side
 * by side with PyTorch CPU on the same architecture (python/torch_peer.py), in three groups: the reference
 * model (425 442 parameters at 64×64, C = 1) at batch 32, and the study's own workload, the tiny model at
 * 32×32, batch 16, with C = 1 and C = 4 (gridsize 2). Unavailable back ends (no GPU, no tfjs-node, no CUDA
 * provider) are listed with the reason the trainer gives. Each engine runs in its own process
 * (model-contender-process.ts) under a time limit, so one very slow back end cannot stall the run.
 *
 * The PyTorch peer starts from exactly our start: the harness exports the initial weights, the batch and
 * its targets to an npz the peer loads, with the same loss and Adam settings (ε 1e-7, not PyTorch's 1e-8);
 * the first training losses of both sides are compared, and a peer that disagrees is reported as failed.
 * Where ONNX Runtime's graphs rewrite ×2 upsample + 3×3 conv as sub-pixel convolutions at the low
 * resolution, the row says so, and a PyTorch peer with the same rewrite stands beside the literal one.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { saveNpz } from "@studykit/data";
import { hasErrorCode } from "@studykit/native";
import { BenchErrorCode, PeerMismatchError } from "../../errors.js";
import * as trainer from "@studykit/trainer";
import { ContenderAbsentError, type ContenderSpec, GroupBuilder, onThreads, type RepeatPlan } from "../measure.js";
import { findPythonWith, numbersField, runPythonScript } from "../python-peer.js";
import type { ComparisonGroup, Goal, Parallelism, SuiteResult } from "../../results.js";
import { planArguments, type SuiteContext } from "../suite-context.js";
import { buildWorkload, describeRewrite, ENGINE_TARGETS, HYPERPARAMETERS, LEARNING_RATE, PROTOCOL_PREFIX, subpixelRewrite, THREADS, type ContenderRequest, type ModelName } from "./model-contender.js";

const CONTENDER_SCRIPT = fileURLToPath(new URL("./model-contender-process.js", import.meta.url));

/** Contender id of TF.js wasm on TF.js's own kernels (the addon's convolutions off). */
const WASM_OWN_KERNELS = "tfjs-wasm-own-kernels";

/** Contender id of ONNX Runtime CPU in one session of THREADS threads (not the default replicas). */
const ORT_ONE_SESSION = "onnxruntime-cpu-one-session";

/** Contender ids of the PyTorch peers: literal upsample + conv, and the same sub-pixel rewrite as ours. */
const PYTORCH = "pytorch-cpu";
const PYTORCH_SUBPIXEL = "pytorch-cpu-subpixel";

/** Error code of a peer model whose parameter count differs from ours: the suite fails, not the row. */

/** Interleaved measuring rounds per contender in a full run (see measureGroup). */
const ROUNDS = 3;

/**
 * The first training steps whose losses PyTorch must reproduce from our start, and how closely: relative
 * difference at most LOSS_TOLERANCE (float32 sums in another order differ by ~1e-6; a wrong loss, start
 * or optimizer setting by far more).
 */
const LOSS_STEPS = 3;
export const LOSS_TOLERANCE = 1e-3;

function modelPlan(context: SuiteContext, mode: "train" | "infer"): RepeatPlan {
  if (context.quick) return { warmup: 1, repetitions: 2, minRepetitions: 1, budgetSeconds: 2 };
  // Two warm-up steps: TF.js and ONNX Runtime compile kernels and plan memory on the first calls.
  return mode === "train" ? { warmup: 2, repetitions: 10, minRepetitions: 2, budgetSeconds: 10 } : { warmup: 3, repetitions: 10, minRepetitions: 3, budgetSeconds: 8 };
}

type ContenderOutcome =
  | { kind: "ok"; samples: number[]; detail: string; note?: string; losses?: number[]; computes?: string; parallelism?: Parallelism }
  | { kind: "absent" | "failed"; reason: string };


/** Measures one engine contender in a fresh process, stopping it after `limitSeconds`. */
function measureInProcess(request: ContenderRequest, limitSeconds: number, env: NodeJS.ProcessEnv = process.env): Promise<ContenderOutcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CONTENDER_SCRIPT, JSON.stringify(request)], { stdio: ["ignore", "pipe", "pipe"], env });
    const samples: number[] = [];
    let final: ContenderOutcome | null = null;
    let buffered = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, limitSeconds * 1000);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith(PROTOCOL_PREFIX)) continue;
        const message = JSON.parse(line.slice(PROTOCOL_PREFIX.length)) as { sample?: number; done?: boolean; detail?: string; losses?: number[]; computes?: string; parallelism?: Parallelism; absent?: string; failed?: string };
        if (typeof message.sample === "number") samples.push(message.sample);
        else if (message.done) {
          final = { kind: "ok", samples, detail: message.detail ?? "", losses: message.losses ?? [], ...(message.computes ? { computes: message.computes } : {}), ...(message.parallelism ? { parallelism: message.parallelism } : {}) };
        }
        else if (message.absent !== undefined) final = { kind: "absent", reason: message.absent };
        else if (message.failed !== undefined) final = { kind: "failed", reason: message.failed };
      }
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (final) return resolve(final);
      if (timedOut && samples.length > 0) {
        return resolve({ kind: "ok", samples, detail: "", note: `stopped at the ${limitSeconds} s time limit after ${samples.length} timed run(s)` });
      }
      if (timedOut) return resolve({ kind: "failed", reason: `no ${request.mode === "train" ? "training step" : "prediction"} finished within the ${limitSeconds} s time limit (slower than ${(request.batchSize / limitSeconds).toFixed(3)} samples/s here)` });
      const tail = stderr.trim().split("\n").slice(-2).join(" | ");
      resolve({ kind: "failed", reason: `contender process exited with ${code ?? signal}${tail ? `: ${tail}` : ""}` });
    });
  });
}


/** One group of a model suite: a model at one shape. */
interface WorkloadSpec {
  readonly model: ModelName;
  readonly size: number;
  readonly batchSize: number;
  readonly channels: number;
  /** Every engine target and variant (`all`), or the study's engines: ONNX Runtime CPU and TF.js wasm. */
  readonly engines: "all" | "study";
}

/**
 * The groups of a model suite: the reference model (the headline, smaller with --quick) and the quick
 * study's own supervised workload, the strided compact model at 32×32, batch 16, C = 1 (small enough to run as is
 * in --quick). The study's gridsize-2 jobs are PINN steps, timed by the pinn suite.
 */
function workloads(context: SuiteContext): WorkloadSpec[] {
  return [
    { model: "reference", size: context.quick ? 16 : 64, batchSize: context.quick ? 4 : 32, channels: 1, engines: "all" },
    { model: "compactStrided", size: 32, batchSize: 16, channels: 1, engines: "study" },
  ];
}

function groupId(mode: "train" | "infer", spec: WorkloadSpec): string {
  return spec.model === "reference" ? `${mode}-reference-model` : `${mode}-${spec.model}-model-c${spec.channels}`;
}

/**
 * Writes the start PyTorch loads (python/torch_peer.py `--start`): the initial weights as studykit stores
 * them (`kernel.<layer>` HWIO, `bias.<layer>`), the batch's inputs and its amplitude / phase targets (NHWC).
 */
function writeStart(path: string, spec: WorkloadSpec): void {
  const work = buildWorkload(spec.size, spec.batchSize, spec.model, spec.channels);
  const shape = [spec.batchSize, spec.size, spec.size, spec.channels];
  const arrays: Record<string, { data: Float32Array; shape: readonly number[] }> = {
    inputs: { data: work.batch.inputs, shape },
    amplitude: { data: work.batch.amplitude!, shape },
    phase: { data: work.batch.phase!, shape },
  };
  for (const weight of trainer.initialWeights(work.description)) {
    const [layer, kind] = weight.name.split("/");
    arrays[`${kind}.${layer}`] = { data: weight.values, shape: weight.shape };
  }
  saveNpz(path, arrays);
}

/** Each side's loss at each step within LOSS_TOLERANCE (relative), over the steps both reported (none: false). */
export function lossesAgree(ours: readonly number[], peer: readonly number[]): boolean {
  const steps = Math.min(ours.length, peer.length);
  if (steps === 0) return false;
  for (let i = 0; i < steps; i++) {
    const [a, b] = [ours[i]!, peer[i]!];
    if (!(Math.abs(a - b) <= LOSS_TOLERANCE * Math.max(Math.abs(a), Math.abs(b)))) return false;
  }
  return true;
}

function formatLosses(losses: readonly number[]): string {
  return `[${losses.map((l) => l.toPrecision(7)).join(", ")}]`;
}

type Entry = {
  spec: ContenderSpec;
  label: string;
  measure: () => Promise<ContenderOutcome>;
  once: boolean;
  samples: number[];
  detail?: string;
  notes: string[];
  /** Losses of the first steps, per round that reported them. */
  losses: number[][];
  computes?: string;
  parallelism?: Parallelism;
  unavailable?: { kind: "absent" | "failed"; reason: string };
};

async function measureGroup(context: SuiteContext, mode: "train" | "infer", spec: WorkloadSpec): Promise<ComparisonGroup> {
  const { size, batchSize, channels } = spec;
  const plan = modelPlan(context, mode);
  const description = buildWorkload(size, batchSize, spec.model, channels).description;
  const parameters = trainer.countParameters(description);
  const id = groupId(mode, spec);
  const group = new GroupBuilder({
    id,
    title: `${mode === "train" ? "Training step (forward, backward, Adam)" : "Inference"} of the ${spec.model} model, ${size}×${size}×${channels}, batch ${batchSize}, ${THREADS} threads`,
    kind: "time",
    work: { amount: batchSize, unit: "samples" },
    log: context.log,
  });
  const startFile = join(context.scratchDir, `${id}-start.npz`);
  writeStart(startFile, spec);

  // Contenders that time a full batch repeatedly run in interleaved rounds (each round a fresh process per
  // contender, in the same order), so that a slow spell of a shared host falls on all of them alike
  // instead of on whichever one happened to be running.
  const rounds = context.quick ? 1 : ROUNDS;
  const perRound = Math.ceil(plan.repetitions / rounds);
  const roundPlan: RepeatPlan = { ...plan, repetitions: perRound, minRepetitions: Math.min(plan.minRepetitions, perRound), budgetSeconds: plan.budgetSeconds / rounds };
  const lossSteps = mode === "train" ? LOSS_STEPS : 0;
  const entries: Entry[] = [];
  const newEntry = (contender: ContenderSpec, measure: () => Promise<ContenderOutcome>, once = false): Entry => ({ spec: contender, label: contender.label, measure, once, samples: [], notes: [], losses: [] });
  // The study's groups: ONNX Runtime CPU (the study's engine) and TF.js wasm (its in-process fallback);
  // --quick leaves the fallback to the reference group, to keep CI's smoke run short.
  const studyEngine = (t: (typeof ENGINE_TARGETS)[number]) => (t.engine === "onnxruntime" && t.backend === "cpu") || (!context.quick && t.engine === "tfjs" && t.backend === "wasm");
  const targets = spec.engines === "all" ? ENGINE_TARGETS : ENGINE_TARGETS.filter(studyEngine);
  for (const target of targets) {
    const contender = { id: `${target.engine}-${target.backend}`, label: target.label, role: "ours" as const };
    let request: ContenderRequest = { mode, engine: target.engine, backend: target.backend, model: spec.model, channels, size, batchSize, plan: roundPlan, lossSteps };
    let limitSeconds = context.quick ? 90 : 240;
    let once = false;
    if (target.engine === "tfjs" && target.backend === "cpu") {
      // Pure-JS TF.js needs minutes per batch of the reference model here, so it is timed on a small
      // batch, once, without a warm-up (it compiles nothing, so a first step costs what later ones do),
      // under a shorter limit. Samples/s is what is compared; its per-sample cost does not shrink with
      // the batch. The smoke run skips its training.
      if (mode === "train" && context.quick) {
        entries.push(newEntry(contender, async () => ({ kind: "absent", reason: "not run with --quick: pure-JS TF.js cpu needs minutes per training step of this model; run without --quick" }), true));
        continue;
      }
      if (!context.quick) {
        const small = mode === "train" ? 1 : 4;
        request = { ...request, batchSize: small, plan: { warmup: 0, repetitions: 1, minRepetitions: 1, budgetSeconds: 0 } };
        limitSeconds = 120;
        once = true;
        group.note(`TF.js cpu is timed on one ${mode === "train" ? "training step" : "prediction"} of a batch of ${small}, not ${batchSize}, without warm-up and with a ${limitSeconds} s limit: at its speed a full batch would take many minutes. Its samples/s and ratios use ${small} sample${small > 1 ? "s" : ""} per run.`);
      }
    }
    const measuredSpec = request.batchSize === batchSize ? contender : { ...contender, work: { amount: request.batchSize, unit: "samples" as const } };
    const measured = request;
    entries.push(newEntry(measuredSpec, () => measureInProcess(measured, limitSeconds), once));
    if (target.backend === "wasm" && spec.engines === "all") {
      // The same back end on TF.js's own kernels (XNNPACK, one thread; studykit adds only the gradient
      // kernels tfjs-backend-wasm lacks, as forward convolutions): what "TF.js wasm" is without the addon.
      const env = { ...process.env, STUDYKIT_NATIVE_DISABLE: "1", STUDYKIT_REQUIRE_NATIVE: "" };
      entries.push(newEntry({ id: WASM_OWN_KERNELS, label: "TF.js wasm, TF.js's own kernels", role: "ours" }, () => measureInProcess(measured, limitSeconds, env)));
    }
    if (target.engine === "onnxruntime" && target.backend === "cpu" && spec.engines === "all") {
      // The CPU default (training engine and inference sessions) is THREADS data-parallel replicas of one
      // thread; one session of THREADS threads on the same cores, for comparison.
      const single = { ...measured, oneSession: true };
      entries.push(newEntry({ id: ORT_ONE_SESSION, label: `ONNX Runtime CPU, one session of ${THREADS} threads`, role: "ours" }, () => measureInProcess(single, limitSeconds)));
    }
  }
  // PyTorch with the literal layers, and with every ×2 upsample + 3×3 conv rewritten as ours rewrites it.
  const allPairs = countedRewrite(description, mode);
  for (const subpixel of [false, true]) {
    const contender: ContenderSpec = subpixel
      ? { id: PYTORCH_SUBPIXEL, label: "PyTorch CPU, sub-pixel upsample + conv (PixelShuffle)", role: "peer", ...(allPairs ? { computes: allPairs } : {}) }
      : { id: PYTORCH, label: "PyTorch CPU", role: "peer" };
    entries.push(
      newEntry(contender, async () => {
        try {
          const python = await findPythonWith("torch");
          const args = [
            ...planArguments(roundPlan),
            ...["--mode", mode, "--model", spec.model, "--batch", String(batchSize), "--size", String(size), "--channels", String(channels), "--threads", String(THREADS)],
            ...["--start", startFile, "--learning-rate", String(LEARNING_RATE), "--epsilon", String(HYPERPARAMETERS.optimizer.epsilon), "--loss-steps", String(lossSteps)],
            ...(subpixel ? ["--subpixel"] : []),
          ];
          const answer = await runPythonScript(python, "torch_peer.py", args, 900_000);
          if (answer.parameters !== parameters) {
            // Not a row marked failed: comparing different models makes every ratio of the suite meaningless.
            throw new PeerMismatchError(BenchErrorCode.ModelMismatch, `PyTorch's ${spec.model} model (python/torch_peer.py) has ${String(answer.parameters)} parameters, studykit's ${parameters}: the architectures differ, so the ${mode} suite compares nothing; make torch_peer.py build the trainer's ${spec.model} model`);
          }
          const losses = Array.isArray(answer.losses) ? (answer.losses as number[]) : [];
          const threads = typeof answer.threads === "number" ? answer.threads : THREADS;
          return { kind: "ok", samples: numbersField(answer, "samples"), detail: `torch ${String(answer.torch)}, ${threads} threads`, losses, parallelism: onThreads(threads) };
        } catch (error) {
          if (hasErrorCode(error, BenchErrorCode.ModelMismatch)) throw error;
          return { kind: error instanceof ContenderAbsentError ? "absent" : "failed", reason: error instanceof Error ? error.message.split("\n")[0]! : String(error) };
        }
      }),
    );
  }
  for (let round = 0; round < rounds; round++) {
    for (const entry of entries) {
      if (entry.unavailable || (entry.once && round > 0)) continue;
      const outcome = await entry.measure();
      if (outcome.kind === "ok") {
        entry.samples.push(...outcome.samples);
        if (outcome.detail) entry.detail = outcome.detail;
        if (outcome.note) entry.notes.push(`${entry.label}: ${outcome.note} (round ${round + 1}).`);
        if (outcome.losses && outcome.losses.length > 0) entry.losses.push(outcome.losses);
        if (outcome.computes) entry.computes = outcome.computes;
        if (outcome.parallelism) entry.parallelism = outcome.parallelism;
      } else entry.unavailable = { kind: outcome.kind, reason: round === 0 || entry.samples.length === 0 ? outcome.reason : `round ${round + 1} of ${rounds}: ${outcome.reason}` };
    }
  }
  if (mode === "train") checkFirstLosses(group, entries, context.log);
  for (const entry of entries) {
    const contender: ContenderSpec = {
      ...entry.spec,
      ...(entry.parallelism ? { parallelism: entry.parallelism } : {}),
      ...(entry.computes ? { computes: entry.computes } : {}),
    };
    if (entry.unavailable && entry.samples.length === 0) group.addUnavailable(contender, entry.unavailable.kind, entry.unavailable.reason);
    else {
      group.addSamples(contender, entry.samples, entry.detail);
      if (entry.unavailable) group.note(`${entry.label}: stopped early, ${entry.unavailable.reason}; its ${entry.samples.length} timed run(s) are kept.`);
    }
    for (const note of entry.notes) group.note(note);
  }
  if (rounds > 1) group.note(`Every contender ran in ${rounds} interleaved rounds (a fresh process each, warm-up runs discarded in each), so a slow spell of the host falls on all of them alike.`);
  const ort = entries.find((e) => e.spec.id === "onnxruntime-cpu");
  if (allPairs && ort && ort.computes === undefined && !ort.unavailable) {
    group.note(`ONNX Runtime CPU computes every convolution as described here (its graph's layout allows no sub-pixel rewrite); the sub-pixel PyTorch peer does less arithmetic than it.`);
  }
  return group.finish(goalsOf(mode, spec));
}

/**
 * Compares each PyTorch peer's first training losses with ONNX Runtime CPU's from the same start, round by
 * round; a peer that disagrees beyond LOSS_TOLERANCE is failed (its timings compare a different
 * computation), and every side's losses are printed in the group's notes.
 */
function checkFirstLosses(group: GroupBuilder, entries: Entry[], log: (line: string) => void): void {
  const ours = entries.find((e) => e.spec.id === "onnxruntime-cpu");
  const peers = entries.filter((e) => e.spec.id === PYTORCH || e.spec.id === PYTORCH_SUBPIXEL);
  if (!ours || ours.losses.length === 0) {
    group.note(`First training losses not compared: ONNX Runtime CPU reported none (${ours?.unavailable?.reason ?? "it did not run"}).`);
    return;
  }
  const shown = [`ONNX Runtime CPU ${formatLosses(ours.losses[0]!)}`];
  for (const peer of peers) {
    if (peer.losses.length === 0) continue;
    shown.push(`${peer.label} ${formatLosses(peer.losses[0]!)}`);
    const round = peer.losses.findIndex((losses, i) => !lossesAgree(ours.losses[Math.min(i, ours.losses.length - 1)]!, losses));
    if (round !== -1) {
      const theirs = peer.losses[round]!;
      const mine = ours.losses[Math.min(round, ours.losses.length - 1)]!;
      peer.samples = [];
      peer.unavailable = { kind: "failed", reason: `its first training losses from our start ${formatLosses(theirs)} differ from ONNX Runtime CPU's ${formatLosses(mine)} by more than ${LOSS_TOLERANCE} relative (round ${round + 1}): it does not compute the same step` };
    }
  }
  const line = `First ${LOSS_STEPS} training losses from the same start (weights, batch and targets exported from studykit; Adam lr ${LEARNING_RATE}, ε ${HYPERPARAMETERS.optimizer.epsilon}): ${shown.join("; ")}. A PyTorch peer must agree within ${LOSS_TOLERANCE} relative at every step, in every round.`;
  group.note(line);
  log(`  ${line}`);
}

/** What the sub-pixel PyTorch peer computes: every pair rewritten, and the share of the work left. */
function countedRewrite(description: trainer.ModelDescription, mode: "train" | "infer"): string | undefined {
  const rewrite = subpixelRewrite(description, mode, "all");
  return rewrite ? describeRewrite(rewrite) : undefined;
}

function goalsOf(mode: "train" | "infer", spec: WorkloadSpec): Goal[] {
  if (spec.engines === "study") {
    // The study's workload: goal ≥ 1.0× PyTorch in both modes; TF.js wasm as the fallback's speed.
    return [
      { kind: "ratio", ours: "onnxruntime-cpu", peer: PYTORCH, atLeast: 1.0 },
      { kind: "ratio", ours: "onnxruntime-cpu", peer: PYTORCH_SUBPIXEL },
    ];
  }
  if (mode === "train") {
    // The ≥ 10× ONNX Runtime ÷ TF.js wasm goal is retired: wasm runs studykit's own kernels, so it measured
    // us against ourselves. TF.js wasm stays as the in-process fallback's speed, as a ratio to PyTorch.
    return [
      { kind: "ratio", ours: "onnxruntime-cpu", peer: PYTORCH, atLeast: 1.0 },
      { kind: "ratio", ours: "onnxruntime-cpu", peer: PYTORCH_SUBPIXEL },
      { kind: "ratio", ours: "tfjs-wasm", peer: PYTORCH, atLeast: 0.25 },
      // The engine's default (replicas) ÷ one session of the same threads.
      { kind: "ratio", ours: "onnxruntime-cpu", peer: ORT_ONE_SESSION },
    ];
  }
  return [
    { kind: "ratio", ours: "onnxruntime-cpu", peer: PYTORCH, atLeast: 1.2 },
    { kind: "ratio", ours: "onnxruntime-cpu", peer: PYTORCH_SUBPIXEL },
    { kind: "ratio", ours: "onnxruntime-cpu", peer: WASM_OWN_KERNELS, atLeast: 5 },
    { kind: "ratio", ours: "onnxruntime-cpu", peer: "tfjs-wasm", atLeast: 5 },
    { kind: "ratio", ours: "onnxruntime-cpu", peer: ORT_ONE_SESSION },
    { kind: "ratio", ours: ORT_ONE_SESSION, peer: PYTORCH },
    { kind: "ratio", ours: ORT_ONE_SESSION, peer: "tfjs-wasm" },
  ];
}

async function runModelSuite(context: SuiteContext, mode: "train" | "infer"): Promise<SuiteResult> {
  const started = performance.now();
  const groups: ComparisonGroup[] = [];
  const specs = workloads(context);
  for (const spec of specs) groups.push(await measureGroup(context, mode, spec));
  if (mode === "train") {
    const reference = specs[0]!;
    groups.push(await arithmeticGroup(context, groups[0]!, buildWorkload(reference.size, reference.batchSize, reference.model, reference.channels).description));
  }
  const notes = [
    `Same model description and initial weights (model seed 7) for every engine, each in its own process; the same deterministic batch. ${mode === "train" ? "Loss: supervised MSE on amplitude and phase (mean of each, summed), Adam lr 1e-3, β 0.9 / 0.999, ε 1e-7. " : ""}PyTorch runs the same layers channels-first with the same heads (sigmoid amplitude, π·tanh phase), from the same weights, batch and targets, exported to it as an npz.`,
    ...(mode === "train" ? ["TF.js wasm rows are the in-process fallback's speed, compared with PyTorch; the former ≥ 10× ONNX Runtime ÷ TF.js wasm goal is retired (wasm runs studykit's own convolution kernels, so it compared us with ourselves)."] : []),
  ];
  return { suite: mode, wallSeconds: (performance.now() - started) / 1000, groups, notes };
}

/** Side of the square float32 matrices of the SGEMM ceiling (2·n³ FLOPs: 17 GFLOP at 2048). */
const GEMM_SIZE = 2048;

/**
 * The training rates of `trainGroup` as GFLOP/s of the model's convolution multiply-adds, beside the
 * machine's dense SGEMM rate (numpy's BLAS on the same thread count) as a `reference`: how close each
 * engine runs to what the cores can do, and what a ratio goal between two contenders asks of the hardware.
 */
async function arithmeticGroup(context: SuiteContext, trainGroup: ComparisonGroup, model: trainer.ModelDescription): Promise<ComparisonGroup> {
  const flopsPerSample = 2 * trainer.countMultiplyAdds(model).training;
  // The least work: every ×2 upsample + 3×3 conv pair at the low resolution, as studykit's ORT graphs do.
  const leastFlopsPerSample = 2 * trainer.countMultiplyAdds(model, { subpixelUpsampleConv: true }).training;
  const gemmSize = context.quick ? 512 : GEMM_SIZE;
  const group = new GroupBuilder({
    id: "train-arithmetic-rate",
    title: `Arithmetic rate of a training step: the reference model's convolutions (${(flopsPerSample / 1e9).toFixed(3)} GFLOP per sample) against the machine's SGEMM, ${THREADS} threads`,
    kind: "time",
    log: context.log,
  });
  for (const contender of trainGroup.contenders) {
    if (contender.status !== "ok") continue;
    const samples = contender.work?.amount ?? trainGroup.work?.amount;
    if (samples === undefined) continue;
    const facts = { ...(contender.parallelism ? { parallelism: contender.parallelism } : {}), ...(contender.computes ? { computes: contender.computes } : {}) };
    group.addSamples({ id: contender.id, label: contender.label, role: contender.role, ...facts, work: { amount: samples * flopsPerSample, unit: "flops" } }, contender.samples, contender.detail);
  }
  await group.run({ id: "sgemm-ceiling", label: `SGEMM ${gemmSize}×${gemmSize}×${gemmSize} (numpy matmul)`, role: "reference", parallelism: onThreads(THREADS), work: { amount: 2 * gemmSize ** 3, unit: "flops" } }, async () => {
    const python = await findPythonWith("numpy");
    const plan: RepeatPlan = context.quick ? { warmup: 1, repetitions: 2, minRepetitions: 1, budgetSeconds: 2 } : { warmup: 2, repetitions: 7, minRepetitions: 3, budgetSeconds: 10 };
    const answer = await runPythonScript(python, "gemm_ceiling.py", [...planArguments(plan), "--size", String(gemmSize), "--threads", String(THREADS)], 300_000);
    return { samples: numbersField(answer, "samples"), detail: `${String(answer.blas)}, numpy ${String(answer.numpy)}, ${String(answer.threads)} threads` };
  });
  group.note(
    `Counted work: each conv's forward pass and filter gradient, and its input gradient except the first conv's (its input is the model's), as direct convolutions of the described layers; element-wise ops, pooling, the loss and the optimizer are not counted. ONNX Runtime's training graphs and the sub-pixel PyTorch peer compute ×2 upsample + 3×3 conv pairs at the low resolution, with 16/36 of their multiply-adds, so their rates here can exceed what they compute; with every such pair done that way the least work is ${(leastFlopsPerSample / 1e9).toFixed(3)} GFLOP per sample.`,
  );
  const rateOf = (id: string): number | undefined => {
    const contender = group.get(id);
    return contender?.status === "ok" ? contender.throughput?.value : undefined;
  };
  const [ceiling, ort] = [rateOf("sgemm-ceiling"), rateOf("onnxruntime-cpu")];
  if (ceiling !== undefined && ort !== undefined) group.note(`ONNX Runtime CPU runs the described work at ${((100 * ort) / ceiling).toFixed(0)}% of this machine's SGEMM rate.`);
  return group.finish();
}

export function runTrainSuite(context: SuiteContext): Promise<SuiteResult> {
  return runModelSuite(context, "train");
}

export function runInferSuite(context: SuiteContext): Promise<SuiteResult> {
  return runModelSuite(context, "infer");
}
