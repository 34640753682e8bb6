/**
 * Distributed execution on BullMQ + Redis, behind the same {@link Executor} interface as the local pool.
 *
 * The coordinator (`runStudy(..., { executor: createBullmqExecutor({ redisUrl }) })`) enqueues the planned
 * jobs under their deterministic job ids (re-enqueuing a job that is still queued or running is a no-op)
 * and follows them to completion; workers (`runWorker`, or `studykit worker --redis URL`) on any machine
 * that sees the artifact root at the same path run them with the same staged-artifact code as the local
 * executor (artifacts are written to a staging directory and renamed into place when complete). Only the
 * coordinator writes the study manifest, once per job.
 *
 * Failures: a job whose process died (`E_JOB_CRASHED`) or whose worker shut down is retried with
 * exponential backoff up to `attempts` times; a failure the runner reported is deterministic and fails at
 * once. A worker killed mid-job (SIGKILL) stops renewing its lock; BullMQ's stalled-job check in another
 * worker puts the job back in the queue. An unreachable Redis gives `E_QUEUE_UNAVAILABLE` naming the URL
 * (at start, or when an outage outlasts `outageTimeoutMs`), never a hang.
 */
import { hostname } from "node:os";
import type { Job } from "bullmq";
import { fingerprint } from "../identity/canonical-json.js";
import { checkConcurrency, type Executor } from "./local-executor.js";
import type { StudyJob } from "./job-matrix.js";
import type { JobResult } from "./job-runner.js";
import { executeJob } from "../internal/study/job-execution/execute-job.js";
import { cancelSetKey, decodeFailure, DEFAULT_QUEUE_NAME, encodeFailure, TRANSIENT_ERROR_CODES, type QueuedJobData, type QueuedJobProgress } from "../internal/study/queue/queued-job.js";
import { QueueError, QueueErrorCode } from "../errors.js";
import { checkRedisUrl, connectOrFail, createRedisClient, redactRedisUrl } from "../internal/study/queue/redis-connection.js";

export { DEFAULT_QUEUE_NAME } from "../internal/study/queue/queued-job.js";

const DEFAULT_PREFIX = "bull";

/** Options of {@link createBullmqExecutor}. */
export interface BullmqExecutorOptions {
  /** `redis://host:port` of the queue. */
  readonly redisUrl: string;
  /** Queue name (default `studykit-jobs`); workers must use the same. One study per queue at a time. */
  readonly queueName?: string;
  /** Redis key prefix (default `bull`). */
  readonly prefix?: string;
  /** Attempts per job for transient failures (default 3). */
  readonly attempts?: number;
  /** First retry delay; doubles each retry (default 1000 ms). */
  readonly backoffMs?: number;
  /** How long to wait for Redis at start (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  /** How long Redis may stay unreachable mid-study before the study fails with `E_QUEUE_UNAVAILABLE` (default 60 000 ms). */
  readonly outageTimeoutMs?: number;
  /** How often job states are read (default 250 ms). */
  readonly pollIntervalMs?: number;
  /** After a cancel, how long to wait for running jobs to report back (default 10 000 ms). */
  readonly cancelWaitMs?: number;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((done) => (timer = setTimeout(() => done(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const WAITING_STATES = new Set(["waiting", "delayed", "prioritized", "waiting-children"]);

function cancelledResult(attempts: number): JobResult {
  const now = new Date().toISOString();
  return { status: "failed", error: { code: "E_CANCELLED", message: "job cancelled while waiting for a retry" }, startedAt: null, finishedAt: now, durationMs: null, metrics: null, bundlePath: null, bundleSha256: null, output: null, attempts };
}

/** The distributed executor (the coordinator side). The runner must be a module reference workers can import. */
export function createBullmqExecutor(options: BullmqExecutorOptions): Executor {
  const url = checkRedisUrl(options.redisUrl);
  const queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const attempts = checkConcurrency(options.attempts ?? 3, "attempts");
  const backoffMs = options.backoffMs ?? 1000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const outageTimeoutMs = options.outageTimeoutMs ?? 60_000;
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const cancelWaitMs = options.cancelWaitMs ?? 10_000;
  const shownUrl = redactRedisUrl(url);

  return {
    kind: "bullmq",
    async run(jobs, { runner, cancel, stop }, callbacks) {
      if (typeof runner === "function") {
        throw new QueueError(QueueErrorCode.Runner, "the bullmq executor runs jobs on other processes and machines, so the runner must be a module reference ({ module: '/abs/path/runner.js', export: 'runJob' }), not a function");
      }
      if (jobs.length === 0) return;
      const client = await createRedisClient(url, { blocking: false, connectTimeoutMs });
      await connectOrFail(client, url, connectTimeoutMs);
      // BullMQ is loaded only when a queue is used, so importing @studykit/core stays cheap.
      const { Queue } = await import("bullmq");
      const queue = new Queue<QueuedJobData, JobResult>(queueName, { connection: client, prefix });
      queue.on("error", () => undefined);
      const cancelKey = cancelSetKey(prefix, queueName);
      const entries = new Map<string, { job: StudyJob; started: boolean; line: string | null }>();

      const enqueue = async (job: StudyJob): Promise<void> => {
        const key = fingerprint({ id: job.id, config: job.config, params: job.params, inputs: job.inputs, artifactDir: job.artifactDir, logPath: job.logPath, identity: job.identity?.strictKey ?? null, runner: { module: runner.module, export: runner.export ?? null } });
        const existing = await queue.getJob(job.id);
        if (existing) {
          const state = await existing.getState();
          // Still queued with the same definition, or already running: re-enqueuing is a no-op.
          if (state === "active" || (WAITING_STATES.has(state) && existing.data?.key === key)) return;
          // A finished job (an earlier run) or a stale definition: replace it.
          await existing.remove();
        }
        const data: QueuedJobData = { job, runner: { module: runner.module, ...(runner.export ? { export: runner.export } : {}) }, key };
        await queue.add(job.id, data, { jobId: job.id, attempts, backoff: { type: "exponential", delay: backoffMs }, removeOnComplete: false, removeOnFail: false });
      };

      let outageSince: number | null = null;
      let lastError = "";
      // Runs `action`; on a connection failure reports the outage and retries until `outageTimeoutMs`.
      const resilient = async <T>(action: () => Promise<T>): Promise<T> => {
        for (;;) {
          try {
            const value = await action();
            if (outageSince !== null) {
              callbacks.onNotice?.(`job queue at ${shownUrl} is reachable again after ${((Date.now() - outageSince) / 1000).toFixed(1)}s`);
              outageSince = null;
            }
            return value;
          } catch (error) {
            lastError = (error as Error).message;
            if (outageSince === null) {
              outageSince = Date.now();
              callbacks.onNotice?.(`job queue at ${shownUrl} is unreachable (${lastError}); waiting up to ${Math.round(outageTimeoutMs / 1000)}s for it to come back`);
            } else if (Date.now() - outageSince > outageTimeoutMs) {
              throw new QueueError(QueueErrorCode.Unavailable, `the job queue's Redis at ${shownUrl} stayed unreachable for more than ${Math.round(outageTimeoutMs / 1000)}s (${lastError}); jobs not finished stay pending in the manifest: run the study again once Redis is back`, { cause: error });
            }
            await sleep(Math.min(pollIntervalMs * 2, 1000));
          }
        }
      };

      try {
        await resilient(async () => {
          await client.srem(cancelKey, ...jobs.map((job) => job.id));
        });
        for (const job of jobs) {
          if (cancel.aborted || stop.aborted) break;
          await resilient(() => enqueue(job));
          entries.set(job.id, { job, started: false, line: null });
        }
        let cancelDeadline: number | null = null;
        let stopHandled = false;
        while (entries.size > 0) {
          if (cancel.aborted && cancelDeadline === null) {
            cancelDeadline = Date.now() + cancelWaitMs;
            await resilient(async () => {
              await client.sadd(cancelKey, ...entries.keys());
            });
          }
          const dropWaiting = cancel.aborted || (stop.aborted && !stopHandled);
          if (stop.aborted) stopHandled = true;
          await resilient(async () => {
            for (const [id, entry] of [...entries]) {
              const state = await queue.getJobState(id);
              if (state === "unknown") {
                // Redis lost the job (restarted without persistence): enqueue it again.
                if (!cancel.aborted) {
                  callbacks.onNotice?.(`job ${id} vanished from the queue; enqueuing it again`);
                  await enqueue(entry.job);
                } else entries.delete(id);
                continue;
              }
              if (WAITING_STATES.has(state)) {
                if (dropWaiting) {
                  const removed = await queue.remove(id).catch(() => 0);
                  if (removed) {
                    entries.delete(id);
                    if (entry.started) await callbacks.onFinish(entry.job, cancelledResult(0));
                  }
                }
                continue;
              }
              const bullJob = await queue.getJob(id);
              if (!bullJob) continue;
              if (state === "active") {
                if (!entry.started) {
                  entry.started = true;
                  callbacks.onStart(entry.job);
                }
                const line = (bullJob.progress as QueuedJobProgress | undefined)?.line;
                if (typeof line === "string" && line !== entry.line) {
                  entry.line = line;
                  callbacks.onLog(entry.job, line);
                }
              } else if (state === "completed") {
                entries.delete(id);
                if (!entry.started) callbacks.onStart(entry.job);
                await callbacks.onFinish(entry.job, bullJob.returnvalue);
              } else if (state === "failed") {
                entries.delete(id);
                if (!entry.started) callbacks.onStart(entry.job);
                await callbacks.onFinish(entry.job, decodeFailure(bullJob.failedReason, bullJob.attemptsMade));
              }
            }
          });
          if (cancelDeadline !== null && Date.now() > cancelDeadline) {
            callbacks.onNotice?.(`${entries.size} cancelled job(s) did not report back within ${Math.round(cancelWaitMs / 1000)}s; they stay unfinished in the manifest`);
            break;
          }
          if (entries.size > 0) await sleep(pollIntervalMs);
        }
      } finally {
        await withTimeout(queue.close(), 2000).catch(() => undefined);
        client.disconnect();
      }
    },
    async close() {},
  };
}

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

/**
 * Runs a worker until `signal` aborts: takes jobs from the queue and runs each with the runner module named
 * in the job (in a child process, staged artifacts renamed into place when complete). Throws
 * `E_QUEUE_UNAVAILABLE` when Redis cannot be reached at start; later outages are ridden out (BullMQ
 * reconnects).
 */
export async function runWorker(options: RunWorkerOptions): Promise<void> {
  const url = checkRedisUrl(options.redisUrl);
  const queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const concurrency = checkConcurrency(options.concurrency ?? 1);
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const event = options.onEvent ?? (() => undefined);
  const shownUrl = redactRedisUrl(url);
  const { UnrecoverableError, Worker } = await import("bullmq");
  const connection = await createRedisClient(url, { blocking: true, connectTimeoutMs });
  await connectOrFail(connection, url, connectTimeoutMs);
  // A separate fail-fast client polls the cancel set, so polls never pile up during an outage.
  const control = await createRedisClient(url, { blocking: false, connectTimeoutMs });
  await connectOrFail(control, url, connectTimeoutMs);
  const cancelKey = cancelSetKey(prefix, queueName);

  const processor = async (bullJob: Job<QueuedJobData, JobResult>, _token?: string, signal?: AbortSignal): Promise<JobResult> => {
    const { job, runner } = bullJob.data;
    const controller = new AbortController();
    let cancelledByCoordinator = false;
    signal?.addEventListener("abort", () => controller.abort(), { once: true });
    const poll = setInterval(() => {
      control.sismember(cancelKey, job.id).then(
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
    const attempt = bullJob.attemptsMade + 1;
    event(`job ${job.id} started (attempt ${attempt})`);
    try {
      const result = await executeJob(job, runner, { attempt, signal: controller.signal, onLog, cancelGraceMs: options.cancelGraceMs });
      event(`job ${job.id} ${result.status}${result.error ? ` [${result.error.code}] ${result.error.message.split("\n")[0]}` : ""}`);
      if (result.status === "succeeded") return result;
      const reason = encodeFailure(result);
      if (!cancelledByCoordinator && TRANSIENT_ERROR_CODES.has(result.error?.code ?? "")) throw new Error(reason);
      throw new UnrecoverableError(reason);
    } finally {
      clearInterval(poll);
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
  const running = worker.run();
  await worker.waitUntilReady();
  event(`worker ${process.pid} on ${hostname()} ready: queue ${queueName} at ${shownUrl}, concurrency ${concurrency}`);
  await new Promise<void>((resolve) => {
    if (options.signal?.aborted) return resolve();
    options.signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  event("worker stopping: finishing running jobs");
  await worker.close();
  await running.catch(() => undefined);
  control.disconnect();
  connection.disconnect();
  event("worker stopped");
}
