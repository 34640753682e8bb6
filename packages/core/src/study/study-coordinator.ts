/**
 * Planning and running a study (a built {@link JobMatrix}) on an {@link Executor}.
 *
 * `planStudy` hashes each job's inputs, builds its final run identity and decides, against the existing
 * `training_manifest.json`, whether the job runs or is reused (and why). `runStudy` holds a lock on the
 * artifact root, writes the manifest before any job starts, runs the planned jobs, records each result as
 * it arrives (atomically), and leaves the manifest valid when cancelled, so that the next run resumes
 * with the jobs that did not finish.
 *
 * CLI mapping (`studykit study plan|run`): `--artifact-root` → the matrix's `artifactRoot`; `--dose`,
 * `--view`, `--gridsize`, `--job-id` → the matrix's `filters`; `--strict` → the matrix's `strict`;
 * `--dry-run`, `--concurrency`, `--force`, `--fail-fast` → {@link RunStudyOptions}; `--json` → print the
 * returned `manifest` (or plan) as JSON; `--executor local|bullmq` → `executor`, `--redis URL` →
 * `bullmq.redisUrl`.
 */
import { existsSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { JsonValue } from "./canonical-json.js";
import { fingerprint } from "./canonical-json.js";
import { detectCodeVersion, detectOutputRepository, type CodeVersion } from "./code-version.js";
import { writeJsonAtomic } from "./atomic-file.js";
import { acquireLock } from "./file-lock.js";
import { createLocalExecutor, type Executor } from "./executor.js";
import { createBullmqExecutor, QueueError, QueueErrorCode, type BullmqExecutorOptions } from "./executor-bullmq.js";
import { hashFile, hashFiles } from "./internal/file-hash.js";
import type { JobMatrix, SkipEvent, StudyJob } from "./job-matrix.js";
import { createStudyProgress, type ProgressMode, type StudyProgress } from "./progress.js";
import { createPartialIdentity, stableRunId, type JsonObject } from "./run-identity.js";
import { runJob, RunnerErrorCode, type JobResult, type JobRunner } from "./runner.js";
import {
  countJobs,
  readTrainingManifest,
  SKIP_SUMMARY_FILE,
  TRAINING_MANIFEST_FILE,
  TRAINING_MANIFEST_VERSION,
  type JobAction,
  type JobIdentityRecord,
  type SkipEventRecord,
  type SkipSummary,
  type StudyCounts,
  type StudyState,
  type TrainingJobRecord,
  type TrainingManifest,
} from "./study-manifest.js";

/** Name of the lock file in the artifact root that stops two runners from running one study at once. */
export const STUDY_LOCK_FILE = ".studykit-study.lock";

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

/** Options of {@link runStudy}. */
export interface RunStudyOptions extends PlanStudyOptions {
  /** Jobs at once on the local executor (≥ 1, default 1). */
  readonly concurrency?: number;
  /** Stop starting jobs after the first failure (running jobs finish). */
  readonly failFast?: boolean;
  /** Plan only: writes the manifest (`dryRun: true`) and each job's `DRY RUN` log marker; no runner call. */
  readonly dryRun?: boolean;
  /** `"local"` (default), `"bullmq"` (needs `bullmq.redisUrl`), or an executor of your own. */
  readonly executor?: "local" | "bullmq" | Executor;
  /** Options of the `"bullmq"` executor (see `createBullmqExecutor`). */
  readonly bullmq?: BullmqExecutorOptions;
  /** Cancels the study: running jobs become `failed` / `E_CANCELLED`, the rest stay pending for a later run. */
  readonly signal?: AbortSignal;
  /** Cancel on SIGINT/SIGTERM (for CLIs). A second Ctrl-C exits at once. Default false. */
  readonly cancelOnSignals?: boolean;
  /** Progress display mode (default `auto`) or a custom reporter. */
  readonly progress?: ProgressMode | StudyProgress;
  /** Give up with `E_LOCKED` when another runner holds the artifact root for this long (default 0: at once). */
  readonly lockTimeoutMs?: number;
  /** How long a cancelled job's process gets before SIGKILL (default 2000 ms). */
  readonly cancelGraceMs?: number;
}

/** What {@link runStudy} returns. */
export interface StudyRunResult {
  readonly manifestPath: string;
  readonly manifest: TrainingManifest;
  readonly plan: StudyPlan;
  readonly counts: StudyCounts;
  /** True when the study was cancelled before every job finished. */
  readonly cancelled: boolean;
  /** True when some job failed (or was cancelled). */
  readonly failed: boolean;
}

function toPosix(relative: string): string {
  return relative.split(path.sep).join("/");
}

function relativeInside(root: string, file: string): string {
  const relative = path.relative(root, file);
  return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? file : toPosix(relative);
}

function asConfigObject(config: JsonValue): JsonObject {
  return config !== null && typeof config === "object" && !Array.isArray(config) ? (config as JsonObject) : { value: config };
}

async function loadPrevious(manifestPath: string): Promise<TrainingManifest | null> {
  if (!existsSync(manifestPath)) return null;
  return readTrainingManifest(manifestPath);
}

// Earlier records by job id: this study's jobs and those kept from runs with other filters.
function previousRecords(previous: TrainingManifest | null): Map<string, TrainingJobRecord> {
  return new Map([...(previous?.retainedJobs ?? []), ...(previous?.jobs ?? [])].map((record) => [record.id, record]));
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
  const previous = await loadPrevious(manifestPath);
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
    jobs.push({ job, ...decision, identity, inputHashes, previous: decision.action === "reuse" ? (previousRecord?.result ?? null) : null });
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

/** The outcome of a run as text: counts, then each failed job with its error. */
export function formatStudySummary(result: StudyRunResult): string {
  const { counts } = result;
  const head = `${result.cancelled ? "cancelled" : result.manifest.dryRun ? "dry run" : "finished"}: ${counts.succeeded} succeeded, ${counts.reused} reused, ${counts.failed} failed, ${counts.skipped} skipped${counts.remaining > 0 ? `, ${counts.remaining} not run` : ""} (manifest ${result.manifestPath})`;
  const failures = result.manifest.jobs.filter((record) => record.result.status === "failed").map((record) => `  - ${record.id}: [${record.result.error?.code}] ${record.result.error?.message.split("\n")[0]} (log ${record.logPath})`);
  return [head, ...failures].join("\n");
}

const PENDING: JobResult = { status: "pending", error: null, startedAt: null, finishedAt: null, durationMs: null, metrics: null, bundlePath: null, bundleSha256: null, output: null, attempts: 0 };

// One writer per study (the lock holder); writes are coalesced and serialised, each one atomic.
class ManifestWriter {
  private manifest: TrainingManifest;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private failure: unknown = null;

  constructor(
    private readonly file: string,
    initial: TrainingManifest,
  ) {
    this.manifest = initial;
  }

  get current(): TrainingManifest {
    return this.manifest;
  }

  update(mutate: (manifest: TrainingManifest) => TrainingManifest): void {
    const next = mutate(this.manifest);
    this.manifest = { ...next, updatedAt: new Date().toISOString(), counts: countJobs(next.jobs) };
    this.dirty = true;
    if (!this.writing) this.writing = this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        await writeJsonAtomic(this.file, this.manifest);
      }
    } catch (error) {
      this.failure = error;
    } finally {
      this.writing = null;
    }
  }

  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.failure) throw this.failure;
  }
}

function skipRecord(matrix: JobMatrix, event: SkipEvent): SkipEventRecord {
  return { jobId: event.jobId, params: event.params, reason: event.reason, missingPaths: event.missingPaths.map((file) => relativeInside(matrix.inputRoot, file)) };
}

function jobRecord(matrix: JobMatrix, planned: PlannedJob, previous: TrainingJobRecord | undefined, dryRun: boolean): TrainingJobRecord {
  const { job } = planned;
  let result: JobResult;
  if (planned.action === "reuse") result = { ...(planned.previous ?? PENDING), status: dryRun ? planned.previous!.status : "reused" };
  else if (dryRun) result = previous?.result ?? PENDING; // a dry run keeps earlier results for later reuse
  else result = PENDING;
  return {
    id: job.id,
    params: job.params,
    config: job.config,
    seeds: job.seeds,
    inputs: Object.fromEntries(Object.entries(job.inputs).map(([role, file]) => [role, relativeInside(matrix.inputRoot, file)])),
    inputHashes: planned.inputHashes,
    artifactDir: toPosix(path.relative(matrix.artifactRoot, job.artifactDir)),
    logPath: toPosix(path.relative(matrix.artifactRoot, job.logPath)),
    identity: planned.identity,
    plan: { action: planned.action as JobAction, reason: planned.reason },
    result,
  };
}

function skippedJobRecord(matrix: JobMatrix, event: SkipEvent, layout: { artifactDir: string; logPath: string } | undefined): TrainingJobRecord {
  return {
    id: event.jobId,
    params: event.params,
    config: null,
    seeds: {},
    inputs: {},
    inputHashes: {},
    artifactDir: layout?.artifactDir ?? `jobs/${event.jobId}`,
    logPath: layout?.logPath ?? `logs/${event.jobId}.log`,
    identity: null,
    plan: { action: "skip", reason: event.reason },
    result: { ...PENDING, status: "skipped" },
  };
}

function resolveExecutor(options: RunStudyOptions): Executor {
  if (options.executor === undefined || options.executor === "local") return createLocalExecutor({ concurrency: options.concurrency ?? 1, cancelGraceMs: options.cancelGraceMs });
  if (options.executor === "bullmq") {
    if (!options.bullmq?.redisUrl) throw new QueueError(QueueErrorCode.Config, 'executor "bullmq" needs a Redis URL: pass bullmq: { redisUrl: "redis://HOST:PORT" } (CLI: --redis URL)');
    return createBullmqExecutor(options.bullmq);
  }
  if (typeof options.executor !== "object" || options.executor === null || typeof options.executor.run !== "function") {
    throw new QueueError(QueueErrorCode.Config, `unknown executor ${JSON.stringify(options.executor)}: use "local", "bullmq" or an Executor object`);
  }
  return options.executor;
}

function resolveProgress(option: RunStudyOptions["progress"]): StudyProgress {
  if (option === undefined || typeof option === "string") return createStudyProgress({ mode: option ?? "auto" });
  return option;
}

/**
 * Runs (or, with `dryRun`, plans) the study: locks the artifact root (`E_LOCKED` naming the holder's pid
 * and host; a dead holder's lock is taken over), writes `training_manifest.json` and `skip_summary.json`,
 * runs the jobs that are not reusable on the executor, and records every result. Job failures do not
 * throw (see `failed` and the manifest); bad input, a held lock or an unreadable manifest do.
 */
export async function runStudy(matrix: JobMatrix, runner: JobRunner, options: RunStudyOptions = {}): Promise<StudyRunResult> {
  // Options are checked before the lock is taken, so bad input never leaves a lock behind.
  const executor = resolveExecutor(options);
  await mkdir(matrix.artifactRoot, { recursive: true });
  const lock = await acquireLock(path.join(matrix.artifactRoot, STUDY_LOCK_FILE), { purpose: `run the study in ${matrix.artifactRoot}`, timeoutMs: options.lockTimeoutMs ?? 0 });
  const cancel = new AbortController();
  const stop = new AbortController();
  const onExternalAbort = () => cancel.abort();
  options.signal?.addEventListener("abort", onExternalAbort, { once: true });
  if (options.signal?.aborted) cancel.abort();
  const progress = resolveProgress(options.progress);
  let signalCount = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signalCount += 1;
    if (signalCount > 1) {
      progress.end();
      process.exit(signal === "SIGINT" ? 130 : 143);
    }
    progress.notice(`${signal}: cancelling running jobs (press Ctrl-C again to exit at once)`);
    cancel.abort();
  };
  if (options.cancelOnSignals) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  try {
    const plan = await planStudy(matrix, options);
    const manifestPath = plan.manifestPath;
    const previous = await loadPrevious(manifestPath);
    const previousById = previousRecords(previous);
    const inMatrix = new Set([...plan.jobs.map((planned) => planned.job.id), ...matrix.skipped.map((event) => event.jobId)]);
    const retainedJobs = [...previousById.values()].filter((record) => !inMatrix.has(record.id));
    const dryRun = options.dryRun ?? false;
    const now = new Date().toISOString();
    const skippedViews = matrix.skipped.map((event) => skipRecord(matrix, event));
    const manifest: TrainingManifest = {
      version: TRAINING_MANIFEST_VERSION,
      createdAt: previous?.createdAt ?? now,
      updatedAt: now,
      roots: { artifactRoot: matrix.artifactRoot, inputRoot: matrix.inputRoot },
      outputRepository: detectOutputRepository(matrix.artifactRoot),
      filters: { params: matrix.filters.params, jobId: matrix.filters.jobId },
      strict: matrix.strict,
      dryRun,
      force: options.force ?? false,
      executor: executor.kind,
      state: dryRun ? "planned" : "running",
      counts: countJobs([]),
      jobs: [
        ...plan.jobs.map((planned) => jobRecord(matrix, planned, previousById.get(planned.job.id), dryRun)),
        ...matrix.skipped.map((event) => {
          const earlier = previousById.get(event.jobId);
          return skippedJobRecord(matrix, event, earlier ? { artifactDir: earlier.artifactDir, logPath: earlier.logPath } : undefined);
        }),
      ],
      retainedJobs,
      skipped_views: skippedViews,
      skipped_count: skippedViews.length,
      skipSummaryPath: SKIP_SUMMARY_FILE,
    };
    const skipSummary: SkipSummary = { createdAt: now, skipped_count: skippedViews.length, skipped_views: skippedViews };
    await writeJsonAtomic(path.join(matrix.artifactRoot, SKIP_SUMMARY_FILE), skipSummary);
    const writer = new ManifestWriter(manifestPath, manifest);
    writer.update((current) => current);
    const setResult = (jobId: string, result: JobResult) =>
      writer.update((current) => ({ ...current, jobs: current.jobs.map((record) => (record.id === jobId ? { ...record, result } : record)) }));

    const toRun = plan.jobs.filter((planned) => planned.action === "run").map((planned) => planned.job);
    if (dryRun) {
      for (const job of toRun) await runJob(job, runner, { dryRun: true });
    } else {
      progress.begin({ total: plan.counts.total, toRun: toRun.length, reused: plan.counts.reuse, skipped: plan.counts.skip });
      let failedOnce = false;
      // Exactly once per job in the manifest, whatever an executor reports twice (a distributed
      // executor can see a job start again after a worker died).
      const finished = new Set<string>();
      try {
        await executor.run(
          toRun,
          { runner, cancel: cancel.signal, stop: stop.signal },
          {
            onStart(job) {
              if (finished.has(job.id)) return;
              progress.jobStarted(job.id);
              setResult(job.id, { ...PENDING, status: "running", startedAt: new Date().toISOString() });
            },
            onLog(job, line) {
              if (!finished.has(job.id)) progress.jobLog(job.id, line);
            },
            onFinish(job, result) {
              if (finished.has(job.id)) return;
              finished.add(job.id);
              progress.jobFinished(job.id, result);
              setResult(job.id, result);
              if (result.status === "failed" && !failedOnce) {
                failedOnce = true;
                if (options.failFast && !cancel.signal.aborted) {
                  progress.notice(`--fail-fast: ${job.id} failed; not starting further jobs`);
                  stop.abort();
                }
              }
            },
            onNotice(message) {
              progress.notice(message);
            },
          },
        );
      } catch (error) {
        // The executor itself failed (e.g. the queue stayed unreachable): record it, keep the manifest valid.
        writer.update((current) => ({ ...current, state: "failed" }));
        await writer.flush();
        throw error;
      }
    }
    const finalCounts = countJobs(writer.current.jobs);
    const cancelled = cancel.signal.aborted && finalCounts.remaining + writer.current.jobs.filter((record) => record.result.error?.code === RunnerErrorCode.Cancelled).length > 0;
    const state: StudyState = dryRun ? "planned" : cancelled ? "cancelled" : finalCounts.failed > 0 || finalCounts.remaining > 0 ? "failed" : "completed";
    writer.update((current) => ({ ...current, state }));
    await writer.flush();
    const final = writer.current;
    return { manifestPath, manifest: final, plan, counts: final.counts, cancelled, failed: final.counts.failed > 0 };
  } finally {
    progress.end();
    if (options.cancelOnSignals) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    options.signal?.removeEventListener("abort", onExternalAbort);
    await executor.close().catch(() => undefined);
    await lock.release();
  }
}
