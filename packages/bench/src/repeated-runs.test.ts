import { describe, expect, it } from "vitest";
import { contenderProblems } from "./contender-requirements.js";
import { renderMarkdown } from "./markdown-report.js";
import { combineRuns } from "./repeated-runs.js";
import { parseRunCount } from "./run-bench.js";
import { RESULTS_SCHEMA_VERSION, type BenchResults, type ComparisonGroup, type ContenderResult, type SuiteResult } from "./results.js";

const TWO_THREADS = { threads: 2, processes: 1 };

function ok(id: string, role: ContenderResult["role"], samples: number[]): ContenderResult {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[sorted.length >> 1]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  return { id, label: id, role, status: "ok", samples, summary: { min: sorted[0]!, median, max: sorted.at(-1)!, samples: samples.length }, parallelism: TWO_THREADS };
}

function group(ours: ContenderResult, peer: ContenderResult, ratio: number | null, notes: string[] = []): ComparisonGroup {
  return {
    id: "g",
    title: "group",
    kind: "time",
    unit: "s",
    work: { amount: 10, unit: "samples" },
    contenders: [ours, peer],
    ratios: [{ ours: ours.id, peer: peer.id, ratio, atLeast: 1 }],
    checks: [],
    notes,
  };
}

function suite(g: ComparisonGroup, notes: string[] = []): SuiteResult {
  return { suite: "train", wallSeconds: 2, groups: [g], notes };
}

describe("combineRuns (--runs K)", () => {
  // Run medians: ours 2, 4, 3 s; peer 6, 6, 12 s. Median of medians: ours 3, peer 6 -> ratio 2.
  const runs = [
    [suite(group(ok("ours", "ours", [1, 2, 9]), ok("peer", "peer", [6]), 3), ["shared note", "only in run 1"])],
    [suite(group(ok("ours", "ours", [4]), ok("peer", "peer", [5, 7]), 1.5), ["shared note"])],
    [suite(group(ok("ours", "ours", [3, 3]), ok("peer", "peer", [12]), 4), ["shared note"])],
  ];
  const [combined] = combineRuns(runs);

  it("quotes the median of the run medians with their min and max, keeping every run's samples", () => {
    const ours = combined!.groups[0]!.contenders.find((c) => c.id === "ours")!;
    expect(ours.status).toBe("ok");
    if (ours.status !== "ok") return;
    expect(ours.samples).toEqual([2, 4, 3]);
    expect(ours.summary).toEqual({ min: 2, median: 3, max: 4, samples: 3 });
    expect(ours.runSamples).toEqual([[1, 2, 9], [4], [3, 3]]);
    expect(ours.throughput).toEqual({ value: 10 / 3, unit: "samples/s" });
    expect(ours.parallelism).toEqual(TWO_THREADS);
  });

  it("computes the ratio from the medians of medians and lists each run's ratio and the goal", () => {
    const ratio = combined!.groups[0]!.ratios[0]!;
    expect(ratio.ratio).toBe(2);
    expect(ratio.atLeast).toBe(1);
    expect(ratio.met).toBe(true);
    expect(ratio.perRun).toEqual([3, 1.5, 4]);
    expect(ratio.threads).toEqual({ ours: TWO_THREADS, peer: TWO_THREADS });
  });

  it("keeps notes all runs share once and names the run of the others; sums wall time", () => {
    expect(combined!.notes).toEqual(["shared note", "run 1 of 3: only in run 1"]);
    expect(combined!.wallSeconds).toBe(6);
  });

  it("reports a contender that failed in one run as failed, naming the run, so the run fails", () => {
    const broken = [runs[0]!, [suite(group(ok("ours", "ours", [4]), { id: "peer", label: "peer", role: "peer", status: "failed", reason: "first losses disagree" }, null))]];
    const [withFailure] = combineRuns(broken);
    const peer = withFailure!.groups[0]!.contenders.find((c) => c.id === "peer")!;
    expect(peer).toMatchObject({ status: "failed", reason: "run 2 of 2: first losses disagree" });
    expect(withFailure!.groups[0]!.ratios[0]).toMatchObject({ ratio: null, perRun: [3, null] });
    expect(contenderProblems({ suites: [withFailure!] })).toContain("train/g/peer (peer) failed: run 2 of 2: first losses disagree");
  });

  it("returns a single run unchanged", () => {
    expect(combineRuns([runs[0]!])).toEqual(runs[0]);
  });

  it("shows the threads of both sides, every run's ratio and the commit in the Markdown table", () => {
    const results: BenchResults = {
      schemaVersion: RESULTS_SCHEMA_VERSION,
      startedAt: "2026-12-06T08:00:00.000Z",
      date: "2026-12-06",
      quick: false,
      complete: true,
      command: "npm run bench -- --runs 3",
      code: { commit: "a".repeat(40), dirty: false },
      machine: { cpuModel: "cpu", cores: 2, cpuFlags: [], memoryGiB: 4, platform: "linux-x64", node: "v22", native: { implementation: "native", sha256Backend: "x86-sha-ni" }, loadAverageAtStart: 0, os: "Linux 6" },
      wallSeconds: 1,
      runs: 3,
      suites: [combined!],
      perRun: runs,
    };
    const markdown = renderMarkdown(results);
    expect(markdown).toContain(`commit \`${"a".repeat(40)}\` (clean)`);
    expect(markdown).toContain("| ours ÷ peer | 2 threads ÷ 2 threads | **2.00×** | 3.00×, 1.50×, 4.00× (1.50–4.00×) | ≥ 1× met |");
    expect(markdown).toContain("median of 3 run medians");
  });
});

describe("parseRunCount", () => {
  it("takes whole numbers from 1 to 20 and refuses anything else with E_BENCH_USAGE", () => {
    expect(parseRunCount("3")).toBe(3);
    expect(parseRunCount(1)).toBe(1);
    for (const bad of ["0", "21", "2.5", "three", "", "-1"]) {
      expect(() => parseRunCount(bad), bad).toThrow(expect.objectContaining({ code: "E_BENCH_USAGE", message: expect.stringContaining(`got "${bad}"`) }));
    }
  });
});
