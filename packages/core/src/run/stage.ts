/**
 * Stage handles: how a stage uses the run manifest contract.
 *
 * A stage knows its own artifact paths from the manifest (`paths`), creates only its own directories when
 * it begins, finds upstream artifacts only through the manifest (`requireUpstream`, which fails fast with
 * `E_MISSING_ARTIFACT` naming the path and the stage that should have produced it), and records its
 * outcome (`complete` with output hashes, metrics and duration; or `fail`). Upstream artifacts count as
 * present only once their stage's completion is in the manifest, so a stage can never read a half-written
 * upstream output.
 */
import { mkdir, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { JsonValue } from "../identity/canonical-json.js";
import { CoreError, CoreErrorCode } from "../errors.js";
import { hashFile, hashFiles } from "../internal/fs/file-hash.js";
import { resolveInsideRoot } from "../internal/run/manifest-paths.js";
import type { ArtifactRecord, RunManifest, StageRecord } from "./run-manifest-schema.js";
import type { Run } from "./run-manifest.js";

/** What a stage reports when it completes. */
export interface StageCompletion {
  /** Known output hashes by artifact name (files), as `{ sha256 }` or the hex string; others are hashed here. */
  readonly outputs?: Readonly<Record<string, { readonly sha256: string } | string>>;
  /** Metrics to record (JSON). */
  readonly metrics?: Readonly<Record<string, JsonValue>>;
  /** Wall time in milliseconds; default: since `begin()` as recorded in the manifest. */
  readonly durationMs?: number;
  /** Alias of `durationMs`. */
  readonly duration?: number;
}

/** Options of {@link StageHandle.requireUpstream}. */
export interface RequireUpstreamOptions {
  /** Also re-hash upstream files and compare with the recorded SHA-256 (default: size check only). */
  readonly verify?: boolean;
}

/** Options of {@link StageHandle.begin}. */
export interface BeginOptions {
  /**
   * Begin a stage that is already recorded as succeeded (a pipeline that decides reuse itself, e.g. a
   * study run again in the same root): it is marked running, its earlier record stands until it
   * completes again, and downstream stages cannot read it meanwhile. Default false: `E_STAGE_STATE`.
   */
  readonly again?: boolean;
}

/** A handle on one stage of a run. */
export interface StageHandle {
  readonly name: string;
  /** Absolute paths of this stage's artifacts, resolved from the manifest. */
  readonly paths: Readonly<Record<string, string>>;
  /** Stages this stage reads from. */
  readonly dependsOn: readonly string[];
  /** Marks the stage running and creates its directories (only its own). */
  begin(options?: BeginOptions): Promise<void>;
  /**
   * What keeps this stage's record from vouching for its files now: an empty list when the stage is
   * recorded as succeeded and every file artifact it recorded is on disk with the recorded size and
   * SHA-256 (re-hashed); otherwise one line per problem (status, missing file, size, SHA-256).
   */
  verifyRecorded(): Promise<readonly string[]>;
  /** Absolute paths of all artifacts of the upstream stage, once it has completed. */
  requireUpstream(stage: string, options?: RequireUpstreamOptions): Promise<Readonly<Record<string, string>>>;
  /** Absolute path of one upstream artifact (`requireUpstream("pretrain", "model")`), once produced. */
  requireUpstream(stage: string, artifact: string, options?: RequireUpstreamOptions): Promise<string>;
  /** Records success: hashes of file outputs, metrics, duration. `E_MISSING_ARTIFACT` if a promised artifact is absent. */
  complete(completion?: StageCompletion): Promise<StageRecord>;
  /** Records failure with the error's code and message. */
  fail(error: unknown): Promise<StageRecord>;
  /** Merges progress metrics into the stage's record while it runs. */
  recordMetrics(metrics: Readonly<Record<string, JsonValue>>): Promise<void>;
}

function stageError(message: string): never {
  throw new CoreError(CoreErrorCode.StageState, message);
}

async function fileExists(path: string, kind: ArtifactRecord["kind"]): Promise<{ exists: boolean; bytes: number | null }> {
  try {
    const info = await stat(path);
    if (kind === "dir") return { exists: info.isDirectory(), bytes: null };
    return { exists: info.isFile(), bytes: info.size };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return { exists: false, bytes: null };
    throw error;
  }
}

function runStatusAfter(manifest: RunManifest): RunManifest["status"] {
  const statuses = Object.values(manifest.stages).map((stage) => stage.status);
  if (statuses.includes("failed")) return "failed";
  if (statuses.every((status) => status === "succeeded")) return "succeeded";
  if (statuses.some((status) => status !== "pending")) return "running";
  return "planned";
}

/** Builds the handle of stage `name` of `run` (use `run.stage(name)`). */
export function createStageHandle(run: Run, name: string, record: StageRecord): StageHandle {
  const paths: Record<string, string> = {};
  for (const [artifactName, artifact] of Object.entries(record.artifacts)) paths[artifactName] = join(run.root, ...artifact.path.split("/"));
  Object.freeze(paths);
  const dependsOn = Object.freeze([...record.dependsOn]);

  const resolveOwn = (artifactName: string, artifact: ArtifactRecord) => resolveInsideRoot(run.root, artifact.path, `artifact ${name}.${artifactName} path`);

  async function requireUpstream(stageName: string, artifactOrOptions?: string | RequireUpstreamOptions, maybeOptions?: RequireUpstreamOptions): Promise<string | Readonly<Record<string, string>>> {
    const artifactName = typeof artifactOrOptions === "string" ? artifactOrOptions : undefined;
    const options = (typeof artifactOrOptions === "object" ? artifactOrOptions : maybeOptions) ?? {};
    if (!dependsOn.includes(stageName)) {
      throw new CoreError(CoreErrorCode.PlanInvalid, `stage "${name}" reads from "${stageName}" but does not list it in dependsOn (it lists ${dependsOn.length ? dependsOn.map((d) => `"${d}"`).join(", ") : "nothing"}); declare the dependency in the run plan`);
    }
    // Always the manifest on disk: an upstream stage's results exist for us only once recorded there.
    const manifest = await run.read();
    const upstream = manifest.stages[stageName];
    if (!upstream) throw new CoreError(CoreErrorCode.PlanInvalid, `run manifest ${run.manifestPath} has no stage "${stageName}"`);
    const wanted = artifactName === undefined ? Object.keys(upstream.artifacts) : [artifactName];
    if (artifactName !== undefined && !upstream.artifacts[artifactName]) {
      throw new CoreError(CoreErrorCode.PlanInvalid, `stage "${stageName}" declares no artifact "${artifactName}"; it declares ${Object.keys(upstream.artifacts).map((a) => `"${a}"`).join(", ")}`);
    }
    const resolved: Record<string, string> = {};
    const missing: string[] = [];
    for (const wantedName of wanted) {
      const artifact = upstream.artifacts[wantedName]!;
      const path = await resolveInsideRoot(run.root, artifact.path, `artifact ${stageName}.${wantedName} path`);
      if (upstream.status !== "succeeded") {
        missing.push(`${artifact.path} (artifact "${wantedName}" of stage "${stageName}", which is ${upstream.status}${upstream.error ? `: ${upstream.error.code} ${upstream.error.message}` : ""})`);
        continue;
      }
      const found = await fileExists(path, artifact.kind);
      if (!found.exists) {
        if (!artifact.optional) missing.push(`${artifact.path} (artifact "${wantedName}" of stage "${stageName}": recorded as produced but absent on disk)`);
        continue;
      }
      if (artifact.kind === "file" && artifact.bytes !== null && found.bytes !== artifact.bytes) {
        missing.push(`${artifact.path} (artifact "${wantedName}" of stage "${stageName}": ${found.bytes} bytes on disk, ${artifact.bytes} recorded; it was changed after the stage completed)`);
        continue;
      }
      if (options.verify && artifact.kind === "file" && artifact.sha256 && (await hashFile(path)) !== artifact.sha256) {
        missing.push(`${artifact.path} (artifact "${wantedName}" of stage "${stageName}": SHA-256 differs from the recorded ${artifact.sha256}; it was changed after the stage completed)`);
        continue;
      }
      resolved[wantedName] = path;
    }
    if (missing.length > 0) {
      throw new CoreError(
        CoreErrorCode.MissingArtifact,
        `stage "${name}" needs upstream artifact${missing.length === 1 ? "" : "s"} that stage "${stageName}" has not produced:\n  ${missing.join("\n  ")}\nRun stage "${stageName}" (in run ${run.root}) first.`,
      );
    }
    return artifactName === undefined ? Object.freeze(resolved) : resolved[artifactName]!;
  }

  return {
    name,
    paths,
    dependsOn,
    async begin(options: BeginOptions = {}) {
      // Resolve (and symlink-check) before creating anything.
      const directories = new Set<string>();
      for (const [artifactName, artifact] of Object.entries(record.artifacts)) {
        const path = await resolveOwn(artifactName, artifact);
        directories.add(artifact.kind === "dir" ? path : dirname(path));
      }
      await run.update((manifest) => {
        const stage = manifest.stages[name]!;
        if (stage.status === "succeeded" && !options.again) stageError(`stage "${name}" already succeeded (finished ${stage.finishedAt}); start a new run to redo it, or begin it with { again: true }`);
        stage.status = "running";
        stage.attempts += 1;
        stage.startedAt = new Date().toISOString();
        stage.finishedAt = null;
        stage.durationMs = null;
        stage.error = null;
        manifest.status = runStatusAfter(manifest);
      });
      for (const directory of directories) {
        await mkdir(directory, { recursive: true });
        // Re-check after creation: a symlink swapped in meanwhile must not send later writes outside.
        const relativeDirectory = relative(run.root, directory).split(sep).join("/");
        if (relativeDirectory !== "") await resolveInsideRoot(run.root, relativeDirectory, `directory of stage "${name}"`);
      }
    },
    requireUpstream: requireUpstream as StageHandle["requireUpstream"],
    async verifyRecorded() {
      const manifest = await run.read();
      const stage = manifest.stages[name]!;
      if (stage.status !== "succeeded") return [`stage "${name}" is ${stage.status}, not succeeded${stage.error ? ` (${stage.error.code}: ${stage.error.message})` : ""}`];
      const problems: string[] = [];
      const toHash: { artifact: ArtifactRecord; path: string }[] = [];
      for (const [artifactName, artifact] of Object.entries(stage.artifacts)) {
        if (artifact.kind !== "file" || artifact.sha256 === null) continue;
        const path = await resolveOwn(artifactName, artifact);
        const found = await fileExists(path, "file");
        if (!found.exists) problems.push(`${artifact.path} (artifact "${artifactName}"): recorded as produced but absent`);
        else if (found.bytes !== artifact.bytes) problems.push(`${artifact.path} (artifact "${artifactName}"): ${found.bytes} bytes on disk, ${artifact.bytes} recorded`);
        else toHash.push({ artifact, path });
      }
      const hashed = await hashFiles(toHash.map((entry) => entry.path));
      toHash.forEach(({ artifact }, index) => {
        if (hashed[index]!.sha256 !== artifact.sha256) problems.push(`${artifact.path}: SHA-256 ${hashed[index]!.sha256} on disk, ${artifact.sha256} recorded`);
      });
      return problems;
    },
    async complete(completion: StageCompletion = {}) {
      const outputs: Record<string, { sha256: string | null; bytes: number | null }> = {};
      const missing: string[] = [];
      const toHash: { artifactName: string; path: string }[] = [];
      for (const declared of Object.keys(completion.outputs ?? {})) {
        if (!record.artifacts[declared]) {
          throw new CoreError(CoreErrorCode.PlanInvalid, `stage "${name}" reported output "${declared}", which is not in its manifest contract (${Object.keys(record.artifacts).join(", ")})`);
        }
      }
      for (const [artifactName, artifact] of Object.entries(record.artifacts)) {
        const path = await resolveOwn(artifactName, artifact);
        const found = await fileExists(path, artifact.kind);
        if (!found.exists) {
          if (!artifact.optional) missing.push(`${artifact.path} (artifact "${artifactName}")`);
          outputs[artifactName] = { sha256: null, bytes: null };
          continue;
        }
        if (artifact.kind === "dir") {
          outputs[artifactName] = { sha256: null, bytes: null };
          continue;
        }
        const reported = completion.outputs?.[artifactName];
        const given = typeof reported === "string" ? reported : reported?.sha256;
        if (given !== undefined && !/^[0-9a-f]{64}$/.test(given)) {
          throw new CoreError(CoreErrorCode.PlanInvalid, `stage "${name}" output "${artifactName}": sha256 ${JSON.stringify(given)} is not a lower-case SHA-256 hex digest`);
        }
        if (given !== undefined) outputs[artifactName] = { sha256: given, bytes: found.bytes };
        else toHash.push({ artifactName, path });
      }
      // Unreported hashes: all outputs at once, streamed and in parallel (digest and size from one read).
      const hashed = await hashFiles(toHash.map((entry) => entry.path));
      toHash.forEach((entry, index) => (outputs[entry.artifactName] = hashed[index]!));
      if (missing.length > 0) {
        throw new CoreError(CoreErrorCode.MissingArtifact, `stage "${name}" cannot complete: it promised artifacts that are absent:\n  ${missing.join("\n  ")}\nWrite them, or mark them optional in the run plan.`);
      }
      const written = await run.update((manifest) => {
        const stage = manifest.stages[name]!;
        if (stage.status !== "running") stageError(`stage "${name}" is ${stage.status}; call begin() before complete()`);
        const finishedAt = new Date();
        for (const [artifactName, output] of Object.entries(outputs)) Object.assign(stage.artifacts[artifactName]!, output);
        stage.status = "succeeded";
        stage.finishedAt = finishedAt.toISOString();
        stage.durationMs = completion.durationMs ?? completion.duration ?? Math.max(0, finishedAt.getTime() - Date.parse(stage.startedAt!));
        stage.metrics = { ...stage.metrics, ...(completion.metrics as StageRecord["metrics"] | undefined) };
        stage.error = null;
        manifest.status = runStatusAfter(manifest);
      });
      return written.stages[name]!;
    },
    async fail(error: unknown) {
      const code = typeof (error as { code?: unknown })?.code === "string" ? (error as { code: string }).code : "E_STAGE_FAILED";
      const message = error instanceof Error ? error.message : String(error);
      const written = await run.update((manifest) => {
        const stage = manifest.stages[name]!;
        const finishedAt = new Date();
        stage.status = "failed";
        stage.finishedAt = finishedAt.toISOString();
        stage.durationMs = stage.startedAt ? Math.max(0, finishedAt.getTime() - Date.parse(stage.startedAt)) : null;
        stage.error = { code, message };
        manifest.status = runStatusAfter(manifest);
      });
      return written.stages[name]!;
    },
    async recordMetrics(metrics) {
      await run.update((manifest) => {
        const stage = manifest.stages[name]!;
        if (stage.status !== "running") stageError(`stage "${name}" is ${stage.status}; metrics are recorded between begin() and complete()`);
        stage.metrics = { ...stage.metrics, ...(metrics as StageRecord["metrics"]) };
      });
    },
  };
}
