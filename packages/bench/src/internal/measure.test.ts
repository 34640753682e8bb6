import { describe, expect, it } from "vitest";
import { absent, GroupBuilder, timeRepeated } from "./measure.js";
import { renderMarkdown } from "../markdown-report.js";
import type { BenchResults } from "../results.js";

describe("GroupBuilder", () => {
  it("keeps absent and failed contenders with their reasons and computes ours ÷ peer ratios from medians", async () => {
    const group = new GroupBuilder({ id: "g", title: "G", kind: "time", work: { amount: 2e9, unit: "bytes" } });
    group.addSamples({ id: "ours", label: "Ours", role: "ours" }, [1, 2, 3]);
    group.addSamples({ id: "peer", label: "Peer", role: "peer" }, [4, 5, 9]);
    await group.run({ id: "gone", label: "Gone", role: "peer" }, async () => absent("not installed here"));
    await group.run({ id: "broken", label: "Broken", role: "peer" }, async () => {
      throw Object.assign(new Error("bad digest\nstack"), { code: "E_X" });
    });
    const result = group.finish([{ kind: "ratio", ours: "ours", peer: "peer", atLeast: 3 }]);
    expect(result.contenders.map((c) => c.status)).toEqual(["ok", "ok", "absent", "failed"]);
    expect(result.contenders[2]).toMatchObject({ reason: "not installed here" });
    expect(result.contenders[3]).toMatchObject({ reason: "[E_X] bad digest" });
    expect(result.contenders[0]).toMatchObject({ throughput: { value: 1, unit: "GB/s" } });
    expect(result.ratios).toContainEqual({ ours: "ours", peer: "peer", ratio: 2.5, atLeast: 3, met: false });
    expect(result.ratios.find((r) => r.peer === "gone")).toMatchObject({ ratio: null, reason: "Gone absent: not installed here" });
  });

  it("compares rates when contenders do different amounts of work", () => {
    const group = new GroupBuilder({ id: "g", title: "G", kind: "time", work: { amount: 8, unit: "bytes" } });
    group.addSamples({ id: "all", label: "All", role: "ours" }, [2]);
    group.addSamples({ id: "one", label: "One", role: "reference", work: { amount: 1, unit: "bytes" } }, [1]);
    // 8 bytes in 2 s against 1 byte in 1 s: four times the rate.
    expect(group.finish().ratios[0]!.ratio).toBe(4);
  });

  it("reports floating-point work as GFLOP/s and compares contenders by rate", () => {
    const group = new GroupBuilder({ id: "g", title: "G", kind: "time" });
    group.addSamples({ id: "step", label: "Step", role: "ours", work: { amount: 40e9, unit: "flops" } }, [0.4, 0.5, 0.6]);
    group.addSamples({ id: "gemm", label: "GEMM", role: "reference", work: { amount: 16e9, unit: "flops" } }, [0.1]);
    const result = group.finish();
    expect(result.contenders[0]).toMatchObject({ throughput: { value: 80, unit: "GFLOP/s" } });
    expect(result.contenders[1]).toMatchObject({ throughput: { value: 160, unit: "GFLOP/s" } });
    expect(result.ratios).toEqual([{ ours: "step", peer: "gemm", ratio: 0.5 }]);
  });

  it("reports position updates as updates/s", () => {
    const group = new GroupBuilder({ id: "g", title: "G", kind: "time", work: { amount: 40_000, unit: "updates" } });
    group.addSamples({ id: "epie", label: "ePIE", role: "ours" }, [0.5, 0.4, 0.6]);
    expect(group.finish().contenders[0]).toMatchObject({ throughput: { value: 80_000, unit: "updates/s" } });
  });

  it("states each side's threads and processes in every ratio, and keeps a contender's rewrite", async () => {
    const group = new GroupBuilder({ id: "g", title: "G", kind: "time" });
    const twoReplicas = { threads: 1, processes: 2, detail: "replicas" };
    group.addSamples({ id: "ours", label: "Ours", role: "ours", parallelism: twoReplicas, computes: "upsample + conv as sub-pixel convolutions" }, [1]);
    group.addSamples({ id: "peer", label: "Peer", role: "peer", parallelism: { threads: 2, processes: 1 } }, [3]);
    await group.run({ id: "gone", label: "Gone", role: "peer" }, async () => absent("not here"));
    const result = group.finish();
    expect(result.ratios[0]).toEqual({ ours: "ours", peer: "peer", ratio: 3, threads: { ours: twoReplicas, peer: { threads: 2, processes: 1 } } });
    expect(result.ratios[1]).toMatchObject({ ours: "ours", peer: "gone", ratio: null, threads: { ours: twoReplicas, peer: null } });
    expect(result.contenders[0]).toMatchObject({ computes: "upsample + conv as sub-pixel convolutions", parallelism: twoReplicas });
  });

  it("checks value goals on latency groups", () => {
    const group = new GroupBuilder({ id: "g", title: "G", kind: "latency" });
    group.addSamples({ id: "a", label: "A", role: "ours" }, [3, 30, 4]);
    const result = group.finish([{ kind: "value", contender: "a", atMost: 5 }]);
    expect(result.ratios).toEqual([]);
    expect(result.checks).toEqual([{ contender: "a", median: 4, atMost: 5, met: true }]);
  });
});

describe("timeRepeated", () => {
  it("discards warm-up runs and stops at the budget after the minimum repetitions", async () => {
    let calls = 0;
    const samples = await timeRepeated(() => new Promise((resolve) => setTimeout(resolve, 5, calls++)), { warmup: 2, repetitions: 50, minRepetitions: 3, budgetSeconds: 0 });
    expect(samples).toHaveLength(3);
    expect(calls).toBe(5);
    expect(samples.every((s) => s >= 0.004)).toBe(true);
  });
});

describe("renderMarkdown", () => {
  it("lists absent contenders with the reason and ratios with their goals", () => {
    const group = new GroupBuilder({ id: "g", title: "One file", kind: "time" });
    group.addSamples({ id: "ours", label: "Ours", role: "ours" }, [1]);
    group.addSamples({ id: "peer", label: "Peer | pipe", role: "peer" }, [2]);
    group.addUnavailable({ id: "gpu", label: "GPU", role: "ours" }, "absent", "no CUDA device");
    const results: BenchResults = {
      schemaVersion: 2,
      startedAt: "2026-01-02T03:04:05.000Z",
      date: "2026-01-02",
      quick: false,
      complete: true,
      command: "npm run bench",
      code: { commit: "0123456789abcdef0123456789abcdef01234567", dirty: true },
      machine: { cpuModel: "CPU X", cores: 2, cpuFlags: ["sha_ni"], memoryGiB: 8, platform: "linux-x64", node: "v20", native: { implementation: "native", sha256Backend: "x86-sha-ni" }, loadAverageAtStart: 0.5, os: "Linux 6.1" },
      wallSeconds: 3,
      runs: 1,
      suites: [{ suite: "hash", wallSeconds: 3, groups: [group.finish([{ kind: "ratio", ours: "ours", peer: "peer", atLeast: 1.5 }])], notes: [] }],
    };
    const text = renderMarkdown(results, new Map([["hash", "2026-01-02-hash.svg"]]));
    expect(text).toContain("CPU X (2 cores, sha_ni), 8 GiB, Linux 6.1, linux-x64, Node v20");
    expect(text).toContain("commit `0123456789abcdef0123456789abcdef01234567` (**dirty**: uncommitted changes to tracked files)");
    expect(text).toContain("| GPU | ours | not stated | **absent**: no CUDA device |");
    expect(text).toContain("| Ours ÷ Peer \\| pipe | not stated | **2.00×** | ≥ 1.5× met |");
    expect(text).toContain("![hash chart](2026-01-02-hash.svg)");
  });
});
