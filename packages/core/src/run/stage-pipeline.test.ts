import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useTempDirs } from "../../test/helpers.js";
import { runPipeline, type PipelineDefinition, type PipelineStage } from "./stage-pipeline.js";
import { stableRunId } from "../identity/run-identity.js";

const tempDir = useTempDirs();

function definition(events: string[], overrides: { failFinetune?: boolean; mode?: "strict" | "best-effort"; finalize?: boolean } = {}): PipelineDefinition {
  const pretrain: PipelineStage = {
    name: "pretrain",
    artifacts: { data: "stage1/data.json", model: "stage1/model.json" },
    async run(context) {
      // The whole contract is on disk before the first stage runs.
      const manifest = JSON.parse(await readFile(join(context.root, "run-manifest.json"), "utf8"));
      events.push(`pretrain sees stages ${Object.keys(manifest.stages).join(",")} with ${manifest.stages.finetune.artifacts.model.path}`);
      if (overrides.finalize !== false) await context.finalizeIdentity({ rows: 3 });
      await writeFile(context.paths.data!, JSON.stringify([1, 2, 3]));
      await writeFile(context.paths.model!, JSON.stringify({ w: 1 }));
      return { metrics: { loss: 0.25 } };
    },
  };
  const finetune: PipelineStage = {
    name: "finetune",
    dependsOn: ["pretrain"],
    artifacts: { mixed: "stage2/mixed.json", model: "stage2/model.json" },
    async run(context) {
      const upstream = await context.upstream("pretrain");
      const old = JSON.parse(await readFile(upstream.data!, "utf8")) as number[];
      const mixed = [...old.slice(0, 1), 10, 11]; // one replayed row plus new data
      events.push(`finetune read ${upstream.data} after pretrain loss ${(await context.upstreamMetrics("pretrain")).loss}`);
      if (overrides.failFinetune) throw Object.assign(new Error("diverged"), { code: "E_DIVERGED" });
      await writeFile(context.paths.mixed!, JSON.stringify(mixed));
      await writeFile(context.paths.model!, JSON.stringify({ w: 2 }));
      return { metrics: { replayed: 1, fresh: 2 } };
    },
  };
  return {
    identity: { stage: "seq", config: { replay: 1 / 3 }, seeds: 5, codeVersion: { packages: {}, git: null } },
    stages: [pretrain, finetune],
    ...(overrides.mode ? { mode: overrides.mode } : {}),
  };
}

describe("runPipeline", () => {
  it("runs the stages in order, stage 2 reading stage 1's outputs through the manifest", async () => {
    const root = join(await tempDir(), "run");
    const events: string[] = [];
    const result = await runPipeline(root, definition(events));
    expect(events).toEqual(["pretrain sees stages pretrain,finetune with stage2/model.json", `finetune read ${join(root, "stage1", "data.json")} after pretrain loss 0.25`]);
    expect(result.ran).toEqual(["pretrain", "finetune"]);
    expect(result.manifest.status).toBe("succeeded");
    expect(result.manifest.stages.finetune!.metrics).toEqual({ replayed: 1, fresh: 2 });
    expect(result.runIdSource).toBe("final");
    expect(result.runId).toBe(stableRunId(result.run.identity));
    expect(JSON.parse(await readFile(join(root, "stage2", "mixed.json"), "utf8"))).toEqual([1, 10, 11]);
  });

  it("stage 2 alone fails fast with E_MISSING_ARTIFACT and is recorded as failed", async () => {
    const root = join(await tempDir(), "run");
    const events: string[] = [];
    await expect(runPipeline(root, definition(events), { only: ["finetune"] })).rejects.toMatchObject({ code: "E_MISSING_ARTIFACT", message: expect.stringContaining("stage1/data.json") });
    expect(events).toEqual([]);
    const manifest = JSON.parse(await readFile(join(root, "run-manifest.json"), "utf8"));
    expect(manifest.stages.finetune).toMatchObject({ status: "failed", error: { code: "E_MISSING_ARTIFACT" } });
    expect(manifest.stages.pretrain.status).toBe("pending");
  });

  it("a failing stage is recorded, stops the pipeline, and a resume reruns only what is left", async () => {
    const root = join(await tempDir(), "run");
    const events: string[] = [];
    await expect(runPipeline(root, definition(events, { failFinetune: true }))).rejects.toMatchObject({ code: "E_DIVERGED" });
    const failed = JSON.parse(await readFile(join(root, "run-manifest.json"), "utf8"));
    expect(failed).toMatchObject({ status: "failed", stages: { pretrain: { status: "succeeded" }, finetune: { status: "failed", error: { code: "E_DIVERGED", message: "diverged" } } } });
    expect(await readdir(join(root, "stage2"))).toEqual([]);

    events.length = 0;
    const resumed = await runPipeline(root, definition(events), { resume: true });
    expect(resumed.ran).toEqual(["finetune"]);
    expect(events).toHaveLength(1);
    expect(resumed.manifest).toMatchObject({ status: "succeeded", stages: { finetune: { attempts: 2 } } });
    await expect(runPipeline(root, definition(events))).rejects.toMatchObject({ code: "E_RUN_EXISTS" });
  });

  it("resume refuses a pipeline whose layout differs from the run on disk", async () => {
    const root = join(await tempDir(), "run");
    await runPipeline(root, definition([]));
    const changed = definition([]);
    const stages = [{ ...changed.stages[0]!, artifacts: { data: "elsewhere/data.json", model: "stage1/model.json" } }, changed.stages[1]!];
    await expect(runPipeline(root, { ...changed, stages }, { resume: true })).rejects.toMatchObject({ code: "E_PLAN_INVALID", message: expect.stringContaining("elsewhere/data.json") });
  });

  it("best-effort mode without finalisation records a fallback run id; strict leaves it null", async () => {
    const warnings: string[] = [];
    const loose = await runPipeline(join(await tempDir(), "b"), definition([], { mode: "best-effort", finalize: false }), { onWarning: (m) => warnings.push(m) });
    expect(loose).toMatchObject({ runIdSource: "fallback", runId: expect.stringMatching(/^fallback-/) });
    expect(warnings).toHaveLength(1);
    const strict = await runPipeline(join(await tempDir(), "s"), definition([], { finalize: false }));
    expect(strict).toMatchObject({ runId: null, runIdSource: null });
    await expect(strict.run.resolveRunId()).rejects.toMatchObject({ code: "E_IDENTITY_NOT_FINAL" });
  });
});
