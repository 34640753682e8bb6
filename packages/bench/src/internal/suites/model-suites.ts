/**
 * `train` and `infer` suites: samples/s of the reference ptychography model (425 442 parameters at
 * 64×64, C = 1) at batch 32, on every engine and back end studykit offers, side by side with PyTorch CPU
 * running the same architecture (python/torch_peer.py, 2 threads). Unavailable back ends (no GPU, no
 * tfjs-node, no CUDA provider) are listed with the reason the trainer gives. Each engine runs in its own
 * process (model-contender-process.ts) under a time limit, so one very slow back end cannot stall the run.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { hasErrorCode, StudykitError } from "@studykit/native";
import * as trainer from "@studykit/trainer";
import { ContenderAbsentError, type ContenderSpec, GroupBuilder, type RepeatPlan } from "../measure.js";
import { findPythonWith, numbersField, runPythonScript } from "../python-peer.js";
import type { ComparisonGroup, SuiteResult } from "../results.js";
import { planArguments, type SuiteContext } from "../suite-context.js";
import { ENGINE_TARGETS, PROTOCOL_PREFIX, THREADS, type ContenderRequest } from "./model-contender.js";

const CONTENDER_SCRIPT = fileURLToPath(new URL("./model-contender-process.js", import.meta.url));

/** Contender id of TF.js wasm on TF.js's own kernels (the addon's convolutions off). */
const WASM_OWN_KERNELS = "tfjs-wasm-own-kernels";

/** Contender id of ONNX Runtime CPU in one session of THREADS threads (not the default replicas). */
const ORT_ONE_SESSION = "onnxruntime-cpu-one-session";

/** Error code of a peer model whose parameter count differs from ours: the suite fails, not the row. */
const MODEL_MISMATCH = "E_BENCH_MODEL_MISMATCH";

/** Interleaved measuring rounds per contender in a full run (see runModelSuite). */
const ROUNDS = 3;

function modelPlan(context: SuiteContext, mode: "train" | "infer"): RepeatPlan {
  if (context.quick) return { warmup: 1, repetitions: 2, minRepetitions: 1, budgetSeconds: 2 };
  // Two warm-up steps: TF.js and ONNX Runtime compile kernels and plan memory on the first calls.
  return mode === "train" ? { warmup: 2, repetitions: 10, minRepetitions: 2, budgetSeconds: 10 } : { warmup: 3, repetitions: 10, minRepetitions: 3, budgetSeconds: 8 };
}

type ContenderOutcome = { kind: "ok"; samples: number[]; detail: string; note?: string } | { kind: "absent" | "failed"; reason: string };

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
        const message = JSON.parse(line.slice(PROTOCOL_PREFIX.length)) as { sample?: number; done?: boolean; detail?: string; absent?: string; failed?: string };
        if (typeof message.sample === "number") samples.push(message.sample);
        else if (message.done) final = { kind: "ok", samples, detail: message.detail ?? "" };
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

async function runModelSuite(context: SuiteContext, mode: "train" | "infer"): Promise<SuiteResult> {
  const started = performance.now();
  const size = context.quick ? 16 : 64;
  const batchSize = context.quick ? 4 : 32;
  const plan = modelPlan(context, mode);
  const parameters = trainer.countParameters(trainer.referencePtychoModel({ size, channels: 1, seed: 7 }));
  const group = new GroupBuilder({
    id: `${mode}-reference-model`,
    title: `${mode === "train" ? "Training step (forward, backward, Adam)" : "Inference"} of the reference model, ${size}×${size}×1, batch ${batchSize}, ${THREADS} threads`,
    kind: "time",
    work: { amount: batchSize, unit: "samples" },
    log: context.log,
  });

  // Contenders that time a full batch repeatedly run in interleaved rounds (each round a fresh process per
  // contender, in the same order), so that a slow spell of a shared host falls on all of them alike
  // instead of on whichever one happened to be running.
  const rounds = context.quick ? 1 : ROUNDS;
  const perRound = Math.ceil(plan.repetitions / rounds);
  const roundPlan: RepeatPlan = { ...plan, repetitions: perRound, minRepetitions: Math.min(plan.minRepetitions, perRound), budgetSeconds: plan.budgetSeconds / rounds };
  type Entry = { spec: ContenderSpec; label: string; measure: () => Promise<ContenderOutcome>; once: boolean; samples: number[]; detail?: string; notes: string[]; unavailable?: { kind: "absent" | "failed"; reason: string } };
  const entries: Entry[] = [];
  for (const target of ENGINE_TARGETS) {
    const spec = { id: `${target.engine}-${target.backend}`, label: target.label, role: "ours" as const };
    let request: ContenderRequest = { mode, engine: target.engine, backend: target.backend, size, batchSize, plan: roundPlan };
    let limitSeconds = context.quick ? 90 : 240;
    let once = false;
    if (target.engine === "tfjs" && target.backend === "cpu") {
      // Pure-JS TF.js needs minutes per batch of the reference model here, so it is timed on a small
      // batch, once, without a warm-up (it compiles nothing, so a first step costs what later ones do),
      // under a shorter limit. Samples/s is what is compared; its per-sample cost does not shrink with
      // the batch. The smoke run skips its training.
      if (mode === "train" && context.quick) {
        entries.push({ spec, label: target.label, measure: async () => ({ kind: "absent", reason: "not run with --quick: pure-JS TF.js cpu needs minutes per training step of this model; run without --quick" }), once: true, samples: [], notes: [] });
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
    const measuredSpec = request.batchSize === batchSize ? spec : { ...spec, work: { amount: request.batchSize, unit: "samples" as const } };
    const measured = request;
    entries.push({ spec: measuredSpec, label: target.label, measure: () => measureInProcess(measured, limitSeconds), once, samples: [], notes: [] });
    if (target.backend === "wasm") {
      // The same back end on TF.js's own kernels (XNNPACK, one thread; studykit adds only the gradient
      // kernels tfjs-backend-wasm lacks, as forward convolutions): what "TF.js wasm" is without the addon,
      // and the baseline the ONNX Runtime engine's goals against TF.js wasm were written for.
      const label = "TF.js wasm, TF.js's own kernels";
      const env = { ...process.env, STUDYKIT_NATIVE_DISABLE: "1", STUDYKIT_REQUIRE_NATIVE: "" };
      entries.push({ spec: { id: WASM_OWN_KERNELS, label, role: "ours" }, label, measure: () => measureInProcess(measured, limitSeconds, env), once: false, samples: [], notes: [] });
    }
    if (target.engine === "onnxruntime" && target.backend === "cpu") {
      // The CPU default (training engine and inference sessions) is THREADS data-parallel replicas of one
      // thread; one session of THREADS threads on the same cores, for comparison.
      const label = `ONNX Runtime CPU, one session of ${THREADS} threads`;
      const single = { ...measured, oneSession: true };
      entries.push({ spec: { id: ORT_ONE_SESSION, label, role: "ours" }, label, measure: () => measureInProcess(single, limitSeconds), once: false, samples: [], notes: [] });
    }
  }
  entries.push({
    spec: { id: "pytorch-cpu", label: "PyTorch CPU", role: "peer" },
    label: "PyTorch CPU",
    once: false,
    samples: [],
    notes: [],
    measure: async () => {
      try {
        const python = await findPythonWith("torch");
        const args = [...planArguments(roundPlan), "--mode", mode, "--batch", String(batchSize), "--size", String(size), "--channels", "1", "--threads", String(THREADS)];
        const answer = await runPythonScript(python, "torch_peer.py", args, 900_000);
        if (answer.parameters !== parameters) {
          // Not a row marked failed: comparing different models makes every ratio of the suite meaningless.
          throw new StudykitError(MODEL_MISMATCH, `PyTorch's reference model (python/torch_peer.py) has ${String(answer.parameters)} parameters, studykit's ${parameters}: the architectures differ, so the ${mode} suite compares nothing; make torch_peer.py build the trainer's reference model`, { userFacing: false });
        }
        return { kind: "ok", samples: numbersField(answer, "samples"), detail: `torch ${String(answer.torch)}, ${String(answer.threads)} threads` };
      } catch (error) {
        if (hasErrorCode(error, MODEL_MISMATCH)) throw error;
        return { kind: error instanceof ContenderAbsentError ? "absent" : "failed", reason: error instanceof Error ? error.message.split("\n")[0]! : String(error) };
      }
    },
  });
  for (let round = 0; round < rounds; round++) {
    for (const entry of entries) {
      if (entry.unavailable || (entry.once && round > 0)) continue;
      const outcome = await entry.measure();
      if (outcome.kind === "ok") {
        entry.samples.push(...outcome.samples);
        if (outcome.detail) entry.detail = outcome.detail;
        if (outcome.note) entry.notes.push(`${entry.label}: ${outcome.note} (round ${round + 1}).`);
      } else entry.unavailable = { kind: outcome.kind, reason: round === 0 || entry.samples.length === 0 ? outcome.reason : `round ${round + 1} of ${rounds}: ${outcome.reason}` };
    }
  }
  for (const entry of entries) {
    if (entry.unavailable && entry.samples.length === 0) group.addUnavailable(entry.spec, entry.unavailable.kind, entry.unavailable.reason);
    else {
      group.addSamples(entry.spec, entry.samples, entry.detail);
      if (entry.unavailable) group.note(`${entry.label}: stopped early, ${entry.unavailable.reason}; its ${entry.samples.length} timed run(s) are kept.`);
    }
    for (const note of entry.notes) group.note(note);
  }
  if (rounds > 1) group.note(`Every contender ran in ${rounds} interleaved rounds (a fresh process each, warm-up runs discarded in each), so a slow spell of the host falls on all of them alike.`);

  const goals =
    mode === "train"
      ? [
          { kind: "ratio" as const, ours: "onnxruntime-cpu", peer: "pytorch-cpu", atLeast: 1.0 },
          { kind: "ratio" as const, ours: "tfjs-wasm", peer: "pytorch-cpu", atLeast: 0.25 },
          // Against TF.js wasm on its own kernels (what the goal was written for) and on studykit's.
          { kind: "ratio" as const, ours: "onnxruntime-cpu", peer: WASM_OWN_KERNELS, atLeast: 10 },
          { kind: "ratio" as const, ours: "onnxruntime-cpu", peer: "tfjs-wasm", atLeast: 10 },
          // The engine's default (replicas) ÷ one session of the same threads, and that session ÷ the peers.
          { kind: "ratio" as const, ours: "onnxruntime-cpu", peer: ORT_ONE_SESSION },
          { kind: "ratio" as const, ours: ORT_ONE_SESSION, peer: WASM_OWN_KERNELS },
          { kind: "ratio" as const, ours: ORT_ONE_SESSION, peer: "tfjs-wasm" },
        ]
      : [
          { kind: "ratio" as const, ours: "onnxruntime-cpu", peer: "pytorch-cpu", atLeast: 1.2 },
          { kind: "ratio" as const, ours: "onnxruntime-cpu", peer: WASM_OWN_KERNELS, atLeast: 5 },
          { kind: "ratio" as const, ours: "onnxruntime-cpu", peer: "tfjs-wasm", atLeast: 5 },
          { kind: "ratio" as const, ours: "onnxruntime-cpu", peer: ORT_ONE_SESSION },
          { kind: "ratio" as const, ours: ORT_ONE_SESSION, peer: "pytorch-cpu" },
          { kind: "ratio" as const, ours: ORT_ONE_SESSION, peer: "tfjs-wasm" },
        ];
  const comparison = group.finish(goals);
  const groups = mode === "train" ? [comparison, await arithmeticGroup(context, comparison, trainer.referencePtychoModel({ size, channels: 1, seed: 7 }))] : [comparison];
  const notes = [
    `Same model description and initial weights (model seed 7) for every engine, each in its own process; the same deterministic batch; ${mode === "train" ? "loss: supervised MSE on amplitude and phase, Adam lr 1e-3. " : ""}PyTorch runs the same layers channels-first with the same heads (sigmoid amplitude, π·tanh phase).`,
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
    group.addSamples({ id: contender.id, label: contender.label, role: contender.role, work: { amount: samples * flopsPerSample, unit: "flops" } }, contender.samples, contender.detail);
  }
  await group.run({ id: "sgemm-ceiling", label: `SGEMM ${gemmSize}×${gemmSize}×${gemmSize} (numpy matmul)`, role: "reference", work: { amount: 2 * gemmSize ** 3, unit: "flops" } }, async () => {
    const python = await findPythonWith("numpy");
    const plan: RepeatPlan = context.quick ? { warmup: 1, repetitions: 2, minRepetitions: 1, budgetSeconds: 2 } : { warmup: 2, repetitions: 7, minRepetitions: 3, budgetSeconds: 10 };
    const answer = await runPythonScript(python, "gemm_ceiling.py", [...planArguments(plan), "--size", String(gemmSize), "--threads", String(THREADS)], 300_000);
    return { samples: numbersField(answer, "samples"), detail: `${String(answer.blas)}, numpy ${String(answer.numpy)}, ${String(answer.threads)} threads` };
  });
  group.note(
    `Counted work: each conv's forward pass and filter gradient, and its input gradient except the first conv's (its input is the model's), as direct convolutions of the described layers; element-wise ops, pooling, the loss and the optimizer are not counted. ONNX Runtime's training graphs compute ×2 upsample + 3×3 conv pairs at the low resolution, with 16/36 of their multiply-adds, so its rate here can exceed what it computes; with every such pair done that way the least work is ${(leastFlopsPerSample / 1e9).toFixed(3)} GFLOP per sample.`,
  );
  const rateOf = (id: string): number | undefined => {
    const contender = group.get(id);
    return contender?.status === "ok" ? contender.throughput?.value : undefined;
  };
  const [ceiling, wasm, ort] = [rateOf("sgemm-ceiling"), rateOf("tfjs-wasm"), rateOf("onnxruntime-cpu")];
  const wasmGoal = 10;
  if (ceiling !== undefined && wasm !== undefined) {
    const samplesPerSecond = (wasmGoal * wasm * 1e9) / flopsPerSample;
    const leastRate = (samplesPerSecond * leastFlopsPerSample) / 1e9;
    group.note(
      `The ONNX Runtime ÷ TF.js wasm ≥ ${wasmGoal}× training goal, against wasm on studykit's native convolutions, asks for ${samplesPerSecond.toFixed(0)} samples/s here: even at the least work, ${leastRate.toFixed(0)} GFLOP/s of convolution multiply-adds, ${(leastRate / ceiling).toFixed(2)}× this machine's SGEMM rate${ort === undefined ? "" : ` (ONNX Runtime runs the described work at ${((100 * ort) / ceiling).toFixed(0)}% of it)`}.`,
    );
  }
  return group.finish();
}

export function runTrainSuite(context: SuiteContext): Promise<SuiteResult> {
  return runModelSuite(context, "train");
}

export function runInferSuite(context: SuiteContext): Promise<SuiteResult> {
  return runModelSuite(context, "infer");
}
