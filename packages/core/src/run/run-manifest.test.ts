import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { useTempDirs } from "../../test/helpers.js";
import { RunManifestSchema, runManifestJsonSchema } from "./run-manifest-schema.js";
import { createPartialIdentity, stableRunId, type PartialIdentityInput } from "../identity/run-identity.js";
import { createRun, openRun, readRunManifest, updateRunManifest, type RunPlan } from "./run-manifest.js";

const tempDir = useTempDirs();
const identityInput: PartialIdentityInput = {
  stage: "finetune-study",
  config: { lr: 0.01 },
  datasetSnapshotHash: "d".repeat(64),
  seeds: 3,
  codeVersion: { packages: { "@studykit/core": "0.1.0" }, git: null },
};
const plan = (overrides: Partial<RunPlan> = {}): RunPlan => ({
  identity: identityInput,
  stages: [
    { name: "pretrain", artifacts: { data: "pretrain/train.json", model: "pretrain/model.json", logs: { path: "pretrain/logs", kind: "dir" } } },
    { name: "finetune", dependsOn: ["pretrain"], artifacts: { model: "finetune/model.json", report: { path: "finetune/report.txt", optional: true } } },
  ],
  ...overrides,
});
const readRaw = async (root: string) => JSON.parse(await readFile(join(root, "run-manifest.json"), "utf8"));

describe("createRun", () => {
  it("writes the complete manifest before any stage runs, with runId null and no stage directories", async () => {
    const root = join(await tempDir(), "run");
    const before = Date.now();
    await createRun(root, plan());
    const after = Date.now();
    expect(await readdir(root)).toEqual(["run-manifest.json"]);
    const manifest = await readRaw(root);
    expect(manifest).toMatchObject({
      schemaVersion: 1,
      runId: null,
      runIdSource: null,
      status: "planned",
      config: { lr: 0.01 },
      identity: { isFinal: false, stage: "finetune-study", datasetSnapshotHash: "d".repeat(64), seeds: { seed: 3 } },
    });
    // Stamped when the run was created: between the clock readings around createRun.
    expect(Date.parse(manifest.createdAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(manifest.createdAt)).toBeLessThanOrEqual(after);
    expect(manifest.stages.pretrain.artifacts).toEqual({
      data: { path: "pretrain/train.json", kind: "file", optional: false, sha256: null, bytes: null },
      model: { path: "pretrain/model.json", kind: "file", optional: false, sha256: null, bytes: null },
      logs: { path: "pretrain/logs", kind: "dir", optional: false, sha256: null, bytes: null },
    });
    expect(manifest.stages.finetune).toMatchObject({ dependsOn: ["pretrain"], status: "pending", artifacts: { report: { optional: true } } });
    expect(RunManifestSchema.safeParse(manifest).success).toBe(true);
  });

  it("records the stable run id of the final identity in place, never the directory name", async () => {
    const root = join(await tempDir(), "my-run-directory");
    const run = await createRun(root, plan());
    const before = await readRaw(root);
    const final = await run.finalizeIdentity({ features: ["a", "b"] });
    const after = await readRaw(root);
    expect(after.runId).toBe(stableRunId(final));
    expect(after.runId).not.toContain(basename(root));
    expect(after.runIdSource).toBe("final");
    expect(after.identity).toEqual(JSON.parse(JSON.stringify(final)));
    expect(after.createdAt).toBe(before.createdAt);
    expect(after.stages).toEqual(before.stages);
    expect(run.identity).toBe(final);
    expect(await run.resolveRunId()).toBe(stableRunId(final));
    await expect(run.finalizeIdentity({ features: ["a", "b"] })).rejects.toMatchObject({ code: "E_IDENTITY_FINAL" });
    // The same inputs in another directory give the same run id.
    const elsewhere = await createRun(join(await tempDir(), "other"), plan());
    expect(stableRunId(await elsewhere.finalizeIdentity({ features: ["a", "b"] }))).toBe(after.runId);
  });

  it("strict mode refuses a run id before finalisation; best-effort records a fallback", async () => {
    const strict = await createRun(join(await tempDir(), "s"), plan());
    await expect(strict.resolveRunId()).rejects.toMatchObject({ code: "E_IDENTITY_NOT_FINAL" });
    expect((await readRaw(strict.root)).runId).toBeNull();

    const warnings: string[] = [];
    const loose = await createRun(join(await tempDir(), "b"), plan({ mode: "best-effort" }), { onWarning: (m) => warnings.push(m) });
    expect((await readRaw(loose.root)).runId).toBeNull();
    const fallback = await loose.resolveRunId();
    expect(fallback).toMatch(/^fallback-/);
    expect(await readRaw(loose.root)).toMatchObject({ runId: fallback, runIdSource: "fallback" });
    expect(warnings).toHaveLength(1);
    // Finalising later replaces the fallback with the stable id.
    const final = await loose.finalizeIdentity("features");
    expect(await readRaw(loose.root)).toMatchObject({ runId: stableRunId(final), runIdSource: "final" });
  });

  it("accepts an identity object, final ones included", async () => {
    const final = createPartialIdentity(identityInput).finalize([1]);
    const run = await createRun(join(await tempDir(), "f"), plan({ identity: final }));
    expect(await readRaw(run.root)).toMatchObject({ runId: stableRunId(final), runIdSource: "final", identity: { isFinal: true } });
  });

  it("builds the identity from plan-level config and seeds, and refuses a plan with neither", async () => {
    const { identity: _ignored, ...rest } = plan();
    const run = await createRun(join(await tempDir(), "p"), { ...rest, config: { lr: 0.5 }, seeds: { init: 9 }, datasetSnapshotHash: "a".repeat(64) });
    expect(await readRaw(run.root)).toMatchObject({ config: { lr: 0.5 }, identity: { stage: "pretrain", seeds: { init: 9 }, datasetSnapshotHash: "a".repeat(64), isFinal: false } });
    expect(Object.keys(run.stages)).toEqual(["pretrain", "finetune"]);
    const final = await run.finalize(["f"]);
    expect((await readRaw(run.root)).runId).toBe(stableRunId(final));
    await expect(createRun(join(await tempDir(), "q"), { ...rest, config: { lr: 0.5 } })).rejects.toMatchObject({ code: "E_PLAN_INVALID", message: expect.stringContaining("seeds") });
  });

  it("refuses a second createRun in the same root", async () => {
    const root = join(await tempDir(), "r");
    await createRun(root, plan());
    await expect(createRun(root, plan())).rejects.toMatchObject({ code: "E_RUN_EXISTS" });
    await expect(openRun(root)).resolves.toMatchObject({ stageNames: ["pretrain", "finetune"] });
    await expect(openRun(join(root, "nope"))).rejects.toMatchObject({ code: "E_RUN_NOT_FOUND" });
  });

  it.each([
    ["/etc/passwd", "absolute"],
    ["../outside.json", ".."],
    ["a/../../b", ".."],
    ["C:/x", "absolute"],
    ["a\\b", "backslash"],
    ["a//b", "empty"],
  ])("refuses artifact path %s with E_PATH_ESCAPE and writes nothing", async (path, why) => {
    const root = join(await tempDir(), "r");
    const bad = plan({ stages: [{ name: "s", artifacts: { x: path } }] });
    await expect(createRun(root, bad)).rejects.toMatchObject({ code: "E_PATH_ESCAPE", message: expect.stringContaining(why) });
    await expect(readdir(root)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("refuses a planned path that a symlink in the root leads outside it", async () => {
    const outside = await tempDir();
    const root = join(await tempDir(), "r");
    await mkdir(root);
    await symlink(outside, join(root, "pretrain"));
    await expect(createRun(root, plan())).rejects.toMatchObject({ code: "E_PATH_ESCAPE", message: expect.stringContaining(outside) });
  });

  it("lists every plan problem at once", async () => {
    const bad: RunPlan = plan({
      stages: [
        { name: "a", artifacts: { x: "same.json", "bad name": "y.json" } },
        { name: "a", dependsOn: ["later"], artifacts: { y: "same.json" } },
        { name: "later", artifacts: { f: "file", g: "file/inside" } },
      ],
    });
    const error = await createRun(join(await tempDir(), "r"), bad).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_PLAN_INVALID" });
    const message = (error as Error).message;
    for (const fragment of ["bad name", "declared twice", '"later" is not an earlier stage', "also the path of a.x", "lies inside later.f"]) expect(message).toContain(fragment);
  });
});

describe("reading and updating the manifest", () => {
  it("refuses a manifest edited to escape the root, on read and on update", async () => {
    const root = join(await tempDir(), "r");
    await createRun(root, plan());
    const manifest = await readRaw(root);
    manifest.stages.pretrain.artifacts.model.path = "../../etc/passwd";
    await writeFile(join(root, "run-manifest.json"), JSON.stringify(manifest));
    await expect(readRunManifest(root)).rejects.toMatchObject({ code: "E_PATH_ESCAPE", message: expect.stringContaining("stages.pretrain.artifacts.model.path") });
    await expect(openRun(root)).rejects.toMatchObject({ code: "E_PATH_ESCAPE" });
  });

  it("refuses an update that would write an escaping path, leaving the file as it was", async () => {
    const root = join(await tempDir(), "r");
    await createRun(root, plan());
    const before = await readFile(join(root, "run-manifest.json"), "utf8");
    await expect(updateRunManifest(root, (m) => void (m.stages.pretrain!.artifacts.model!.path = "/abs"))).rejects.toMatchObject({ code: "E_PATH_ESCAPE" });
    await expect(updateRunManifest(root, (m) => void ((m as { status: string }).status = "exploded"))).rejects.toMatchObject({ code: "E_JSON_INVALID", message: expect.stringContaining("status") });
    expect(await readFile(join(root, "run-manifest.json"), "utf8")).toBe(before);
  });

  it("refuses a manifest whose artifact path became a symlink out of the root", async () => {
    const outside = await tempDir();
    const root = join(await tempDir(), "r");
    await createRun(root, plan());
    await symlink(outside, join(root, "finetune"));
    await expect(readRunManifest(root)).rejects.toMatchObject({ code: "E_PATH_ESCAPE", message: expect.stringContaining("symlink") });
  });

  it("reports schema problems and corrupt JSON", async () => {
    const root = join(await tempDir(), "r");
    await createRun(root, plan());
    const manifest = await readRaw(root);
    manifest.schemaVersion = 99;
    delete manifest.stages.pretrain.status;
    await writeFile(join(root, "run-manifest.json"), JSON.stringify(manifest));
    await expect(readRunManifest(root)).rejects.toMatchObject({ code: "E_JSON_INVALID", message: expect.stringMatching(/schemaVersion[\s\S]*stages\.pretrain\.status/) });
    await writeFile(join(root, "run-manifest.json"), '{"schemaVersion": 1,');
    await expect(readRunManifest(root)).rejects.toMatchObject({ code: "E_JSON_INVALID" });
  });

  it("concurrent updates within a process are all kept", async () => {
    const root = join(await tempDir(), "r");
    const run = await createRun(root, plan());
    await run.stage("pretrain").begin();
    await Promise.all(Array.from({ length: 30 }, (_, i) => run.stage("pretrain").recordMetrics({ [`m${i}`]: i })));
    const metrics = (await run.read()).stages.pretrain!.metrics;
    expect(Object.keys(metrics)).toHaveLength(30);
  });
});

describe("runManifestJsonSchema", () => {
  it("is shipped in the package, matching the zod schema", async () => {
    const shipped = JSON.parse(await readFile(new URL("../../schemas/run-manifest.schema.json", import.meta.url), "utf8"));
    expect(shipped).toEqual(runManifestJsonSchema());
    expect(shipped.required).toEqual(expect.arrayContaining(["schemaVersion", "runId", "identity", "stages"]));
  });
});
