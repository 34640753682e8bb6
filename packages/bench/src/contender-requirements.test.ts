import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { assertNoContenderProblems, contenderProblems } from "./contender-requirements.js";
import type { BenchResults, ContenderResult, SuiteName } from "./results.js";

// The rows of a real full run (bench/results/2026-12-06-runs3.json, every contender measured or absent for a
// reason), edited one row at a time into the failures a broken build would produce.
const REAL_RUN = new URL("../../../bench/results/2026-12-06-runs3.json", import.meta.url);
const real = (): BenchResults => JSON.parse(readFileSync(REAL_RUN, "utf8")) as BenchResults;

/** `results` with contender `id` of `suite`'s group `groupId` replaced by `replacement(contender)`. */
function withRow(results: BenchResults, suite: SuiteName, groupId: string, id: string, replacement: (contender: ContenderResult) => ContenderResult | null): BenchResults {
  let found = false;
  const suites = results.suites.map((s) =>
    s.suite !== suite
      ? s
      : {
          ...s,
          groups: s.groups.map((g) =>
            g.id !== groupId
              ? g
              : {
                  ...g,
                  contenders: g.contenders.flatMap((c) => {
                    if (c.id !== id) return [c];
                    found = true;
                    const next = replacement(c);
                    return next ? [next] : [];
                  }),
                },
          ),
        },
  );
  if (!found) throw new Error(`the real run has no ${suite}/${groupId}/${id}`);
  return { ...results, suites };
}

const failed = (reason: string) => (c: ContenderResult): ContenderResult => ({ id: c.id, label: c.label, role: c.role, status: "failed", reason });
const absent = (reason: string) => (c: ContenderResult): ContenderResult => ({ id: c.id, label: c.label, role: c.role, status: "absent", reason });

describe("contenderProblems", () => {
  it("passes the real run, where GPU and tfjs-node rows are absent", () => {
    const results = real();
    const absentIds = results.suites.flatMap((s) => s.groups.flatMap((g) => g.contenders.filter((c) => c.status === "absent").map((c) => c.id)));
    expect(absentIds).toContain("onnxruntime-cuda");
    expect(contenderProblems(results)).toEqual([]);
  });

  it("fails when ONNX Runtime CPU or TF.js wasm did not run, failed or absent, in train and infer", () => {
    for (const suite of ["train", "infer"] as const) {
      for (const id of ["onnxruntime-cpu", "onnxruntime-cpu-one-session", "tfjs-wasm", "tfjs-wasm-own-kernels"]) {
        const broken = withRow(real(), suite, `${suite}-reference-model`, id, failed("contender process exited with 1: Error: boom"));
        expect(contenderProblems(broken)).toEqual([expect.stringMatching(new RegExp(`^${suite}/${suite}-reference-model/${id} \\(.+\\) failed: contender process exited with 1: Error: boom \\(required`))]);
        const missing = withRow(real(), suite, `${suite}-reference-model`, id, absent("asked for wasm, the trainer started cpu"));
        expect(contenderProblems(missing)).toEqual([expect.stringContaining(`${suite}/${suite}-reference-model/${id} (`)]);
        const dropped = withRow(real(), suite, `${suite}-reference-model`, id, () => null);
        expect(contenderProblems(dropped)).toEqual([`${suite}/${suite}-reference-model/${id} was not run (required)`]);
      }
    }
  });

  it("fails when ONNX Runtime CPU did not run in the pinn suite, and passes when only PyTorch is absent", () => {
    const pinn = (ours: ContenderResult | null): BenchResults => {
      const peer: ContenderResult = { id: "pytorch-cpu", label: "PyTorch CPU (torch.fft.fft2)", role: "peer", status: "absent", reason: "no python3 with torch" };
      const group = { id: "pinn-reference-model", title: "PINN step", kind: "time" as const, unit: "s" as const, contenders: ours ? [ours, peer] : [peer], ratios: [], checks: [], notes: [] };
      return { ...real(), suites: [{ suite: "pinn", wallSeconds: 1, groups: [group], notes: [] }] };
    };
    const measured: ContenderResult = { id: "onnxruntime-cpu", label: "ONNX Runtime CPU (studykit trainer)", role: "ours", status: "ok", samples: [0.2], summary: { samples: 1, min: 0.2, median: 0.2, max: 0.2 } };
    expect(contenderProblems(pinn(measured))).toEqual([]);
    expect(contenderProblems(pinn(absent("onnxruntime-node is not installed")(measured)))).toEqual([expect.stringMatching(/^pinn\/pinn-reference-model\/onnxruntime-cpu \(.+\) absent: onnxruntime-node is not installed \(required/)]);
    expect(contenderProblems(pinn(null))).toEqual(["pinn/pinn-reference-model/onnxruntime-cpu was not run (required)"]);
  });

  it("fails when an installed PyTorch failed, and passes when it is absent", () => {
    const broken = withRow(real(), "train", "train-reference-model", "pytorch-cpu", failed("torch_peer.py exited with 1: RuntimeError"));
    expect(contenderProblems(broken)).toEqual(["train/train-reference-model/pytorch-cpu (PyTorch CPU) failed: torch_peer.py exited with 1: RuntimeError"]);
    const notInstalled = withRow(real(), "train", "train-reference-model", "pytorch-cpu", absent("no python3 with torch"));
    expect(contenderProblems(notInstalled)).toEqual([]);
  });

  it("fails on any failed hashing, npz or study contender, but lets pure-JS TF.js miss its time limit", () => {
    expect(contenderProblems(withRow(real(), "hash", "hash-one-file", "native-sha256File", failed("digest differs from node:crypto")))).toEqual([
      "hash/hash-one-file/native-sha256File (native sha256File) failed: digest differs from node:crypto",
    ]);
    expect(contenderProblems(withRow(real(), "npz", "npz-stored", "studykit-npz", failed("array a differs")))).toHaveLength(1);
    expect(contenderProblems(withRow(real(), "study", "study-quick-preset", "phaseC", failed("E_IO")))).toHaveLength(1);
    expect(contenderProblems(withRow(real(), "train", "train-reference-model", "tfjs-cpu", failed("no training step finished within the 120 s time limit")))).toEqual([]);
  });

  it("fails when a suite crashed (a PyTorch model with other parameters than ours crashes its suite)", () => {
    const results = real();
    const crashed: BenchResults = {
      ...results,
      suites: results.suites.map((s) => (s.suite === "train" ? { ...s, groups: [], notes: ["suite failed: [E_BENCH_MODEL_MISMATCH] PyTorch's reference model has 425443 parameters, studykit's 425442"] } : s)),
    };
    expect(contenderProblems(crashed)).toEqual(["train: suite failed: [E_BENCH_MODEL_MISMATCH] PyTorch's reference model has 425443 parameters, studykit's 425442"]);
  });
});

describe("assertNoContenderProblems (the exit decision of studykit-bench and studykit bench)", () => {
  it("lets the real run through and fails one with a broken row as E_BENCH_CONTENDER, exit 1, naming it", () => {
    expect(() => assertNoContenderProblems(contenderProblems(real()))).not.toThrow();
    const broken = withRow(real(), "infer", "infer-reference-model", "tfjs-wasm", failed("wasm backend did not start"));
    let thrown: unknown;
    try {
      assertNoContenderProblems(contenderProblems(broken));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: "E_BENCH_CONTENDER", userFacing: false });
    expect((thrown as Error).message).toMatch(/^1 problem\(s\) in this run:\n {2}infer\/infer-reference-model\/tfjs-wasm \(.+\) failed: wasm backend did not start \(required/);
  });
});
