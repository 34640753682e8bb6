/**
 * What travels through the queue: a job's data (the study job, the runner module, a key of what the job
 * is), results of failed jobs encoded in BullMQ's failure reason, and which failures are worth a retry.
 */
import type { JobResult, RunnerModule } from "../../../study/job-runner.js";
import type { StudyJob } from "../../../study/job-matrix.js";

/** Default BullMQ queue name. */
export const DEFAULT_QUEUE_NAME = "studykit-jobs";

/** Default Redis key prefix (BullMQ's). */
export const DEFAULT_QUEUE_PREFIX = "bull";

/**
 * BullMQ job data. Paths are the coordinator's, absolute; a worker that sees the shared file system
 * elsewhere maps them (`path-mapping.ts`).
 */
export interface QueuedJobData {
  readonly job: StudyJob;
  readonly runner: RunnerModule;
  /**
   * Fingerprint of what the job is (definition and final identity): a queued job with another key is stale
   * and replaced; a completed one with the same key is the job's result.
   */
  readonly key: string;
  /** The study's run id (absent in jobs enqueued by coordinators before studies were namespaced). */
  readonly studyRunId?: string;
  /** The coordinator's artifact root, which a worker maps to its own (`--artifact-root`). */
  readonly artifactRoot?: string;
  /**
   * Random id of this enqueueing: a worker handed the same delivery again after it completed it returns its
   * recorded result (`completion-record.ts`); a new enqueueing (forced rerun, replaced failure) runs anew.
   */
  readonly enqueueId?: string;
}

/** Progress a worker publishes for a running job. */
export interface QueuedJobProgress {
  readonly line: string;
}

const FAILURE_MARK = "studykit-result:";

/** Encodes a failed job's result as a BullMQ failure reason. */
export function encodeFailure(result: JobResult): string {
  return `${FAILURE_MARK}${JSON.stringify(result)}`;
}

/** Decodes a failure reason; a reason from BullMQ itself (e.g. stalled too often) becomes a crash result. */
export function decodeFailure(reason: string | undefined, attempts: number): JobResult {
  if (reason?.startsWith(FAILURE_MARK)) {
    try {
      return JSON.parse(reason.slice(FAILURE_MARK.length)) as JobResult;
    } catch {
      // fall through
    }
  }
  const now = new Date().toISOString();
  return {
    status: "failed",
    error: { code: "E_JOB_CRASHED", message: `the job queue failed the job: ${reason ?? "no reason given"}` },
    startedAt: null,
    finishedAt: now,
    durationMs: null,
    metrics: null,
    bundlePath: null,
    bundleSha256: null,
    output: null,
    attempts,
  };
}

/**
 * Failures worth another attempt (with backoff): the job's process died (out of memory, killed) or the
 * worker shut down under it. Anything the runner itself reported is deterministic and fails at once.
 */
export const TRANSIENT_ERROR_CODES: ReadonlySet<string> = new Set(["E_JOB_CRASHED", "E_CANCELLED", "E_TRANSIENT", "E_QUEUE_UNAVAILABLE"]);
