/**
 * `fft` suite: batched 2-D FFTs of complex64 images at the sizes the ptychographic reconstruction runs
 * (1024 images of 32 × 32 and of 64 × 64) — `@studykit/native`'s `fft2InPlace` on 2 threads and on 1,
 * `numpy.fft.fft2` (single-threaded by design) and `torch.fft.fft2` on 2 threads.
 *
 * Work is counted as 5·N·log₂N flops per transform of N = n² points (the usual FFT convention). Ours
 * transforms in place, alternating forward and inverse between repetitions so the values stay bounded
 * (both directions cost the same; the inverse's 1/n² rides on its last transpose); the peers return a new
 * array, as their users get. Every contender's answer is checked by Parseval's theorem
 * (Σ|X|² = n²·Σ|x|²), so a fast wrong transform is reported as failed.
 */
import * as native from "@studykit/native";
import { GroupBuilder, onThreads, type RepeatPlan } from "../measure.js";
import { findPythonWith, numbersField, runPythonScript } from "../python-peer.js";
import type { ComparisonGroup, SuiteResult } from "../../results.js";
import { planArguments, repeatPlan, type SuiteContext } from "../suite-context.js";

/** Threads of the contenders the goals compare (the bench and CI machines have 2 cores). */
const THREADS = 2;

/** Largest deviation of Σ|X|² / (n²·Σ|x|²) from 1 accepted for a complex64 transform. */
const PARSEVAL_TOLERANCE = 1e-4;

/** Deterministic values in [−0.5, 0.5) (xorshift32). */
function randomImages(length: number, seed: number): Float32Array {
  let state = seed >>> 0 || 1;
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    values[i] = state / 2 ** 32 - 0.5;
  }
  return values;
}

function energy(values: Float32Array): number {
  let sum = 0;
  for (const value of values) sum += value * value;
  return sum;
}

function checkParseval(label: string, ratio: number): void {
  if (!(Math.abs(ratio - 1) <= PARSEVAL_TOLERANCE)) throw new Error(`${label}: Σ|X|² / (n²·Σ|x|²) = ${ratio}, not 1: the transform is wrong`);
}

function implementationDetail(): string {
  try {
    const status = native.nativeStatus();
    return status.implementation === "native" ? `native addon ${status.version ?? ""}`.trim() : "pure-TS fallback (addon not loaded)";
  } catch (error) {
    return `native unavailable: ${(error as Error).message.split("\n")[0]}`;
  }
}

/** Times `fft2InPlace` on `input` (copied once) with `options`, after checking one forward transform. */
function studykitContender(input: Float32Array, n: number, batch: number, options: native.Fft2Options) {
  return async () => {
    const data = input.slice();
    native.fft2InPlace(data, n, batch, options);
    checkParseval("fft2InPlace", energy(data) / (n * n * energy(input)));
    let inverse = true;
    return {
      run: () => {
        native.fft2InPlace(data, n, batch, { ...options, inverse });
        inverse = !inverse;
      },
    };
  };
}

async function pythonPeer(library: "numpy" | "torch", plan: RepeatPlan, n: number, batch: number): Promise<{ samples: number[]; detail: string }> {
  const python = await findPythonWith(library);
  const answer = await runPythonScript(python, "fft_peer.py", [...planArguments(plan), library, "--n", String(n), "--batch", String(batch), "--threads", String(THREADS)], 600_000);
  checkParseval(library, Number(answer.parseval));
  return { samples: numbersField(answer, "samples"), detail: `${String(answer.version)}, python ${python.pythonVersion}` };
}

async function sizeGroup(context: SuiteContext, n: number, batch: number): Promise<ComparisonGroup> {
  const fast = repeatPlan(context, "fast");
  const points = n * n;
  const work = { amount: batch * 5 * points * Math.log2(points), unit: "flops" as const };
  const group = new GroupBuilder({ id: `fft-${n}`, title: `2-D FFT of ${batch} complex64 images of ${n} × ${n}`, kind: "time", work, log: context.log });
  const input = randomImages(batch * points * 2, n);
  const detail = implementationDetail();
  const ours = `fft2InPlace-${THREADS}-threads`;

  await group.time({ id: ours, label: `studykit fft2InPlace, ${THREADS} threads`, role: "ours", parallelism: onThreads(THREADS) }, fast, async () => ({ ...(await studykitContender(input, n, batch, { threads: THREADS })()), detail }));
  await group.time({ id: "fft2InPlace-1-thread", label: "studykit fft2InPlace, 1 thread", role: "reference", parallelism: onThreads(1) }, fast, async () => ({ ...(await studykitContender(input, n, batch, { threads: 1 })()), detail }));
  await group.run({ id: "numpy-fft2", label: "numpy.fft.fft2", role: "peer", parallelism: onThreads(1, 1, "numpy's FFT is single-threaded") }, () => pythonPeer("numpy", fast, n, batch));
  await group.run({ id: "pytorch-fft2", label: `torch.fft.fft2, ${THREADS} threads`, role: "peer", parallelism: onThreads(THREADS) }, () => pythonPeer("torch", fast, n, batch));
  return group.finish([
    { kind: "ratio", ours, peer: "numpy-fft2", atLeast: 1.5 },
    { kind: "ratio", ours, peer: "pytorch-fft2", atLeast: 1.0 },
    { kind: "ratio", ours, peer: "fft2InPlace-1-thread" },
  ]);
}

export async function runFftSuite(context: SuiteContext): Promise<SuiteResult> {
  const started = performance.now();
  const batch = context.quick ? 8 : 1024;
  const groups = [await sizeGroup(context, 32, batch), await sizeGroup(context, 64, batch)];
  return { suite: "fft", wallSeconds: (performance.now() - started) / 1000, groups, notes: [] };
}
