/**
 * What lives in Redis besides BullMQ's own keys, for one queue: which studies use it, which workers serve
 * it, and which jobs a coordinator cancelled. Coordinators and workers publish a JSON record with a
 * heartbeat time (hashes keyed by study run id and by worker id); `studykit queue status` reads them. A
 * record is advisory: a killed process leaves its record behind, and readers judge it by its heartbeat.
 *
 * Queue job ids are namespaced by the study: `<study run id>/<job id>`, so two studies with the same job
 * ids share one queue without meeting.
 */

/** How often coordinators and workers refresh their records. */
export const HEARTBEAT_INTERVAL_MS = 2000;

/** A record whose heartbeat is older than this belongs to a process that is gone (killed, or cut off). */
export const HEARTBEAT_LOST_MS = 5 * HEARTBEAT_INTERVAL_MS;

/** Worker records older than this are removed by the next worker that starts. */
export const WORKER_RECORD_EXPIRY_MS = 60 * 60 * 1000;

/** Redis hash of study records (field: study run id). */
export function studiesKey(prefix: string, queueName: string): string {
  return `${prefix}:${queueName}:studykit-studies`;
}

/** Redis hash of worker records (field: worker id). */
export function workersKey(prefix: string, queueName: string): string {
  return `${prefix}:${queueName}:studykit-workers`;
}

/** Redis set (per queue) of queue job ids the coordinators asked to cancel. */
export function cancelSetKey(prefix: string, queueName: string): string {
  return `${prefix}:${queueName}:studykit-cancel`;
}

/** The queue job id of a study's job. */
export function queueJobId(studyRunId: string, jobId: string): string {
  return `${studyRunId}/${jobId}`;
}

/** Splits a queue job id into its study run id and job id (an id without a namespace has study `""`). */
export function splitQueueJobId(queueId: string): { readonly studyRunId: string; readonly jobId: string } {
  const slash = queueId.indexOf("/");
  return slash < 0 ? { studyRunId: "", jobId: queueId } : { studyRunId: queueId.slice(0, slash), jobId: queueId.slice(slash + 1) };
}

/** The final state of a study as its coordinator last published it. */
export type StudyRecordState = "running" | "completed" | "failed" | "cancelled";

/** A coordinator's record of its study. */
export interface StudyRecord {
  readonly runId: string;
  /** The coordinator's artifact root (workers may see it under another path). */
  readonly artifactRoot: string;
  readonly coordinator: { readonly host: string; readonly pid: number };
  readonly startedAt: string;
  readonly heartbeatAt: string;
  /** Jobs this coordinator runs on the queue (reused ones are not counted). */
  readonly jobCount: number;
  readonly state: StudyRecordState;
}

/** A worker's record of itself. */
export interface WorkerRecord {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly concurrency: number;
  /** The worker's own artifact root (`--artifact-root`), when it maps the coordinators' paths. */
  readonly artifactRoot: string | null;
  readonly startedAt: string;
  readonly heartbeatAt: string;
  /** Queue job ids it is running, with when each started. */
  readonly jobs: readonly { readonly id: string; readonly startedAt: string }[];
}

/** Parses a record; a malformed one (another tool's, an older version's) is dropped rather than trusted. */
export function parseRecord<T extends { heartbeatAt: string }>(text: string | null | undefined): T | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as T;
    return value && typeof value === "object" && typeof value.heartbeatAt === "string" ? value : null;
  } catch {
    return null;
  }
}
