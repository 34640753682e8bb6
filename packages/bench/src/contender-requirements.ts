/**
 * What a bench run must have measured to count as a passing run (the `--quick` smoke test in CI included).
 * A contender that is not installed here (no GPU, no tfjs-node, no python3 with torch) is `absent` and
 * allowed; one that is present but threw (`failed`) is a bug in studykit or in the harness, and so is a
 * contender that every machine studykit supports can run (ONNX Runtime CPU, TF.js wasm) being anything but
 * measured. Hashing and decoding contenders check their digests/bytes, so their `failed` is a wrong answer.
 */
import { BenchContenderError } from "./errors.js";
import type { BenchResults, ContenderResult, SuiteName } from "./results.js";

/** Contenders that must be measured (`ok`) wherever their suite runs: they need nothing beyond `npm ci`. */
export const REQUIRED_CONTENDERS: Readonly<Partial<Record<SuiteName, readonly string[]>>> = {
  train: ["onnxruntime-cpu", "onnxruntime-cpu-one-session", "tfjs-wasm", "tfjs-wasm-own-kernels"],
  infer: ["onnxruntime-cpu", "onnxruntime-cpu-one-session", "tfjs-wasm", "tfjs-wasm-own-kernels"],
  pinn: ["onnxruntime-cpu"],
};

/**
 * Contenders that may fail without failing the run: pure-JS TF.js runs under a time limit it can miss on a
 * slow or busy host ("no training step finished within the 120 s time limit"), which is its speed, not a bug.
 */
export const MAY_FAIL_CONTENDERS: ReadonlySet<string> = new Set(["tfjs-cpu"]);

function describeContender(suite: SuiteName, groupId: string, contender: ContenderResult): string {
  const reason = contender.status === "ok" ? "" : `: ${contender.reason}`;
  return `${suite}/${groupId}/${contender.id} (${contender.label}) ${contender.status}${reason}`;
}

/**
 * Every problem that makes `results` a failed run, one line each: a required contender not measured, any
 * other contender that failed (unless it may), and a suite that crashed. Empty when the run passes.
 */
export function contenderProblems(results: Pick<BenchResults, "suites">): string[] {
  const problems: string[] = [];
  for (const suite of results.suites) {
    for (const note of suite.notes) if (note.startsWith("suite failed")) problems.push(`${suite.suite}: ${note}`);
    const required = new Set(REQUIRED_CONTENDERS[suite.suite] ?? []);
    for (const group of suite.groups) {
      // The first group of a model suite is the measurement; later groups (arithmetic rate) re-use its rows.
      const isMeasurement = group === suite.groups[0];
      for (const contender of group.contenders) {
        if (isMeasurement && required.has(contender.id) && contender.status !== "ok") problems.push(`${describeContender(suite.suite, group.id, contender)} (required: it runs on every supported machine)`);
        else if (contender.status === "failed" && !MAY_FAIL_CONTENDERS.has(contender.id)) problems.push(describeContender(suite.suite, group.id, contender));
      }
      if (isMeasurement) {
        for (const id of required) if (!group.contenders.some((c) => c.id === id)) problems.push(`${suite.suite}/${group.id}/${id} was not run (required)`);
      }
    }
  }
  return problems;
}

/**
 * Throws {@link BenchContenderError} when `problems` (a run's {@link contenderProblems}) is not empty: the
 * one exit decision of `studykit-bench` and `studykit bench`, called after the results are written so they
 * still show what ran, and so CI's smoke test cannot pass with ONNX Runtime, TF.js wasm or a peer broken.
 */
export function assertNoContenderProblems(problems: readonly string[]): void {
  if (problems.length > 0) throw new BenchContenderError(problems);
}
