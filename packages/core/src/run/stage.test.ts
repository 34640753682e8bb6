import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useTempDirs } from "../../test/helpers.js";
import { createRun, openRun, type RunPlan } from "./run-manifest.js";

const tempDir = useTempDirs();
const plan: RunPlan = {
  identity: { stage: "two-stage", config: { a: 1 }, seeds: 1, codeVersion: { packages: {}, git: null } },
  stages: [
    { name: "pretrain", artifacts: { data: "pretrain/data/train.json", model: "pretrain/model.json", logs: { path: "pretrain/logs", kind: "dir" } } },
    { name: "finetune", dependsOn: ["pretrain"], artifacts: { model: "finetune/model.json", extra: { path: "finetune/extra.txt", optional: true } } },
  ],
};
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

async function completePretrain(root: string) {
  const run = await openRun(root);
  const stage = run.stage("pretrain");
  await stage.begin();
  await writeFile(stage.paths.data!, "[1,2,3]");
  await writeFile(stage.paths.model!, '{"w":1}');
  return stage.complete({ metrics: { loss: 0.5 } });
}

describe("stage handles", () => {
  it("paths are absolute paths from the manifest; begin creates only the stage's own directories", async () => {
    const root = join(await tempDir(), "run");
    const run = await createRun(root, plan);
    const stage = run.stage("pretrain");
    expect(stage.paths).toEqual({ data: join(root, "pretrain", "data", "train.json"), model: join(root, "pretrain", "model.json"), logs: join(root, "pretrain", "logs") });
    await stage.begin();
    expect((await readdir(root)).sort()).toEqual(["pretrain", "run-manifest.json"]);
    expect((await readdir(join(root, "pretrain"))).sort()).toEqual(["data", "logs"]);
    expect((await run.read()).stages.pretrain).toMatchObject({ status: "running", attempts: 1 });
    expect((await run.read()).status).toBe("running");
    expect(() => run.stage("nope")).toThrow(expect.objectContaining({ code: "E_STAGE_STATE" }));
  });

  it("complete records output hashes, sizes, metrics and duration", async () => {
    const root = join(await tempDir(), "run");
    await createRun(root, plan);
    const record = await completePretrain(root);
    expect(record).toMatchObject({ status: "succeeded", metrics: { loss: 0.5 }, error: null });
    expect(record.artifacts.data).toMatchObject({ sha256: sha256("[1,2,3]"), bytes: 7 });
    expect(record.artifacts.model).toMatchObject({ sha256: sha256('{"w":1}'), bytes: 7 });
    // Without a reported duration, the stage's duration is the span between its recorded start and finish.
    expect(Date.parse(record.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(record.startedAt!));
    expect(record.durationMs).toBe(Date.parse(record.finishedAt!) - Date.parse(record.startedAt!));
  });

  it("complete takes reported hashes (object or hex string) and a duration", async () => {
    const root = join(await tempDir(), "run");
    const run = await createRun(root, plan);
    const stage = run.stages.pretrain!;
    await stage.begin();
    await writeFile(stage.paths.data!, "d");
    await writeFile(stage.paths.model!, "m");
    const record = await stage.complete({ outputs: { data: "b".repeat(64), model: { sha256: "c".repeat(64) } }, duration: 1234 });
    expect(record).toMatchObject({ durationMs: 1234, artifacts: { data: { sha256: "b".repeat(64), bytes: 1 }, model: { sha256: "c".repeat(64) } } });
    await expect(run.stages.finetune!.complete({ outputs: { nope: "a".repeat(64) } })).rejects.toMatchObject({ code: "E_PLAN_INVALID", message: expect.stringContaining("nope") });
  });

  it("complete refuses while a promised artifact is absent; optional ones may be", async () => {
    const root = join(await tempDir(), "run");
    const run = await createRun(root, plan);
    const stage = run.stage("pretrain");
    await expect(stage.complete()).rejects.toMatchObject({ code: "E_MISSING_ARTIFACT" });
    await stage.begin();
    await writeFile(stage.paths.data!, "x");
    await expect(stage.complete()).rejects.toMatchObject({ code: "E_MISSING_ARTIFACT", message: expect.stringContaining("pretrain/model.json") });
    await writeFile(stage.paths.model!, "y");
    await expect(stage.complete()).resolves.toMatchObject({ status: "succeeded" });
    await expect(stage.begin()).rejects.toMatchObject({ code: "E_STAGE_STATE" });

    const finetune = run.stage("finetune");
    await finetune.begin();
    await writeFile(finetune.paths.model!, "z");
    await expect(finetune.complete()).resolves.toMatchObject({ status: "succeeded", artifacts: { extra: { sha256: null } } });
    expect((await run.read()).status).toBe("succeeded");
  });

  it("verifyRecorded vouches for a succeeded stage's files only while each has its recorded size and SHA-256", async () => {
    const root = join(await tempDir(), "run");
    const run = await createRun(root, plan);
    expect(await run.stage("pretrain").verifyRecorded()).toEqual(['stage "pretrain" is pending, not succeeded']);
    await completePretrain(root);
    expect(await run.stage("pretrain").verifyRecorded()).toEqual([]);
    await writeFile(join(root, "pretrain", "model.json"), '{"w":2}'); // same size, other content
    const changed = await run.stage("pretrain").verifyRecorded();
    expect(changed).toHaveLength(1);
    expect(changed[0]).toContain("pretrain/model.json");
    expect(changed[0]).toContain(sha256('{"w":1}'));
    await writeFile(join(root, "pretrain", "data", "train.json"), "[1,2]");
    expect(await run.stage("pretrain").verifyRecorded()).toEqual(expect.arrayContaining([expect.stringMatching(/pretrain\/data\/train\.json.*5 bytes on disk, 7 recorded/)]));
  });

  it("begin({ again: true }) reruns a succeeded stage: downstream cannot read it until it completes again", async () => {
    const root = join(await tempDir(), "run");
    const run = await createRun(root, plan);
    await completePretrain(root);
    const stage = run.stage("pretrain");
    await stage.begin({ again: true });
    expect((await run.read()).stages.pretrain).toMatchObject({ status: "running", attempts: 2 });
    await expect(run.stage("finetune").requireUpstream("pretrain", "model")).rejects.toMatchObject({ code: "E_MISSING_ARTIFACT", message: expect.stringContaining("running") });
    await writeFile(stage.paths.model!, '{"w":3}');
    const record = await stage.complete();
    expect(record.artifacts.model).toMatchObject({ sha256: sha256('{"w":3}'), bytes: 7 });
    expect(await run.stage("finetune").requireUpstream("pretrain", "model")).toBe(join(root, "pretrain", "model.json"));
  });

  it("stage 2 run alone fails fast with E_MISSING_ARTIFACT naming the path and the producing stage", async () => {
    const root = join(await tempDir(), "run");
    const run = await createRun(root, plan);
    const finetune = run.stage("finetune");
    await finetune.begin();
    const error = await finetune.requireUpstream("pretrain", "model").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_MISSING_ARTIFACT" });
    expect((error as Error).message).toContain("pretrain/model.json");
    expect((error as Error).message).toContain('stage "pretrain"');
    // Even when the file is there: stage 1 has not recorded its completion, so it may be half-written.
    await mkdir(join(root, "pretrain"), { recursive: true });
    await writeFile(join(root, "pretrain", "model.json"), "{");
    await expect(finetune.requireUpstream("pretrain", "model")).rejects.toMatchObject({ code: "E_MISSING_ARTIFACT", message: expect.stringContaining("pending") });
  });

  it("requireUpstream gives upstream paths once the upstream stage completed, and notices changed files", async () => {
    const root = join(await tempDir(), "run");
    await createRun(root, plan);
    await completePretrain(root);
    const finetune = (await openRun(root)).stage("finetune");
    expect(await finetune.requireUpstream("pretrain", "model")).toBe(join(root, "pretrain", "model.json"));
    expect(await finetune.requireUpstream("pretrain")).toEqual({ data: join(root, "pretrain", "data", "train.json"), model: join(root, "pretrain", "model.json"), logs: join(root, "pretrain", "logs") });
    await writeFile(join(root, "pretrain", "model.json"), '{"w":2}'); // same size, other content
    // Without verify, only the size is checked: the changed file is still handed out.
    await expect(finetune.requireUpstream("pretrain", "model")).resolves.toBe(join(root, "pretrain", "model.json"));
    await expect(finetune.requireUpstream("pretrain", "model", { verify: true })).rejects.toMatchObject({ code: "E_MISSING_ARTIFACT", message: expect.stringContaining("SHA-256") });
    await writeFile(join(root, "pretrain", "model.json"), "{}");
    await expect(finetune.requireUpstream("pretrain", "model")).rejects.toMatchObject({ code: "E_MISSING_ARTIFACT", message: expect.stringContaining("bytes") });
  });

  it("requireUpstream refuses undeclared dependencies and unknown artifacts", async () => {
    const root = join(await tempDir(), "run");
    const run = await createRun(root, plan);
    await expect(run.stage("pretrain").requireUpstream("finetune")).rejects.toMatchObject({ code: "E_PLAN_INVALID", message: expect.stringContaining("dependsOn") });
    await expect(run.stage("finetune").requireUpstream("pretrain", "weights")).rejects.toMatchObject({ code: "E_PLAN_INVALID", message: expect.stringContaining('"model"') });
  });

  it("fail records the error code and message", async () => {
    const root = join(await tempDir(), "run");
    const run = await createRun(root, plan);
    await run.stage("pretrain").begin();
    const error = Object.assign(new Error("out of memory"), { code: "E_OOM" });
    expect(await run.stage("pretrain").fail(error)).toMatchObject({ status: "failed", error: { code: "E_OOM", message: "out of memory" } });
    expect((await run.read()).status).toBe("failed");
    await run.stage("pretrain").begin(); // a failed stage can be retried
    expect((await run.read()).stages.pretrain).toMatchObject({ status: "running", attempts: 2, error: null });
  });

  it("begin refuses to create directories through a symlink out of the root", async () => {
    const outside = await tempDir();
    const root = join(await tempDir(), "run");
    const run = await createRun(root, plan);
    await symlink(outside, join(root, "pretrain"));
    await expect(run.stage("pretrain").begin()).rejects.toMatchObject({ code: "E_PATH_ESCAPE" });
    expect(await readdir(outside)).toEqual([]);
    expect(JSON.parse(await readFile(run.manifestPath, "utf8")).stages.pretrain.status).toBe("pending");
  });
});
