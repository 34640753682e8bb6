/**
 * Running a study (a built {@link JobMatrix}) on an {@link Executor}: the coordinator.
 *
 * `runStudy` plans the study (`study-planner.ts`), holds a lock on the artifact root, writes
 * `training_manifest.json` before any job starts, runs the planned jobs, records each result as it arrives
 * (atomically), and leaves the manifest valid when cancelled, so that the next run resumes with the jobs
 * that did not finish. Only the coordinator writes the manifest, whichever executor runs the jobs.
 *
 * CLI mapping (`studykit study plan|run`): `--artifact-root` → the matrix's `artifactRoot`; `--dose`,
 * `--view`, `--gridsize`, `--job-id` → the matrix's `filters`; `--strict` → the matrix's `strict`;
 * `--dry-run`, `--concurrency`, `--force`, `--fail-fast` → {@link RunStudyOptions}; `--json` → print the
 * returned `manifest` (or plan) as JSON; `--executor local|bullmq` → `executor`, `--redis URL` →
 * `bullmq.redisUrl`.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fingerprint } from "../identity/canonical-json.js";
import { detectOutputRepository } from "../identity/code-version.js";
import { writeJsonAtomic } from "../fs/atomic-file.js";
import { acquireLock } from "../internal/fs/file-lock.js";
import { createLocalExecutor, type Executor, type ExecutorStudy } from "./local-executor.js";
import { QueueError, QueueErrorCode, RunnerErrorCode } from "../errors.js";
import { createBullmqExecutor, type BullmqExecutorOptions } from "./bullmq-executor.js";
import { loadPreviousManifest, previousRecords, relativeInside, toPosix } from "../internal/study/training-manifest-records.js";
import type { JobMatrix, SkipEvent } from "./job-matrix.js";
import { createStudyProgress, type ProgressMode, type StudyProgress } from "./study-progress.js";
import { runJob, type JobResult, type JobRunner } from "./job-runner.js";
import { planStudy, type PlannedJob, type PlanStudyOptions, type StudyPlan } from "./study-planner.js";
import {
  countJobs,
  SKIP_SUMMARY_FILE,
  skipEventSeedFields,
  TRAINING_MANIFEST_VERSION,
  type JobAction,
  type SkipEventRecord,
  type SkipSummary,
  type StudyCounts,
  type StudyState,
  type TrainingJobRecord,
  type TrainingManifest,
} from "./training-manifest.js";

/** Name of the lock file in the artifact root that stops two runners from running one study at once. */
export const STUDY_LOCK_FILE = ".studykit-study.lock";

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
  return { jobId: event.jobId, ...skipEventSeedFields(event.params), params: event.params, reason: event.reason, missingPaths: event.missingPaths.map((file) => relativeInside(matrix.inputRoot, file)) };
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

/**
 * The study as an executor sees it: a run id that stays the same while the manifest does (a restarted
 * coordinator resumes the same study, a fresh artifact root starts a new one).
 */
function executorStudy(matrix: JobMatrix, createdAt: string, force: boolean): ExecutorStudy {
  return { runId: `study-${fingerprint({ artifactRoot: matrix.artifactRoot, createdAt }).slice(0, 16)}`, artifactRoot: matrix.artifactRoot, reuseCompleted: !force };
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
    const previous = await loadPreviousManifest(manifestPath);
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
          { runner, cancel: cancel.signal, stop: stop.signal, study: executorStudy(matrix, manifest.createdAt, options.force ?? false) },
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
