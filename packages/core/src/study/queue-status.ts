/**
 * What a distributed-executor queue is doing (`studykit queue status --redis URL [--json]`): the studies
 * on it with their jobs by state, the workers with their current jobs and last heartbeat, and stalled
 * jobs (running, but their worker stopped renewing the lock: it was killed or cut off, and another worker
 * will take the job over at its next stalled-job check). Read-only: it changes nothing in Redis.
 */
import { QueueError, QueueErrorCode } from "../errors.js";
import { DEFAULT_QUEUE_NAME, DEFAULT_QUEUE_PREFIX } from "../internal/study/queue/queued-job.js";
import { HEARTBEAT_LOST_MS, parseRecord, splitQueueJobId, studiesKey, workersKey, type StudyRecord, type StudyRecordState, type WorkerRecord } from "../internal/study/queue/queue-registry.js";
import { checkRedisUrl, connectOrFail, createRedisClient, redactRedisUrl } from "../internal/study/queue/redis-connection.js";

/** Options of {@link readQueueStatus}. */
export interface QueueStatusOptions {
  readonly redisUrl: string;
  /** Queue name (default `studykit-jobs`). */
  readonly queueName?: string;
  /** Redis key prefix (default `bull`). */
  readonly prefix?: string;
  /** How long to wait for Redis (default 5000 ms). */
  readonly connectTimeoutMs?: number;
}

/** The queue states a job can be in, as counted. */
export const QUEUE_JOB_STATES = ["waiting", "active", "delayed", "prioritized", "completed", "failed"] as const;
export type QueueJobState = (typeof QUEUE_JOB_STATES)[number];
export type QueueJobCounts = Readonly<Record<QueueJobState, number>>;

/** One study on the queue. */
export interface QueueStudyStatus {
  readonly runId: string;
  /** From the coordinator's record; null for jobs whose study left no record (an older coordinator). */
  readonly artifactRoot: string | null;
  readonly coordinator: { readonly host: string; readonly pid: number } | null;
  /** The coordinator's state; `running` with a lost heartbeat means the coordinator died (rerun it to resume). */
  readonly state: StudyRecordState | null;
  readonly heartbeatAt: string | null;
  /** True when the coordinator said `running` but stopped refreshing its record. */
  readonly coordinatorLost: boolean;
  readonly jobs: QueueJobCounts;
}

/** One worker serving the queue. */
export interface QueueWorkerStatus {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly concurrency: number;
  readonly artifactRoot: string | null;
  readonly heartbeatAt: string;
  /** Milliseconds since the last heartbeat when the status was read. */
  readonly heartbeatAgeMs: number;
  /** True when the heartbeat is too old: the worker is gone (killed, or cut off from Redis). */
  readonly lost: boolean;
  /** Jobs it runs (queue job ids `<study run id>/<job id>`). */
  readonly jobs: readonly { readonly id: string; readonly startedAt: string }[];
}

/** The whole queue. */
export interface QueueStatus {
  readonly queue: string;
  /** The Redis URL, password redacted. */
  readonly redis: string;
  readonly readAt: string;
  readonly jobs: QueueJobCounts;
  readonly studies: readonly QueueStudyStatus[];
  readonly workers: readonly QueueWorkerStatus[];
  /** Running jobs whose lock expired: their worker is gone; another worker takes them over soon. */
  readonly stalled: readonly { readonly id: string; readonly studyRunId: string; readonly jobId: string }[];
}

const emptyCounts = (): Record<QueueJobState, number> => ({ waiting: 0, active: 0, delayed: 0, prioritized: 0, completed: 0, failed: 0 });

/** Reads the queue's status; `E_QUEUE_UNAVAILABLE` naming the URL when Redis cannot be reached. */
export async function readQueueStatus(options: QueueStatusOptions): Promise<QueueStatus> {
  const url = checkRedisUrl(options.redisUrl);
  const queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
  const prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const client = await createRedisClient(url, { blocking: false, connectTimeoutMs });
  await connectOrFail(client, url, connectTimeoutMs);
  const { Queue } = await import("bullmq");
  const queue = new Queue(queueName, { connection: client, prefix });
  queue.on("error", () => undefined);
  try {
    const now = Date.now();
    const idsByState = await Promise.all(QUEUE_JOB_STATES.map((state) => queue.getRanges([state], 0, -1)));
    const jobs = emptyCounts();
    const perStudy = new Map<string, Record<QueueJobState, number>>();
    QUEUE_JOB_STATES.forEach((state, index) => {
      for (const id of new Set(idsByState[index]!)) {
        jobs[state] += 1;
        const { studyRunId } = splitQueueJobId(id);
        const counts = perStudy.get(studyRunId) ?? emptyCounts();
        counts[state] += 1;
        perStudy.set(studyRunId, counts);
      }
    });
    const active = [...new Set(idsByState[QUEUE_JOB_STATES.indexOf("active")]!)];
    const locks = await Promise.all(active.map((id) => client.exists(`${queue.toKey(id)}:lock`)));
    const stalled = active.filter((_, index) => locks[index] === 0).map((id) => ({ id, ...splitQueueJobId(id) }));

    const studyRecords = Object.values(await client.hgetall(studiesKey(prefix, queueName)))
      .map((text) => parseRecord<StudyRecord>(text))
      .filter((record): record is StudyRecord => record !== null);
    const byId = new Map(studyRecords.map((record) => [record.runId, record]));
    const studyIds = [...new Set([...byId.keys(), ...perStudy.keys()])].sort();
    const studies: QueueStudyStatus[] = studyIds.map((runId) => {
      const record = byId.get(runId) ?? null;
      return {
        runId,
        artifactRoot: record?.artifactRoot ?? null,
        coordinator: record?.coordinator ?? null,
        state: record?.state ?? null,
        heartbeatAt: record?.heartbeatAt ?? null,
        coordinatorLost: record?.state === "running" && now - Date.parse(record.heartbeatAt) > HEARTBEAT_LOST_MS,
        jobs: perStudy.get(runId) ?? emptyCounts(),
      };
    });
    const workers: QueueWorkerStatus[] = Object.values(await client.hgetall(workersKey(prefix, queueName)))
      .map((text) => parseRecord<WorkerRecord>(text))
      .filter((record): record is WorkerRecord => record !== null)
      .map((record) => {
        const age = Math.max(0, now - Date.parse(record.heartbeatAt));
        return { id: record.id, host: record.host, pid: record.pid, concurrency: record.concurrency, artifactRoot: record.artifactRoot, heartbeatAt: record.heartbeatAt, heartbeatAgeMs: age, lost: age > HEARTBEAT_LOST_MS, jobs: record.jobs };
      })
      .sort((a, b) => Number(a.lost) - Number(b.lost) || a.id.localeCompare(b.id));
    return { queue: queueName, redis: redactRedisUrl(url), readAt: new Date(now).toISOString(), jobs, studies, workers, stalled };
  } catch (error) {
    if (error instanceof QueueError) throw error;
    throw new QueueError(QueueErrorCode.Unavailable, `cannot read the job queue ${queueName} at ${redactRedisUrl(url)}: ${(error as Error).message}`, { cause: error });
  } finally {
    await queue.close().catch(() => undefined);
    client.disconnect();
  }
}

function seconds(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 60_000)}min`;
}

function countsText(counts: QueueJobCounts): string {
  return QUEUE_JOB_STATES.filter((state) => counts[state] > 0).map((state) => `${counts[state]} ${state}`).join(", ") || "no jobs";
}

/** The status as the text `studykit queue status` prints. */
export function formatQueueStatus(status: QueueStatus): string {
  const now = Date.parse(status.readAt);
  const lines = [`queue ${status.queue} at ${status.redis}: ${countsText(status.jobs)}`];
  lines.push(`studies (${status.studies.length}):`);
  for (const study of status.studies) {
    const who = study.coordinator ? `coordinator ${study.coordinator.host} pid ${study.coordinator.pid}` : "no coordinator record";
    const state = study.coordinatorLost ? `coordinator lost (last heartbeat ${seconds(now - Date.parse(study.heartbeatAt!))} ago): run the study again to resume` : (study.state ?? "unknown");
    lines.push(`  ${study.runId}  ${state}; ${countsText(study.jobs)}; ${who}${study.artifactRoot ? `; ${study.artifactRoot}` : ""}`);
  }
  lines.push(`workers (${status.workers.length}):`);
  for (const worker of status.workers) {
    const jobs = worker.jobs.length > 0 ? worker.jobs.map((job) => `${job.id} (since ${seconds(Math.max(0, now - Date.parse(job.startedAt)))})`).join(", ") : "idle";
    lines.push(`  ${worker.id}  ${worker.lost ? "LOST, " : ""}last heartbeat ${seconds(worker.heartbeatAgeMs)} ago, concurrency ${worker.concurrency}: ${jobs}`);
  }
  lines.push(`stalled jobs (${status.stalled.length})${status.stalled.length > 0 ? ": " + status.stalled.map((job) => job.id).join(", ") : ""}`);
  return lines.join("\n");
}
