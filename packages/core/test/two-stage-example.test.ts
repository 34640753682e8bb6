// The runnable example under examples/ works end to end.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readRunManifest, stableRunId } from "@studykit/core";
import { runNode, useTempDirs } from "./helpers.js";

const tempDir = useTempDirs();
const example = new URL("../examples/two-stage-pipeline.mjs", import.meta.url).pathname;

describe("examples/two-stage-pipeline.mjs", () => {
  it("pretrains, fine-tunes on mixed data found through the manifest, and records a stable run id", async () => {
    const root = join(await tempDir(), "sequential");
    const summary = JSON.parse(await runNode(example, [root]));
    const manifest = await readRunManifest(root);
    expect(summary).toMatchObject({ root, runIdSource: "final", status: "succeeded" });
    expect(summary.runId).toBe(manifest.runId);
    expect(manifest.runId).toBe(stableRunId(manifest.identity));
    expect(manifest.stages.pretrain!.status).toBe("succeeded");
    expect(manifest.stages.finetune!.status).toBe("succeeded");
    expect(manifest.stages.finetune!.metrics.rows).toEqual({ taskB: 150, replayedFromPretrain: 50 });
    // Replaying stage 1's data keeps task A's error below fine-tuning on the new data alone.
    const m = manifest.stages.finetune!.metrics as Record<string, number>;
    expect(m.taskA_mse_after).toBeLessThan(m.taskA_mse_after_without_replay!);
    for (const stage of ["pretrain", "finetune"]) for (const artifact of Object.values(manifest.stages[stage]!.artifacts)) expect(artifact.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await readdir(root)).sort()).toEqual(["finetune", "pretrain", "run-manifest.json"]);
    // The same example in another directory gives the same run id: ids never come from directory names.
    const again = JSON.parse(await runNode(example, [join(await tempDir(), "elsewhere")]));
    expect(again.runId).toBe(summary.runId);
  }, 60_000);
});
