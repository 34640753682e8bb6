/**
 * Planning a study (a built {@link JobMatrix}): `planStudy` hashes each job's inputs, builds its final run
 * identity and decides, against the existing `training_manifest.json` (read, never written), whether the
 * job runs or is reused, and why. `formatPlanSummary` prints the plan (`studykit study plan`).
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import type { JsonValue } from "../identity/canonical-json.js";
import { fingerprint } from "../identity/canonical-json.js";
import { detectCodeVersion, type CodeVersion } from "../identity/code-version.js";
import { createPartialIdentity, stableRunId, type JsonObject } from "../identity/run-identity.js";
import { hashFile, hashFiles } from "../internal/fs/file-hash.js";
import { loadPreviousManifest, previousRecords } from "../internal/study/training-manifest-records.js";
import type { JobMatrix, SkipEvent, StudyJob } from "./job-matrix.js";
import type { JobResult } from "./job-runner.js";
import { TRAINING_MANIFEST_FILE, type JobIdentityRecord, type TrainingJobRecord } from "./training-manifest.js";

/** Hashes one input file (e.g. `@studykit/data`'s `datasetSnapshotHash`). Default: SHA-256 of the bytes. */
export type InputHasher = (file: string) => string | Promise<string>;

/** Options shared by {@link planStudy} and {@link runStudy}. */
export interface PlanStudyOptions {
  /** Rerun every job even when a reusable result exists. */
  readonly force?: boolean;
  /** Input hashing; default SHA-256 of the file bytes through `@studykit/native`. */
  readonly inputHasher?: InputHasher;
  /** Code version in every job's identity; default: studykit package versions + git state of studykit's own checkout. */
  readonly codeVersion?: CodeVersion;
  /** Runtime recorded in every job's identity (engine, back end), as far as it changes results. */
  readonly runtime?: JsonObject;
  /** Stage name in the identities (default `"train"`). */
  readonly stage?: string;
}

/** A job's planned action. */
export interface PlannedJob {
  readonly job: StudyJob;
  readonly action: "run" | "reuse";
  readonly reason: string;
  readonly identity: JobIdentityRecord;
  readonly inputHashes: Readonly<Record<string, string>>;
  /** For `reuse`: the earlier result being reused. */
  readonly previous: JobResult | null;
}

/** What a study would do. */
export interface StudyPlan {
  readonly artifactRoot: string;
  readonly manifestPath: string;
  readonly jobs: readonly PlannedJob[];
  readonly skipped: readonly SkipEvent[];
  readonly counts: { readonly total: number; readonly run: number; readonly reuse: number; readonly skip: number };
}

function asConfigObject(config: JsonValue): JsonObject {
  return config !== null && typeof config === "object" && !Array.isArray(config) ? (config as JsonObject) : { value: config };
}

function describeIdentityChange(previous: JobIdentityRecord, current: JobIdentityRecord): string {
  const changed = ["configHash", "datasetSnapshotHash", "seeds", "codeVersion", "runtime", "featureSignatureHash", "stage"].filter(
    (field) => JSON.stringify(previous.fields[field] ?? null) !== JSON.stringify(current.fields[field] ?? null),
  );
  const names: Record<string, string> = { configHash: "config", datasetSnapshotHash: "input hashes", featureSignatureHash: "job params", codeVersion: "code version" };
  return changed.length > 0 ? changed.map((field) => names[field] ?? field).join(", ") : "identity";
}

async function decide(job: StudyJob, identity: JobIdentityRecord, previous: TrainingJobRecord | undefined, force: boolean): Promise<{ action: "run" | "reuse"; reason: string }> {
  if (force) return { action: "run", reason: "forced: --force reruns every job" };
  if (!previous) return { action: "run", reason: "no earlier result" };
  const result = previous.result;
  if (result.status === "failed") return { action: "run", reason: `earlier attempt failed [${result.error?.code ?? "?"}]` };
  if (result.status === "pending" || result.status === "running") return { action: "run", reason: "did not finish in an earlier run (cancelled or interrupted)" };
  if (result.status !== "succeeded" && result.status !== "reused") return { action: "run", reason: `earlier status ${result.status}` };
  if (!previous.identity || previous.identity.strictKey !== identity.strictKey) {
    return { action: "run", reason: `changed since the earlier run: ${previous.identity ? describeIdentityChange(previous.identity, identity) : "no identity recorded"}` };
  }
  if (result.bundlePath && result.bundleSha256) {
    const bundle = path.join(job.artifactDir, result.bundlePath);
    if (!existsSync(bundle) || !statSync(bundle).isFile()) return { action: "run", reason: `bundle ${result.bundlePath} is missing` };
    const actual = await hashFile(bundle);
    if (actual !== result.bundleSha256) return { action: "run", reason: `bundle ${result.bundlePath} no longer has its recorded SHA-256 (corrupted or replaced)` };
    return { action: "reuse", reason: `identity and input hashes match the run finished ${result.finishedAt ?? "earlier"}; bundle SHA-256 verified` };
  }
  return { action: "reuse", reason: `identity and input hashes match the run finished ${result.finishedAt ?? "earlier"} (no bundle recorded)` };
}

/**
 * Plans a study without running anything: hashes inputs, builds each job's final identity, and decides
 * run or reuse against the artifact root's existing `training_manifest.json` (read, never written).
 */
export async function planStudy(matrix: JobMatrix, options: PlanStudyOptions = {}): Promise<StudyPlan> {
  const manifestPath = path.join(matrix.artifactRoot, TRAINING_MANIFEST_FILE);
  const previous = await loadPreviousManifest(manifestPath);
  const previousById = previousRecords(previous);
  const hasher = options.inputHasher ?? hashFile;
  const hashCache = new Map<string, Promise<string>>();
  if (!options.inputHasher) {
    // Every distinct input at once, in parallel across cores (jobs share inputs; each is read once).
    const files = [...new Set(matrix.jobs.flatMap((job) => Object.values(job.inputs)))];
    const hashed = await hashFiles(files);
    files.forEach((file, index) => hashCache.set(file, Promise.resolve(hashed[index]!.sha256)));
  }
  const hashInput = (file: string): Promise<string> => {
    let cached = hashCache.get(file);
    if (!cached) {
      cached = Promise.resolve().then(() => hasher(file));
      hashCache.set(file, cached);
    }
    return cached;
  };
  const codeVersion = options.codeVersion ?? detectCodeVersion();
  const jobs: PlannedJob[] = [];
  for (const job of matrix.jobs) {
    const inputHashes: Record<string, string> = {};
    for (const [role, file] of Object.entries(job.inputs)) inputHashes[role] = await hashInput(file);
    const partial = createPartialIdentity({
      stage: options.stage ?? "train",
      config: asConfigObject(job.config),
      // No inputs, no evidence: the hash of an empty object would make unrelated runs look alike.
      datasetSnapshotHash: Object.keys(inputHashes).length > 0 ? fingerprint(inputHashes) : null,
      seeds: Object.keys(job.seeds).length > 0 ? job.seeds : { seed: 0 },
      codeVersion,
      runtime: options.runtime ?? {},
    });
    const final = partial.finalize({ jobId: job.id, params: job.params, inputRoles: Object.keys(job.inputs).sort() });
    const identity: JobIdentityRecord = {
      strictKey: final.strictKey,
      debugKey: final.debugKey,
      replicateKey: final.replicateKey,
      runId: stableRunId(final),
      fields: final.toJSON() as unknown as Record<string, JsonValue>,
    };
    const previousRecord = previousById.get(job.id);
    const decision = await decide(job, identity, previousRecord, options.force ?? false);
    // The identity rides on the job itself, so every executor hands it to the runner unchanged.
    jobs.push({ job: { ...job, identity }, ...decision, identity, inputHashes, previous: decision.action === "reuse" ? (previousRecord?.result ?? null) : null });
  }
  const reuse = jobs.filter((planned) => planned.action === "reuse").length;
  return {
    artifactRoot: matrix.artifactRoot,
    manifestPath,
    jobs,
    skipped: matrix.skipped,
    counts: { total: jobs.length + matrix.skipped.length, run: jobs.length - reuse, reuse, skip: matrix.skipped.length },
  };
}

/** The plan as text: counts, then one line per job (`run`/`reuse`/`skip` and why). */
export function formatPlanSummary(plan: StudyPlan): string {
  const { counts } = plan;
  const lines = [`${counts.total} job${counts.total === 1 ? "" : "s"}: ${counts.run} to run, ${counts.reuse} reused, ${counts.skip} skipped`];
  const width = Math.max(0, ...plan.jobs.map((planned) => planned.job.id.length), ...plan.skipped.map((event) => event.jobId.length));
  for (const planned of plan.jobs) lines.push(`  ${planned.action.padEnd(5)} ${planned.job.id.padEnd(width)}  ${planned.reason}`);
  for (const event of plan.skipped) lines.push(`  ${"skip".padEnd(5)} ${event.jobId.padEnd(width)}  ${event.reason}`);
  return lines.join("\n");
}
