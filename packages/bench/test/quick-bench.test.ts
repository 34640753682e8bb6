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
  // The limit only catches a hang: --quick takes 80-140 s on an idle 2-core machine, but over 280 s when the
  // machine also runs other test suites (seen at load average 30), and a slow machine is not a failure.
  beforeAll(() => {
    run = spawnSync(process.execPath, [bin, "--quick", "--out", outDir], { encoding: "utf8", timeout: 1_200_000 });
  }, 1_230_000);

  it("exits 0 and reports where the table is", () => {
    expect(run.signal, `bench --quick was killed by ${run.signal} (ran past the 20-minute hang limit)`).toBeNull();
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(join(outDir, readdirSync(outDir).find((f) => f.endsWith(".md"))!));
  });

  it("writes well-formed JSON covering every suite, with every contender kept", () => {
    const jsonFile = readdirSync(outDir).find((f) => f.endsWith(".json"))!;
    const results = JSON.parse(readFileSync(join(outDir, jsonFile), "utf8")) as BenchResults;
    expect(results.schemaVersion).toBe(2);
    expect(results.quick).toBe(true);
    expect(results.complete).toBe(true);
    expect(results.runs).toBe(1);
    // The code that produced the numbers: this checkout's commit and whether tracked files had changes.
    // (HEAD may have moved on while the bench ran: the recorded commit must be HEAD or an ancestor of it.)
    expect(results.code.commit).toMatch(/^[0-9a-f]{40}$/);
    const ancestry = spawnSync("git", ["merge-base", "--is-ancestor", results.code.commit!, "HEAD"], { cwd: fileURLToPath(new URL(".", import.meta.url)) });
    expect(ancestry.status, `${results.code.commit} is not HEAD or one of its ancestors`).toBe(0);
    expect(typeof results.code.dirty).toBe("boolean");
    expect(results.machine.os.length).toBeGreaterThan(0);
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
    // node:crypto at its best (1 MiB reads) beside its default, each ratio stating the threads on both sides.
    expect(oneFile.contenders.find((c) => c.id === "node-crypto-stream-1mib")?.status).toBe("ok");
    const best = oneFile.ratios.find((r) => r.ours === "native-sha256File" && r.peer === "node-crypto-stream-1mib");
    expect(best?.threads).toEqual({ ours: expect.objectContaining({ threads: 1, processes: 1 }), peer: { threads: 1, processes: 1 } });
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
    // The second group is the study's own gridsize-2 step: the strided compact network per pattern, probe-weighted canvas.
    expect(pinn.groups.map((g) => g.id)).toEqual(["pinn-tiny-model", "pinn-quick-study-step"]);
    expect(pinn.groups[1]!.title).toMatch(/compactStrided model per pattern, .*\(probe-weighted average\)/);
    for (const group of pinn.groups) {
      const pinnOurs = group.contenders.find((c) => c.id === "onnxruntime-cpu");
      expect(pinnOurs?.status, `${group.id}: ${pinnOurs && pinnOurs.status !== "ok" ? pinnOurs.reason : ""}`).toBe("ok");
    }
    // Every ratio between two measured contenders of these suites states the threads of both sides.
    for (const suite of results.suites.filter((s) => ["hash", "npz", "train", "infer", "fft", "epie"].includes(s.suite))) {
      for (const group of suite.groups) {
        for (const ratio of group.ratios) {
          if (ratio.ratio === null) continue;
          expect(ratio.threads?.ours?.threads, `${group.id}: ${ratio.ours}`).toBeGreaterThan(0);
          expect(ratio.threads?.peer?.threads, `${group.id}: ${ratio.peer}`).toBeGreaterThan(0);
        }
      }
    }
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
    const pythonPeers = new Set(["python-hashlib", "python-hashlib-sequential", "numpy-load", "numpy-mmap-open", "numpy-memmap-slab", "sgemm-ceiling", "numpy-epie", ...(hasTorch ? ["pytorch-cpu", "pytorch-cpu-subpixel", "pytorch-cpu-dft-matmul"] : [])]);
    // numpy's own conversions beside every decode kernel, into a new and into an existing array.
    const decodeGroups = results.suites.find((s) => s.suite === "npz")!.groups.filter((g) => g.id.startsWith("decode-") && g.id !== "decode-crc32");
    expect(decodeGroups.length).toBe(10);
    for (const group of decodeGroups) {
      const numpy = group.contenders.find((c) => c.id === "numpy");
      expect(numpy?.status, `${group.id}: ${numpy && numpy.status !== "ok" ? numpy.reason : ""}`).toBe("ok");
    }
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

  // PyTorch runs from our exported start (weights, batch, targets) with our loss and Adam settings: its
  // first losses must agree with ONNX Runtime's, or its row fails (and the bin exits 1). PyTorch is checked
  // where installed (CI installs numpy only, as for the other PyTorch rows); the rest everywhere.
  it("times the study's strided compact model and PyTorch from our start, literal and sub-pixel, beside every ONNX Runtime rewrite", () => {
    const jsonFile = readdirSync(outDir).find((f) => f.endsWith(".json"))!;
    const results = JSON.parse(readFileSync(join(outDir, jsonFile), "utf8")) as BenchResults;
    const hasTorch = findPython("torch") !== null;
    if (!hasTorch) console.warn("PyTorch rows not checked: no python3 with torch here (apt-get install -y python3-torch)");
    for (const mode of ["train", "infer"]) {
      const groups = results.suites.find((s) => s.suite === mode)!.groups;
      expect(groups.map((g) => g.id).slice(0, 2)).toEqual([`${mode}-reference-model`, `${mode}-compactStrided-model-c1`]);
      for (const group of groups.slice(0, 2)) {
        // ONNX Runtime's exported inference model rewrites every ×2 upsample + 3×3 conv; its row says so.
        if (mode === "infer") expect(group.contenders.find((c) => c.id === "onnxruntime-cpu")?.computes).toMatch(/sub-pixel convolutions at the low resolution/);
        if (!hasTorch) {
          expect(group.contenders.find((c) => c.id === "onnxruntime-cpu")?.status).toBe("ok");
          continue;
        }
        for (const id of ["onnxruntime-cpu", "pytorch-cpu", "pytorch-cpu-subpixel"]) {
          const contender = group.contenders.find((c) => c.id === id);
          expect(contender?.status, `${group.id}/${id}: ${contender && contender.status !== "ok" ? contender.reason : ""}`).toBe("ok");
        }
        // Every ratio against PyTorch states the threads on both sides.
        const ratio = group.ratios.find((r) => r.ours === "onnxruntime-cpu" && r.peer === "pytorch-cpu")!;
        expect(ratio.threads?.ours?.threads).toBe(2);
        expect(ratio.threads?.peer?.threads).toBe(2);
        // The sub-pixel peer says what it computes instead, as our rewriting rows do.
        expect(group.contenders.find((c) => c.id === "pytorch-cpu-subpixel")?.computes).toMatch(/sub-pixel convolutions at the low resolution: \d+% of the described multiply-adds/);
        if (mode === "train") expect(group.notes.join("\n")).toMatch(/^First 3 training losses from the same start .*ONNX Runtime CPU \[[^\]]+\]; PyTorch CPU \[/m);
      }
    }
    // The retired goal stays retired: no training ratio against TF.js wasm carries a goal.
    const train = results.suites.find((s) => s.suite === "train")!;
    expect(train.groups[0]!.ratios.filter((r) => r.peer.startsWith("tfjs-wasm") && r.atLeast !== undefined)).toEqual([]);
  });

  it("writes the Markdown table and one SVG chart per suite with groups", () => {
    const files = readdirSync(outDir);
    const markdown = readFileSync(join(outDir, files.find((f) => f.endsWith(".md"))!), "utf8");
    for (const suite of SUITE_NAMES) expect(markdown).toContain(`## ${suite}`);
    expect(markdown).toMatch(/\| contender \| role \| threads \| min \| median \| max \|/);
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

describe("npm run bench -- --quick --runs 2", () => {
  it("runs the whole bench twice and quotes the median of the run medians, keeping both runs", () => {
    const runsDir = mkdtempSync(join(tmpdir(), "studykit-bench-runs-"));
    try {
      const result = spawnSync(process.execPath, [bin, "--quick", "--runs", "2", "--suite", "hash", "--out", runsDir], { encoding: "utf8", timeout: 120_000 });
      expect(result.status, result.stderr).toBe(0);
      const results = JSON.parse(readFileSync(join(runsDir, readdirSync(runsDir).find((f) => f.endsWith(".json"))!), "utf8")) as BenchResults;
      expect(results.runs).toBe(2);
      expect(results.perRun).toHaveLength(2);
      const combined = results.suites[0]!.groups.find((g) => g.id === "hash-one-file")!;
      const perRun = results.perRun!.map((run) => run[0]!.groups.find((g) => g.id === "hash-one-file")!);
      const ours = combined.contenders.find((c) => c.id === "native-sha256File")!;
      const peer = combined.contenders.find((c) => c.id === "node-crypto-stream")!;
      if (ours.status !== "ok" || peer.status !== "ok") throw new Error("native sha256File and node:crypto must both run");
      const runMedian = (group: ComparisonGroup, id: string) => median((group.contenders.find((c) => c.id === id) as { samples: number[] }).samples);
      // Each run's median, then the median of those (the mean of two), and each run's own ratio beside it.
      expect(ours.samples).toEqual(perRun.map((g) => runMedian(g, "native-sha256File")));
      expect(ours.runSamples).toEqual(perRun.map((g) => (g.contenders.find((c) => c.id === "native-sha256File") as { samples: number[] }).samples));
      expect(ours.summary.median).toBeCloseTo((ours.samples[0]! + ours.samples[1]!) / 2, 12);
      const ratio = combined.ratios.find((r) => r.ours === "native-sha256File" && r.peer === "node-crypto-stream")!;
      expect(ratio.ratio).toBeCloseTo(peer.summary.median / ours.summary.median, 9);
      expect(ratio.perRun).toHaveLength(2);
      for (const [i, group] of perRun.entries()) expect(ratio.perRun![i]).toBeCloseTo(runMedian(group, "node-crypto-stream") / runMedian(group, "native-sha256File"), 9);
      const markdown = readFileSync(join(runsDir, readdirSync(runsDir).find((f) => f.endsWith(".md"))!), "utf8");
      expect(markdown).toContain("median of 2 run medians");
    } finally {
      rmSync(runsDir, { recursive: true, force: true });
    }
  });

  it("refuses --runs 0 with a coded error and exit 2", () => {
    const result = spawnSync(process.execPath, [bin, "--quick", "--runs", "0", "--suite", "hash"], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_BENCH_USAGE\]: --runs must be a whole number from 1 to 20, got "0"/);
  });
});

describe("bench command-line errors", () => {
  it("refuses an unknown suite with a coded error and exit 2", () => {
    const result = spawnSync(process.execPath, [bin, "--suite", "nope", "--out", outDir], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_BENCH_USAGE\]: unknown bench suite "nope": use one of hash, npz, train, infer, study/);
  });
});
