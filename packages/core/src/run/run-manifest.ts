/**
 * Runs and their manifests: the manifest is the contract between a run's stages.
 *
 * `createRun(root, plan)` writes `run-manifest.json` before any stage runs, holding the schema version,
 * run metadata (`runId: null` until the identity is final, created-at, config, identity so far) and, for
 * every stage, every artifact path it will produce. No stage directory is created up front: a stage creates
 * its own when it begins (see `stage.ts`). Every later change goes through {@link updateRunManifest}: a
 * read-modify-write under the manifest's lock, validated against the schema and the path rules, written
 * atomically, so concurrent writers lose nothing and a writer killed at any instant leaves the old or
 * the new manifest.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { JsonValue } from "../identity/canonical-json.js";
import { hasErrorCode, IoErrorCode } from "@studykit/native";
import { writeJsonAtomic } from "../fs/atomic-file.js";
import { CoreError, CoreErrorCode } from "../errors.js";
import { updateJsonFile, validateJson } from "../internal/fs/json-file.js";
import { relativePathProblem, resolveInsideRoot } from "../internal/run/manifest-paths.js";
import {
  ARTIFACT_NAME_PATTERN,
  RUN_MANIFEST_FILE,
  RUN_MANIFEST_KIND,
  RUN_MANIFEST_SCHEMA_VERSION,
  RunManifestSchema,
  STAGE_NAME_PATTERN,
  type RunManifest,
  type StageRecord,
} from "./run-manifest-schema.js";
import {
  createPartialIdentity,
  identityFromRecord,
  stableRunId,
  type FinalIdentity,
  type IdentityMode,
  type JsonObject,
  type PartialIdentityInput,
  type RunIdentity,
} from "../identity/run-identity.js";
import { createStageHandle, type StageHandle } from "./stage.js";

/** One artifact a stage will produce: a relative POSIX path inside the run root. */
export interface ArtifactPlan {
  readonly path: string;
  /** `file` (default) or `dir`. */
  readonly kind?: "file" | "dir";
  /** May be absent when the stage completes. Default false. */
  readonly optional?: boolean;
}

/** One stage of a run plan. */
export interface StagePlan {
  /** Letters, digits, `_`, `-`. */
  readonly name: string;
  /** Artifact name → path (a string means a file). */
  readonly artifacts: Readonly<Record<string, string | ArtifactPlan>>;
  /** Earlier stages whose artifacts this stage reads (through `requireUpstream`). */
  readonly dependsOn?: readonly string[];
}

/** What `createRun` needs. */
export interface RunPlan {
  /** Stages in the order they run. */
  readonly stages: readonly StagePlan[];
  /**
   * The run's identity so far, or the input to build it (its git state is then read from the run root).
   * May be left out when `seeds` is given: the identity is then built from `name`, `config`, `seeds`,
   * `datasetSnapshotHash` and `runtime`.
   */
  readonly identity?: RunIdentity | PartialIdentityInput;
  /** Identity stage name when `identity` is left out (default: the first stage's name). */
  readonly name?: string;
  /** Seeds when `identity` is left out. */
  readonly seeds?: PartialIdentityInput["seeds"];
  /** Dataset snapshot hash when `identity` is left out. */
  readonly datasetSnapshotHash?: string | null;
  /** Runtime when `identity` is left out. */
  readonly runtime?: JsonObject;
  /** The run configuration recorded in the manifest; default: the identity's config. */
  readonly config?: JsonObject;
  /** `strict` (default): no run id before finalisation. `best-effort`: fallback ids, recorded as such. */
  readonly mode?: IdentityMode;
}

/** Options of {@link openRun} and {@link createRun}. */
export interface RunOptions {
  /** Receives best-effort warnings (fallback run ids); default `process.emitWarning`. */
  readonly onWarning?: (message: string) => void;
}

/** A run: its root, its manifest and its stages. */
export interface Run {
  /** Absolute run root. */
  readonly root: string;
  /** Absolute path of `run-manifest.json`. */
  readonly manifestPath: string;
  readonly mode: IdentityMode;
  /** The identity as last seen by this process. */
  readonly identity: RunIdentity;
  /** Stage names in plan order. */
  readonly stageNames: readonly string[];
  /** Reads and validates the manifest from disk. */
  read(): Promise<RunManifest>;
  /** A handle on one stage (`E_STAGE_STATE` for an unknown name). */
  stage(name: string): StageHandle;
  /** Handles on every stage, by name. */
  readonly stages: Readonly<Record<string, StageHandle>>;
  /**
   * Finalises the run's identity with the feature signature and records it and the stable run id in the
   * manifest, atomically. `E_IDENTITY_FINAL` if the manifest's identity is already final.
   */
  finalizeIdentity(featureSignature: JsonValue): Promise<FinalIdentity>;
  /** Same as {@link Run.finalizeIdentity}. */
  finalize(featureSignature: JsonValue): Promise<FinalIdentity>;
  /**
   * The run id: the stable one once final. Before that, `strict` mode throws `E_IDENTITY_NOT_FINAL`;
   * `best-effort` warns and records a fallback id with `runIdSource: "fallback"`.
   */
  resolveRunId(): Promise<string>;
  /** Applies `mutate` to the manifest (see {@link updateRunManifest}). */
  update(mutate: (manifest: RunManifest) => RunManifest | void): Promise<RunManifest>;
}

function manifestPathOf(root: string): string {
  return join(resolve(root), RUN_MANIFEST_FILE);
}

// Lexical path rules over a whole manifest, gathering every problem (STYLE 7).
function manifestPathProblems(manifest: RunManifest): string[] {
  const problems: string[] = [];
  for (const [stageName, stage] of Object.entries(manifest.stages)) {
    for (const [artifactName, artifact] of Object.entries(stage.artifacts)) {
      const problem = relativePathProblem(artifact.path);
      if (problem) problems.push(`stages.${stageName}.artifacts.${artifactName}.path ${JSON.stringify(artifact.path)} ${problem}`);
    }
  }
  return problems;
}

function assertManifestPaths(manifest: RunManifest, where: string): void {
  const problems = manifestPathProblems(manifest);
  if (problems.length > 0) {
    throw new CoreError(CoreErrorCode.PathEscape, `${where}: ${problems.length} artifact path${problems.length === 1 ? "" : "s"} escape the run root:\n  ${problems.slice(0, 20).join("\n  ")}`);
  }
}

/**
 * Reads, validates and path-checks a run manifest: `E_JSON_INVALID` for bad JSON or schema violations,
 * `E_PATH_ESCAPE` for an artifact path that is absolute, contains `..` or leads outside the root through
 * a symlink, `E_RUN_NOT_FOUND` when there is no manifest.
 */
export async function readRunManifest(root: string): Promise<RunManifest> {
  const path = manifestPathOf(root);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new CoreError(CoreErrorCode.RunNotFound, `no ${RUN_MANIFEST_FILE} in ${resolve(root)}: create the run with createRun first`, { cause: error });
    }
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CoreError(CoreErrorCode.JsonInvalid, `${path} is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const manifest = validateJson(parsed, RunManifestSchema, path);
  assertManifestPaths(manifest, path);
  for (const [stageName, stage] of Object.entries(manifest.stages)) {
    for (const [artifactName, artifact] of Object.entries(stage.artifacts)) {
      await resolveInsideRoot(root, artifact.path, `${path}: stages.${stageName}.artifacts.${artifactName}.path`);
    }
  }
  return manifest;
}

/**
 * Read-modify-write of a run's manifest under its lock; the result is schema-validated and path-checked
 * before it is written atomically, and `updatedAt` is set. `mutate` may return a new manifest or edit the
 * one it gets.
 */
export async function updateRunManifest(root: string, mutate: (manifest: RunManifest) => RunManifest | void | Promise<RunManifest | void>): Promise<RunManifest> {
  const path = manifestPathOf(root);
  return updateJsonFile<RunManifest>(
    path,
    async (current) => {
      if (!current) throw new CoreError(CoreErrorCode.RunNotFound, `no ${RUN_MANIFEST_FILE} in ${resolve(root)}: create the run with createRun first`);
      const next = (await mutate(current)) ?? current;
      assertManifestPaths(next, `update of ${path}`);
      return { ...next, updatedAt: new Date().toISOString() };
    },
    { schema: RunManifestSchema },
  );
}

function normaliseArtifact(plan: string | ArtifactPlan): ArtifactPlan {
  return typeof plan === "string" ? { path: plan } : plan;
}

// Validates a plan, gathering every problem; path problems make it E_PATH_ESCAPE, others E_PLAN_INVALID.
function buildStageRecords(stages: readonly StagePlan[]): Record<string, StageRecord> {
  const pathProblems: string[] = [];
  const problems: string[] = [];
  const records: Record<string, StageRecord> = {};
  const owners = new Map<string, string>();
  if (!Array.isArray(stages) || stages.length === 0) problems.push("plan.stages must list at least one stage");
  (Array.isArray(stages) ? stages : []).forEach((stage, index) => {
    const where = `plan.stages[${index}]`;
    if (typeof stage?.name !== "string" || !STAGE_NAME_PATTERN.test(stage.name)) {
      problems.push(`${where}.name ${JSON.stringify(stage?.name)} must be 1-64 letters, digits, "_" or "-"`);
      return;
    }
    if (records[stage.name]) problems.push(`${where}: stage "${stage.name}" is declared twice`);
    for (const upstream of stage.dependsOn ?? []) {
      if (!records[upstream]) problems.push(`${where} ("${stage.name}").dependsOn: "${upstream}" is not an earlier stage of the plan (stages run in order; list it before "${stage.name}")`);
    }
    const artifacts: StageRecord["artifacts"] = {};
    const entries = Object.entries((stage.artifacts ?? {}) as Record<string, string | ArtifactPlan>);
    for (const [name, rawPlan] of entries) {
      const artifact = normaliseArtifact(rawPlan);
      const label = `${stage.name}.${name}`;
      if (!ARTIFACT_NAME_PATTERN.test(name)) problems.push(`artifact name "${label}" must be 1-64 letters, digits, "_" or "-"`);
      const problem = relativePathProblem(artifact?.path);
      if (problem) {
        pathProblems.push(`artifact ${label} path ${JSON.stringify(artifact?.path)} ${problem}`);
        continue;
      }
      const kind = artifact.kind ?? "file";
      if (kind !== "file" && kind !== "dir") problems.push(`artifact ${label} kind ${JSON.stringify(kind)} must be "file" or "dir"`);
      const previous = owners.get(artifact.path);
      if (previous) problems.push(`artifact ${label} path "${artifact.path}" is also the path of ${previous}`);
      owners.set(artifact.path, label);
      artifacts[name] = { path: artifact.path, kind, optional: artifact.optional ?? false, sha256: null, bytes: null };
    }
    records[stage.name] = {
      index,
      dependsOn: [...(stage.dependsOn ?? [])],
      artifacts,
      status: "pending",
      attempts: 0,
      startedAt: null,
      finishedAt: null,
      durationMs: null,
      metrics: {},
      error: null,
    };
  });
  // A file artifact cannot also be a directory that holds another artifact.
  for (const [path, label] of owners) {
    for (const [other, otherLabel] of owners) {
      if (other.startsWith(`${path}/`)) {
        const holder = Object.values(records).flatMap((record) => Object.values(record.artifacts)).find((artifact) => artifact.path === path);
        if (holder?.kind === "file") problems.push(`artifact ${otherLabel} path "${other}" lies inside ${label}, which is a file`);
      }
    }
  }
  if (pathProblems.length > 0) {
    throw new CoreError(CoreErrorCode.PathEscape, `run plan has ${pathProblems.length} artifact path${pathProblems.length === 1 ? "" : "s"} outside the run root:\n  ${[...pathProblems, ...problems].slice(0, 20).join("\n  ")}`);
  }
  if (problems.length > 0) throw new CoreError(CoreErrorCode.PlanInvalid, `run plan is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${problems.slice(0, 20).join("\n  ")}`);
  return records;
}

function isIdentity(value: RunIdentity | PartialIdentityInput): value is RunIdentity {
  return typeof (value as RunIdentity).isFinal === "boolean" && typeof (value as RunIdentity).configHash === "string";
}

function identityOfPlan(plan: RunPlan): RunIdentity {
  if (plan.identity !== undefined && plan.identity !== null) {
    return isIdentity(plan.identity) ? plan.identity : createPartialIdentity(plan.identity);
  }
  if (plan.seeds === undefined || plan.config === undefined) {
    throw new CoreError(CoreErrorCode.PlanInvalid, "run plan needs an identity (plan.identity), or config and seeds to build one (plan.config, plan.seeds): seeds make a run reproducible");
  }
  return createPartialIdentity({
    stage: plan.name ?? plan.stages[0]?.name ?? "run",
    config: plan.config,
    seeds: plan.seeds,
    ...(plan.datasetSnapshotHash !== undefined ? { datasetSnapshotHash: plan.datasetSnapshotHash } : {}),
    ...(plan.runtime !== undefined ? { runtime: plan.runtime } : {}),
  });
}

function checkMode(mode: unknown): IdentityMode {
  if (mode === undefined) return "strict";
  if (mode !== "strict" && mode !== "best-effort") throw new CoreError(CoreErrorCode.PlanInvalid, `mode must be "strict" or "best-effort", got ${JSON.stringify(mode)}`);
  return mode;
}

/**
 * Creates a run: writes `run-manifest.json` in `root` (created if missing) before any stage runs, with
 * every stage's artifact paths and `runId: null`. `E_RUN_EXISTS` when the root already holds a manifest
 * (use {@link openRun}), `E_PATH_ESCAPE` / `E_PLAN_INVALID` for a bad plan (every problem listed).
 */
export async function createRun(root: string, plan: RunPlan, options: RunOptions = {}): Promise<Run> {
  const mode = checkMode(plan.mode);
  const stages = buildStageRecords(plan.stages);
  const absoluteRoot = resolve(root);
  const identity = identityOfPlan(plan);
  const now = new Date().toISOString();
  const manifest: RunManifest = validateJson(
    {
      schemaVersion: RUN_MANIFEST_SCHEMA_VERSION,
      kind: RUN_MANIFEST_KIND,
      runId: null,
      runIdSource: null,
      mode,
      status: "planned",
      createdAt: now,
      updatedAt: now,
      config: plan.config ?? identity.config,
      identity: identity.toJSON(),
      stages,
    },
    RunManifestSchema,
    "new run manifest",
  );
  await mkdir(absoluteRoot, { recursive: true });
  // Symlinks already in the root must not lead any planned path outside it.
  for (const [stageName, stage] of Object.entries(stages)) {
    for (const [artifactName, artifact] of Object.entries(stage.artifacts)) await resolveInsideRoot(absoluteRoot, artifact.path, `artifact ${stageName}.${artifactName} path`);
  }
  try {
    // Exclusive create: two processes creating the same run cannot both win.
    await writeJsonAtomic(manifestPathOf(absoluteRoot), manifest, { exclusive: true });
  } catch (error) {
    if (hasErrorCode(error, IoErrorCode.Exists)) {
      throw new CoreError(CoreErrorCode.RunExists, `${manifestPathOf(absoluteRoot)} already exists: open the existing run with openRun, or choose a new run root`, { cause: error });
    }
    throw error;
  }
  const finalIdentity = identity.isFinal ? identity : null;
  const run = makeRun(absoluteRoot, manifest, mode, identity, options);
  if (finalIdentity) await recordFinalIdentity(absoluteRoot, finalIdentity);
  return run;
}

/** Opens an existing run from its manifest (validated and path-checked, see {@link readRunManifest}). */
export async function openRun(root: string, options: RunOptions = {}): Promise<Run> {
  const absoluteRoot = resolve(root);
  const manifest = await readRunManifest(absoluteRoot);
  return makeRun(absoluteRoot, manifest, manifest.mode, identityFromRecord(manifest.identity), options);
}

async function recordFinalIdentity(root: string, final: FinalIdentity): Promise<void> {
  await updateRunManifest(root, (manifest) => {
    manifest.identity = final.toJSON() as RunManifest["identity"];
    manifest.runId = stableRunId(final);
    manifest.runIdSource = "final";
  });
}

function makeRun(root: string, initial: RunManifest, mode: IdentityMode, startIdentity: RunIdentity, options: RunOptions): Run {
  let identity = startIdentity;
  const stageNames = Object.entries(initial.stages)
    .sort(([, a], [, b]) => a.index - b.index)
    .map(([name]) => name);
  const run: Run = {
    root,
    manifestPath: manifestPathOf(root),
    mode,
    get identity() {
      return identity;
    },
    stageNames,
    get stages() {
      return Object.fromEntries(stageNames.map((stageName) => [stageName, run.stage(stageName)]));
    },
    finalize: (featureSignature: JsonValue) => run.finalizeIdentity(featureSignature),
    read: () => readRunManifest(root),
    update: (mutate) => updateRunManifest(root, mutate),
    stage(name: string): StageHandle {
      const record = initial.stages[name];
      if (!record) throw new CoreError(CoreErrorCode.StageState, `run ${root} has no stage "${name}"; its stages are ${stageNames.map((n) => `"${n}"`).join(", ")}`);
      return createStageHandle(run, name, record);
    },
    async finalizeIdentity(featureSignature: JsonValue): Promise<FinalIdentity> {
      let final: FinalIdentity | undefined;
      await updateRunManifest(root, (manifest) => {
        const current = identityFromRecord(manifest.identity);
        if (current.isFinal) {
          throw new CoreError(CoreErrorCode.IdentityFinal, `the identity of run ${root} is already final (${current.debugKey}, run id ${manifest.runId}); a run's identity is finalised once`);
        }
        final = current.finalize(featureSignature);
        manifest.identity = final.toJSON() as RunManifest["identity"];
        manifest.runId = stableRunId(final);
        manifest.runIdSource = "final";
      });
      identity = final!;
      return final!;
    },
    async resolveRunId(): Promise<string> {
      const manifest = await readRunManifest(root);
      if (manifest.runIdSource === "final" && manifest.runId) return manifest.runId;
      const current = identityFromRecord(manifest.identity);
      if (current.isFinal) return stableRunId(current);
      if (mode === "strict") return stableRunId(current, { mode: "strict" }); // throws E_IDENTITY_NOT_FINAL
      if (manifest.runIdSource === "fallback" && manifest.runId) return manifest.runId;
      const fallback = stableRunId(current, { mode: "best-effort", ...(options.onWarning ? { onWarning: options.onWarning } : {}) });
      const written = await updateRunManifest(root, (latest) => {
        // Another process may have finalised meanwhile: its stable id wins over our fallback.
        if (latest.runIdSource !== "final") {
          latest.runId = fallback;
          latest.runIdSource = "fallback";
        }
      });
      return written.runId!;
    },
  };
  return run;
}
