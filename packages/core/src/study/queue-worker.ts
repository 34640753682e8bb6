/**
 * The worker side of the distributed executor (`runWorker`, `studykit worker --redis URL`): takes study
 * jobs from the BullMQ queue, whatever study they belong to, and runs each with the runner module the job
 * names, through the same staged-artifact code as the local executor (artifacts are written to a staging
 * directory and renamed into place when complete).
 *
 * A worker on another machine may see the shared file system under other paths: `artifactRoot` maps the
 * coordinator's artifact root, `pathMappings` any other prefix. Before its first job under an artifact root
 * it checks that it can see and write it; if not, that job fails with `E_QUEUE_ARTIFACT_ROOT` naming the
 * path and the worker stops (with the same error), so one badly mounted worker cannot fail a whole study.
 * It publishes a record of itself (running jobs, heartbeat) for `studykit queue status`.
 */
import { hostname } from "node:os";
import path from "node:path";
import type { Job } from "bullmq";
import { hasErrorCode } from "@studykit/native";
import { QueueError, QueueErrorCode } from "../errors.js";
import { executeJob } from "../internal/study/job-execution/execute-job.js";
import { completionRecordPath, readCompletionRecord, writeCompletionRecord } from "../internal/study/queue/completion-record.js";
import { checkArtifactRootWritable, mapJobPaths, mapPath, parsePathMapping, type PathMapping } from "../internal/study/queue/path-mapping.js";
import { DEFAULT_QUEUE_NAME, DEFAULT_QUEUE_PREFIX, encodeFailure, TRANSIENT_ERROR_CODES, type QueuedJobData, type QueuedJobProgress } from "../internal/study/queue/queued-job.js";
import { cancelSetKey, HEARTBEAT_INTERVAL_MS, parseRecord, WORKER_RECORD_EXPIRY_MS, workersKey, type WorkerRecord } from "../internal/study/queue/queue-registry.js";
import { checkRedisUrl, connectOrFail, createRedisClient, redactRedisUrl } from "../internal/study/queue/redis-connection.js";
import type { JobResult } from "./job-runner.js";
import { checkConcurrency } from "./local-executor.js";

export { parsePathMapping, type PathMapping };

/** Options of {@link runWorker}. */
export interface RunWorkerOptions {
  /** `redis://host:port` of the queue. */
  readonly redisUrl: string;
  /** Jobs this worker runs at once (default 1). */
  readonly concurrency?: number;
  /** Queue name (default `studykit-jobs`). */
  readonly queueName?: string;
  /** Redis key prefix (default `bull`). */
  readonly prefix?: string;
  /**
   * Where this machine sees the coordinators' artifact root, when not at the coordinator's path (e.g. the
   * shared file system is mounted elsewhere). Job directories and logs are mapped into it.
   */
  readonly artifactRoot?: string;
  /** Further path prefixes to map (input roots, the runner module's checkout): `{ from, to }` or `"FROM=TO"`. */
  readonly pathMappings?: readonly (PathMapping | string)[];
  /** Stops the worker: it takes no new jobs and returns once its running jobs finished. */
  readonly signal?: AbortSignal;
  /** A job's lock lasts this long without renewal; a killed worker's job is retried after it (default 30 000 ms). */
  readonly lockDurationMs?: number;
  /** How often this worker looks for stalled jobs of dead workers (default 30 000 ms). */
  readonly stalledIntervalMs?: number;
  /** How often a job may stall (its worker died) before it fails (default 2). */
  readonly maxStalledCount?: number;
  /** How long to wait for Redis at start (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  /** How long a cancelled job's process gets before SIGKILL (default 2000 ms). */
  readonly cancelGraceMs?: number;
  /** Receives one line per worker event (ready, job started/finished, connection problems). */
  readonly onEvent?: (message: string) => void;
}

function failure(code: string, message: string, attempt: number): JobResult {
  const now = new Date().toISOString();
  return { status: "failed", error: { code, message }, startedAt: now, finishedAt: now, durationMs: 0, metrics: null, bundlePath: null, bundleSha256: null, output: null, attempts: attempt };
}

/**
 * Runs a worker until `signal` aborts: takes jobs from the queue and runs each with the runner module named
 * in the job (in a child process, staged artifacts renamed into place when complete). Throws
 * `E_QUEUE_UNAVAILABLE` when Redis cannot be reached at start, and `E_QUEUE_ARTIFACT_ROOT` (after failing
 * the job that found it) when this machine cannot see or write a study's artifact root; later Redis
 * outages are ridden out (BullMQ reconnects).
 */
export async function runWorker(options: RunWorkerOptions): Promise<void> {
  const url = checkRedisUrl(options.redisUrl);
  const queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
  const prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
  const concurrency = checkConcurrency(options.concurrency ?? 1);
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const event = options.onEvent ?? (() => undefined);
  const shownUrl = redactRedisUrl(url);
  const ownRoot = options.artifactRoot === undefined ? null : path.resolve(options.artifactRoot);
  const extraMappings = (options.pathMappings ?? []).map((mapping) => (typeof mapping === "string" ? parsePathMapping(mapping) : { from: path.resolve(mapping.from), to: path.resolve(mapping.to) }));
  const { UnrecoverableError, Worker } = await import("bullmq");
  const connection = await createRedisClient(url, { blocking: true, connectTimeoutMs });
  await connectOrFail(connection, url, connectTimeoutMs);
  // A separate fail-fast client polls the cancel set and writes the heartbeat, so neither piles up during an outage.
  const control = await createRedisClient(url, { blocking: false, connectTimeoutMs });
  await connectOrFail(control, url, connectTimeoutMs);
  const cancelKey = cancelSetKey(prefix, queueName);
  const workerId = `${hostname()}/${process.pid}`;
  const startedAt = new Date().toISOString();
  const running = new Map<string, string>();
  const halt = new AbortController();
  let fatal: QueueError | null = null;
  const checkedRoots = new Set<string>();

  const publish = (): Promise<unknown> => {
    const record: WorkerRecord = { id: workerId, host: hostname(), pid: process.pid, concurrency, artifactRoot: ownRoot, startedAt, heartbeatAt: new Date().toISOString(), jobs: [...running].map(([id, since]) => ({ id, startedAt: since })) };
    return control.hset(workersKey(prefix, queueName), workerId, JSON.stringify(record)).catch(() => undefined);
  };
  await pruneWorkerRecords(control, workersKey(prefix, queueName));

  const processor = async (bullJob: Job<QueuedJobData, JobResult>, _token?: string, signal?: AbortSignal): Promise<JobResult> => {
    const data = bullJob.data;
    const attempt = bullJob.attemptsMade + 1;
    const queueId = bullJob.id ?? data.job.id;
    // Jobs enqueued by an older coordinator carry no artifact root: check the job's parent directory then.
    const coordinatorRoot = data.artifactRoot ?? path.dirname(data.job.artifactDir);
    const mappings = [...(ownRoot && ownRoot !== coordinatorRoot ? [{ from: coordinatorRoot, to: ownRoot }] : []), ...extraMappings];
    const job = mapJobPaths(data.job, mappings);
    const runner = path.isAbsolute(data.runner.module) ? { ...data.runner, module: mapPath(data.runner.module, mappings) } : data.runner;
    const root = mapPath(coordinatorRoot, mappings);
    if (!checkedRoots.has(root)) {
      try {
        checkArtifactRootWritable(root, coordinatorRoot);
        checkedRoots.add(root);
      } catch (error) {
        if (!hasErrorCode(error, QueueErrorCode.ArtifactRoot)) throw error;
        fatal ??= error as QueueError;
        event(`job ${queueId} failed: [${fatal.code}] ${fatal.message}; stopping this worker`);
        halt.abort();
        throw new UnrecoverableError(encodeFailure(failure(fatal.code, fatal.message, attempt)));
      }
    }
    // A delivery this or another worker already completed (the queue never heard of it: the worker died
    // after the artifacts were in place, or Redis restarted) is answered from its record, not run again.
    const record = data.enqueueId ? completionRecordPath(root, queueId) : null;
    const recorded = record ? await readCompletionRecord(record, queueId, data.enqueueId!, job.artifactDir) : null;
    if (recorded) {
      event(`job ${queueId} already completed by ${recorded.worker}, whose completion did not reach the queue: returning its recorded result`);
      return recorded.result;
    }
    const controller = new AbortController();
    let cancelledByCoordinator = false;
    signal?.addEventListener("abort", () => controller.abort(), { once: true });
    const poll = setInterval(() => {
      control.sismember(cancelKey, queueId).then(
        (member) => {
          if (member) {
            cancelledByCoordinator = true;
            controller.abort();
          }
        },
        () => undefined,
      );
    }, 500);
    let lastProgress = 0;
    const onLog = (line: string) => {
      const now = Date.now();
      if (now - lastProgress < 300) return;
      lastProgress = now;
      bullJob.updateProgress({ line } satisfies QueuedJobProgress).catch(() => undefined);
    };
    running.set(queueId, new Date().toISOString());
    // Published before the job starts, so a status read once the job runs shows it.
    await publish();
    event(`job ${queueId} started (attempt ${attempt})`);
    try {
      const result = await executeJob(job, runner, { attempt, signal: controller.signal, onLog, cancelGraceMs: options.cancelGraceMs });
      event(`job ${queueId} ${result.status}${result.error ? ` [${result.error.code}] ${result.error.message.split("\n")[0]}` : ""}`);
      if (result.status === "succeeded") {
        if (record) {
          try {
            writeCompletionRecord(record, { queueId, enqueueId: data.enqueueId!, worker: workerId, result });
          } catch (error) {
            // Only a redelivery would miss it (and run the job again): the job itself succeeded.
            event(`job ${queueId}: could not write its completion record ${record}: ${(error as Error).message}`);
          }
        }
        return result;
      }
      const reason = encodeFailure(result);
      if (!cancelledByCoordinator && TRANSIENT_ERROR_CODES.has(result.error?.code ?? "")) throw new Error(reason);
      throw new UnrecoverableError(reason);
    } finally {
      clearInterval(poll);
      running.delete(queueId);
      void publish();
    }
  };

  const worker = new Worker<QueuedJobData, JobResult>(queueName, processor, {
    connection,
    prefix,
    concurrency,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 2,
    autorun: false,
  });
  let lastError = "";
  worker.on("error", (error) => {
    if (error.message !== lastError) event(`queue error at ${shownUrl}: ${error.message}`);
    lastError = error.message;
  });
  worker.on("stalled", (jobId) => event(`job ${jobId} stalled (its worker stopped renewing the lock); it will run again`));
  const runLoop = worker.run();
  await worker.waitUntilReady();
  await publish();
  const heartbeat = setInterval(() => void publish(), HEARTBEAT_INTERVAL_MS);
  event(`worker ${process.pid} on ${hostname()} ready: queue ${queueName} at ${shownUrl}, concurrency ${concurrency}${ownRoot ? `, artifact root ${ownRoot}` : ""}`);
  await new Promise<void>((resolve) => {
    if (options.signal?.aborted || halt.signal.aborted) return resolve();
    options.signal?.addEventListener("abort", () => resolve(), { once: true });
    halt.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  event("worker stopping: finishing running jobs");
  await worker.close();
  await runLoop.catch(() => undefined);
  clearInterval(heartbeat);
  await control.hdel(workersKey(prefix, queueName), workerId).catch(() => undefined);
  control.disconnect();
  connection.disconnect();
  event("worker stopped");
  if (fatal) throw fatal;
}

// Records of workers gone for long (killed without a chance to remove theirs) would crowd the status.
async function pruneWorkerRecords(control: import("ioredis").Redis, key: string): Promise<void> {
  try {
    const records = await control.hgetall(key);
    const stale = Object.entries(records)
      .filter(([, text]) => {
        const record = parseRecord<WorkerRecord>(text);
        return !record || Date.now() - Date.parse(record.heartbeatAt) > WORKER_RECORD_EXPIRY_MS;
      })
      .map(([id]) => id);
    if (stale.length > 0) await control.hdel(key, ...stale);
  } catch {
    // best effort
  }
}
