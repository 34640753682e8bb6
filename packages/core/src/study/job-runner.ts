/**
 * Running one job: the runner contract, job results, and {@link runJob}.
 *
 * A runner is injected. Give a module reference (`{ module: "/abs/path/runner.js", export: "runJob" }`) to
 * run each job in its own child process, so a job that crashes (throws, calls `process.exit`, segfaults in
 * native code, runs out of memory) cannot take other jobs or the coordinator down and can be cancelled by
 * killing it; the BullMQ workers load the same module. A plain function runs in-process (simple scripts
 * and tests; no isolation).
 *
 * The runner receives `{ config, job, log, signal, attempt }`. `job.artifactDir` is a private staging
 * directory: everything written there is renamed into the job's real artifact directory only when the
 * runner returns successfully, so a failed or retried job never leaves half an artifact. The runner returns
 * `{ metrics?, bundlePath?, ...extra }`; `bundlePath` (relative to `job.artifactDir`, or absolute inside
 * it) is hashed and recorded as `bundleSha256`.
 */
import { mkdirSync } from "node:fs";
import type { JsonValue } from "../identity/canonical-json.js";
import type { JobParams, StudyJob } from "./job-matrix.js";
import { executeJob } from "../internal/study/job-execution/execute-job.js";
import { openJobLog } from "../internal/study/job-execution/job-log.js";

/** A job's log: call it (or `.info`/`.warn`/`.error`) with a message; each line is timestamped. */
export interface JobLog {
  (message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Absolute path of the log file. */
  readonly path: string;
}

/** What a runner receives. */
export interface RunnerContext {
  /** The job's training config (JSON). */
  readonly config: JsonValue;
  /**
   * The job. Its `artifactDir` is the staging directory to write artifacts into; `job.identity` is its
   * final run identity as the training manifest records it (pass it on, e.g. to `train({ identity })`).
   */
  readonly job: StudyJob;
  readonly log: JobLog;
  /** Aborted when the job is cancelled; stop promptly and throw. */
  readonly signal: AbortSignal;
  /** 1 on the first attempt; higher when a distributed executor retries the job. */
  readonly attempt: number;
}

/** What a runner returns. Extra fields must be JSON; they are recorded under `result.output`. */
export interface RunnerOutput {
  readonly metrics?: Readonly<Record<string, JsonValue>>;
  /** The trained bundle: relative to the artifact directory, or absolute inside it. */
  readonly bundlePath?: string;
  readonly [extra: string]: unknown;
}

/** An in-process runner. */
export type RunnerFunction = (context: RunnerContext) => RunnerOutput | void | Promise<RunnerOutput | void>;

/** A runner loaded from a module in a child process: `import(module)[export]` (default export `runJob`). */
export interface RunnerModule {
  /** Absolute path or `file:` URL of an ES module (or CommonJS file). */
  readonly module: string;
  /** Export name; default `"runJob"`. */
  readonly export?: string;
}

/** A runner: a module reference (isolated child process per job) or a function (in-process). */
export type JobRunner = RunnerModule | RunnerFunction;

/** Outcome of a job in the study manifest. `pending`/`running` only appear while a study is under way. */
export type JobStatus = "pending" | "running" | "succeeded" | "failed" | "skipped" | "reused";

/** A job's recorded error. */
export interface JobErrorRecord {
  readonly code: string;
  readonly message: string;
}

/** A job's result, as recorded in the study manifest. */
export interface JobResult {
  readonly status: JobStatus;
  readonly error: JobErrorRecord | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  readonly metrics: Readonly<Record<string, JsonValue>> | null;
  /** Bundle path relative to the job's artifact directory (POSIX). */
  readonly bundlePath: string | null;
  readonly bundleSha256: string | null;
  /** Extra JSON fields the runner returned. */
  readonly output: Readonly<Record<string, JsonValue>> | null;
  /** Attempts made (distributed retries count). */
  readonly attempts: number;
}

/** What a dry run of a job says it would do. */
export interface JobPlanSummary {
  readonly jobId: string;
  readonly params: JobParams;
  readonly inputs: Readonly<Record<string, string>>;
  readonly outputs: { readonly artifactDir: string };
  readonly logPath: string;
  readonly dryRun: true;
}

/** Options of {@link runJob}. */
export interface RunJobOptions {
  /** Plan only: write a `DRY RUN` marker to the log and return the plan summary; the runner is not called. */
  readonly dryRun?: boolean;
  /** Cancels the job: the runner's signal is aborted, and a child process is killed after `cancelGraceMs`. */
  readonly signal?: AbortSignal;
  /** How long a cancelled child process gets to stop before SIGKILL (default 2000 ms). */
  readonly cancelGraceMs?: number;
  /** Attempt number passed to the runner (default 1). */
  readonly attempt?: number;
  /** Called with each log line (for progress displays). */
  readonly onLog?: (line: string) => void;
  /** Node flags for the child process (default: this process's `execArgv`). */
  readonly execArgv?: readonly string[];
}

/** The `DRY RUN` marker line written to a job's log by a dry run. */
export const DRY_RUN_MARKER = "DRY RUN";

/** The plan summary of a job (what a dry run reports). */
export function summarizeJobPlan(job: StudyJob): JobPlanSummary {
  return { jobId: job.id, params: job.params, inputs: job.inputs, outputs: { artifactDir: job.artifactDir }, logPath: job.logPath, dryRun: true };
}

/**
 * Runs one job: creates its artifact and log directories, opens its log and calls the runner (in a child
 * process for a {@link RunnerModule}). Never throws for a job failure: the result says `failed` with the
 * error's code and message. A dry run writes the `DRY RUN` marker and returns the plan summary instead.
 */
export function runJob(job: StudyJob, runner: JobRunner, options: RunJobOptions & { readonly dryRun: true }): Promise<JobPlanSummary>;
export function runJob(job: StudyJob, runner: JobRunner, options?: RunJobOptions & { readonly dryRun?: false }): Promise<JobResult>;
export function runJob(job: StudyJob, runner: JobRunner, options?: RunJobOptions): Promise<JobResult | JobPlanSummary>;
export async function runJob(job: StudyJob, runner: JobRunner, options: RunJobOptions = {}): Promise<JobResult | JobPlanSummary> {
  if (options.dryRun) {
    mkdirSync(job.artifactDir, { recursive: true });
    const log = openJobLog(job.logPath);
    const plan = summarizeJobPlan(job);
    log(`${DRY_RUN_MARKER}: job ${job.id} would run with params ${JSON.stringify(job.params)}; inputs ${JSON.stringify(job.inputs)}; artifacts in ${job.artifactDir}`);
    return plan;
  }
  return executeJob(job, runner, options);
}
