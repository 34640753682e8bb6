/**
 * Executors run a study's jobs. The study runner plans, keeps the manifest and shows progress; an executor
 * only runs the jobs it is given and reports each one's start, log lines and result. The local executor
 * is a pool of child processes on this machine; the BullMQ executor (`createBullmqExecutor`) hands the
 * same jobs to workers on other machines. Both run jobs through the same staged-artifact code path.
 */
import type { StudyJob } from "./job-matrix.js";
import { executeJob } from "../internal/study/job-execution/execute-job.js";
import type { JobResult, JobRunner } from "./job-runner.js";
import { CoreError, CoreErrorCode } from "../errors.js";

/** What an executor reports while it runs jobs. */
export interface ExecutorCallbacks {
  /** A job started (for a distributed executor: a worker picked it up). */
  onStart(job: StudyJob): void;
  /** A log line of a running job. */
  onLog(job: StudyJob, line: string): void;
  /** A job finished; called exactly once per job that started, with its final result. */
  onFinish(job: StudyJob, result: JobResult): void | Promise<void>;
  /** Something worth telling the user that is not about one job (e.g. the queue is unreachable). */
  onNotice?(message: string): void;
}

/** The study an executor's jobs belong to (a distributed executor namespaces its queue by it). */
export interface ExecutorStudy {
  /** Stable id of the study run: the same across coordinator restarts, new for a fresh artifact root. */
  readonly runId: string;
  /** The coordinator's artifact root. */
  readonly artifactRoot: string;
  /**
   * Whether a result a distributed executor already holds for a job of the same definition and identity
   * is taken instead of running the job again (a restarted coordinator); false for a forced rerun.
   */
  readonly reuseCompleted: boolean;
}

/** Options of {@link Executor.run}. */
export interface ExecutorRunOptions {
  /** The study the jobs belong to; without it a distributed executor derives a namespace from the jobs. */
  readonly study?: ExecutorStudy;
  readonly runner: JobRunner;
  /** Aborted to cancel: running jobs are stopped (their result is `failed`, `E_CANCELLED`). */
  readonly cancel: AbortSignal;
  /** Aborted to stop starting new jobs (fail-fast); running jobs finish. */
  readonly stop: AbortSignal;
}

/** Runs jobs. Resolves when every job has finished or will not be started (cancel/stop). */
export interface Executor {
  /** `"local"`, `"bullmq"`, ... (recorded in the study manifest). */
  readonly kind: string;
  run(jobs: readonly StudyJob[], options: ExecutorRunOptions, callbacks: ExecutorCallbacks): Promise<void>;
  /** Releases resources (connections); idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createLocalExecutor}. */
export interface LocalExecutorOptions {
  /** Jobs run at the same time (≥ 1, default 1). */
  readonly concurrency?: number;
  /** How long a cancelled job's process gets before SIGKILL (default 2000 ms). */
  readonly cancelGraceMs?: number;
  /** Node flags for job processes (default: this process's `execArgv`). */
  readonly execArgv?: readonly string[];
}

/** Validates a concurrency setting (an integer ≥ 1). */
export function checkConcurrency(value: unknown, what = "concurrency"): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new CoreError(CoreErrorCode.Concurrency, `${what} must be an integer ≥ 1, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * A pool of `concurrency` slots on this machine. With a module runner each job runs in its own child
 * process, so a crashing job only fails itself.
 */
export function createLocalExecutor(options: LocalExecutorOptions = {}): Executor {
  const concurrency = checkConcurrency(options.concurrency ?? 1);
  return {
    kind: "local",
    async run(jobs, { runner, cancel, stop }, callbacks) {
      let next = 0;
      const slot = async (): Promise<void> => {
        while (next < jobs.length && !cancel.aborted && !stop.aborted) {
          const job = jobs[next++]!;
          callbacks.onStart(job);
          const result = await executeJob(job, runner, {
            signal: cancel,
            cancelGraceMs: options.cancelGraceMs,
            execArgv: options.execArgv,
            onLog: (line) => callbacks.onLog(job, line),
          });
          await callbacks.onFinish(job, result);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, jobs.length)) }, slot));
    },
    async close() {},
  };
}
