import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAY_FAIL_CONTENDERS, SUITE_NAMES, type BenchResults, type ComparisonGroup } from "../src/index.js";
import { findPython, pythonDependency, skipWithout } from "../../../tools/test-dependencies.js";

// The smoke test CI runs: `--quick` end to end through the built bin. It checks that the harness works
// and that its outputs are well-formed; it asserts nothing about speed.
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const outDir = mkdtempSync(join(tmpdir(), "studykit-bench-test-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Every contender measured, or absent / failed with a reason a reader can act on. Only contenders that may
 * miss a time limit (pure-JS TF.js) may have failed; the bin exits 1 for any other (contenderProblems).
 */
function checkGroup(group: ComparisonGroup): void {
  expect(group.contenders.length, group.id).toBeGreaterThan(0);
  for (const contender of group.contenders) {
    expect(["ours", "peer", "reference"]).toContain(contender.role);
    if (contender.status === "ok") {
      expect(contender.samples.length).toBeGreaterThan(0);
      expect(contender.samples.every((s) => Number.isFinite(s) && s > 0)).toBe(true);
      expect(contender.summary.samples).toBe(contender.samples.length);
      expect(contender.summary.min).toBe(Math.min(...contender.samples));
      expect(contender.summary.max).toBe(Math.max(...contender.samples));
      expect(contender.summary.median).toBeCloseTo(median(contender.samples), 12);
    } else {
      expect(MAY_FAIL_CONTENDERS.has(contender.id) ? ["absent", "failed"] : ["absent"], `${group.id}/${contender.id}: ${contender.reason}`).toContain(contender.status);
      expect(contender.reason.length).toBeGreaterThan(5);
    }
  }
  for (const ratio of group.ratios) {
    const ours = group.contenders.find((c) => c.id === ratio.ours);
    const peer = group.contenders.find((c) => c.id === ratio.peer);
    if (ours?.status === "ok" && peer?.status === "ok" && !ours.work && !peer.work) {
      expect(ratio.ratio).toBeCloseTo(median(peer.samples) / median(ours.samples), 9);
      if (ratio.atLeast !== undefined) expect(ratio.met).toBe(ratio.ratio! >= ratio.atLeast);
    } else if (ours?.status !== "ok" || peer?.status !== "ok") {
      expect(ratio.ratio).toBeNull();
      // The reason names the side that did not run and why.
      const missing = ours?.status !== "ok" ? ours : peer;
      expect(ratio.reason).toBe(missing ? `${missing.label} ${missing.status}: ${(missing as { reason: string }).reason}` : expect.stringMatching(/ was not measured$/));
    }
  }
}

describe("npm run bench -- --quick", () => {
  let run: SpawnSyncReturns<string>;
  beforeAll(() => {
    run = spawnSync(process.execPath, [bin, "--quick", "--out", outDir], { encoding: "utf8", timeout: 280_000 });
  }, 300_000);

  it("exits 0 and reports where the table is", () => {
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(join(outDir, readdirSync(outDir).find((f) => f.endsWith(".md"))!));
  });

  it("writes well-formed JSON covering every suite, with every contender kept", () => {
    const jsonFile = readdirSync(outDir).find((f) => f.endsWith(".json"))!;
    const results = JSON.parse(readFileSync(join(outDir, jsonFile), "utf8")) as BenchResults;
    expect(results.schemaVersion).toBe(1);
    expect(results.quick).toBe(true);
    expect(results.complete).toBe(true);
    expect(results.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(results.machine.cores).toBe(cpus().length);
    expect(results.suites.map((s) => s.suite)).toEqual([...SUITE_NAMES]);
    for (const suite of results.suites) {
      expect(suite.notes.join(" "), suite.suite).not.toMatch(/suite failed/);
      for (const group of suite.groups) checkGroup(group);
    }
    const hash = results.suites.find((s) => s.suite === "hash")!;
    const oneFile = hash.groups.find((g) => g.id === "hash-one-file")!;
    // node:crypto is always there, so the harness measured at least one contender end to end.
    expect(oneFile.contenders.find((c) => c.id === "node-crypto-stream")?.status).toBe("ok");
    // Every engine/back end the trainer offers is listed, measured or absent with a reason.
    const train = results.suites.find((s) => s.suite === "train")!;
    expect(train.groups[0]!.contenders.map((c) => c.id)).toEqual(expect.arrayContaining(["tfjs-wasm", "tfjs-wasm-own-kernels", "tfjs-cpu", "tfjs-tensorflow", "tfjs-tensorflow-gpu", "onnxruntime-cpu", "onnxruntime-cuda", "pytorch-cpu"]));
    // ONNX Runtime CPU and TF.js wasm run on every supported machine: both engines measured in both suites.
    for (const mode of ["train", "infer"]) {
      const group = results.suites.find((s) => s.suite === mode)!.groups[0]!;
      for (const id of ["onnxruntime-cpu", "onnxruntime-cpu-one-session", "tfjs-wasm", "tfjs-wasm-own-kernels"]) {
        const contender = group.contenders.find((c) => c.id === id);
        expect(contender?.status, `${mode}/${id}: ${contender && contender.status !== "ok" ? contender.reason : ""}`).toBe("ok");
      }
    }
    // The PINN step runs on ONNX Runtime CPU everywhere; a PyTorch peer whose first two losses differ from
    // ours (another graph) fails the suite, which the "suite failed" check above catches.
    const pinn = results.suites.find((s) => s.suite === "pinn")!;
    expect(pinn.groups.map((g) => g.id)).toEqual(["pinn-tiny-model"]);
    const pinnOurs = pinn.groups[0]!.contenders.find((c) => c.id === "onnxruntime-cpu");
    expect(pinnOurs?.status, pinnOurs && pinnOurs.status !== "ok" ? pinnOurs.reason : "").toBe("ok");
    // The same training samples as GFLOP/s of the model's convolutions, beside the machine's SGEMM rate.
    const arithmetic = train.groups.find((g) => g.id === "train-arithmetic-rate")!;
    expect(arithmetic.contenders.map((c) => c.id)).toContain("sgemm-ceiling");
    for (const contender of arithmetic.contenders) {
      if (contender.status !== "ok") continue;
      expect(contender.throughput?.unit).toBe("GFLOP/s");
      const measured = train.groups[0]!.contenders.find((c) => c.id === contender.id);
      if (measured?.status === "ok") expect(contender.samples).toEqual(measured.samples);
    }
  });

  // The python peers, found here independently of the harness's own search: a peer this machine has must
  // have been measured, not reported absent (numpy is required under CI; PyTorch only where installed).
  const numpyPython = findPython("numpy");
  const noNumpy = skipWithout(pythonDependency(numpyPython, ["numpy"], ["python3-numpy"]));
  it.skipIf(noNumpy)("measures every python peer this machine has (hashlib and numpy always, PyTorch where installed)", () => {
    const jsonFile = readdirSync(outDir).find((f) => f.endsWith(".json"))!;
    const results = JSON.parse(readFileSync(join(outDir, jsonFile), "utf8")) as BenchResults;
    const hasTorch = findPython("torch") !== null;
    const pythonPeers = new Set(["python-hashlib", "python-hashlib-sequential", "numpy-load", "numpy-mmap-open", "numpy-memmap-slab", "sgemm-ceiling", "numpy-epie", ...(hasTorch ? ["pytorch-cpu", "pytorch-cpu-dft-matmul"] : [])]);
    const seen = new Set<string>();
    for (const suite of results.suites) {
      for (const group of suite.groups) {
        for (const contender of group.contenders) {
          if (!pythonPeers.has(contender.id)) continue;
          seen.add(contender.id);
          expect(contender.status, `${suite.suite}/${group.id}/${contender.id}: ${contender.status === "ok" ? "" : contender.reason}`).toBe("ok");
        }
      }
    }
    expect([...seen].sort()).toEqual([...pythonPeers].sort());
  });

  it("writes the Markdown table and one SVG chart per suite with groups", () => {
    const files = readdirSync(outDir);
    const markdown = readFileSync(join(outDir, files.find((f) => f.endsWith(".md"))!), "utf8");
    for (const suite of SUITE_NAMES) expect(markdown).toContain(`## ${suite}`);
    expect(markdown).toMatch(/\| contender \| role \| min \| median \| max \|/);
    // Every suite measured groups here, so every suite has its chart, named after it.
    const charts = files.filter((f) => f.endsWith(".svg"));
    expect(charts.map((chart) => /-([a-z]+)\.svg$/.exec(chart)?.[1]).sort()).toEqual([...SUITE_NAMES].sort());
    for (const chart of charts) {
      const svg = readFileSync(join(outDir, chart), "utf8");
      expect(svg.startsWith("<svg")).toBe(true);
      expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
      expect(markdown).toContain(`](${chart})`);
    }
    // No temp files left behind by the atomic writes.
    expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("bench command-line errors", () => {
  it("refuses an unknown suite with a coded error and exit 2", () => {
    const result = spawnSync(process.execPath, [bin, "--suite", "nope", "--out", outDir], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_BENCH_USAGE\]: unknown bench suite "nope": use one of hash, npz, train, infer, study/);
  });
});
