/**
 * Distributed execution on BullMQ + Redis, behind the same {@link Executor} interface as the local pool:
 * the coordinator side. Workers (`runWorker`, `studykit worker --redis URL`) are in `queue-worker.ts`.
 *
 * The coordinator (`runStudy(..., { executor: createBullmqExecutor({ redisUrl }) })`) enqueues the planned
 * jobs under ids namespaced by the study's run id (`<study run id>/<job id>`), so many studies share one
 * queue and every worker serves all of them; it follows its jobs to completion and hands each result to the
 * study runner, which alone writes the manifest. Each arriving bundle's SHA-256 is checked against the
 * file the coordinator sees, so a worker that wrote somewhere else fails the job (`E_QUEUE_BUNDLE_MISMATCH`)
 * instead of recording a bundle nobody can load.
 *
 * Restarts: a coordinator that died (or a study stopped by a Redis outage) resumes from the manifest and
 * the queue. A job the queue already completed for the same job key (its final identity) is taken as it
 * is, never run again; a job still running on a worker is followed, not enqueued again; a job waiting with
 * the same key is left in place. Only a failed job, or one whose definition changed, is replaced.
 *
 * Failures: a job whose process died (`E_JOB_CRASHED`) or whose worker shut down is retried with
 * exponential backoff up to `attempts` times; a failure the runner reported is deterministic and fails at
 * once. A worker killed mid-job (SIGKILL) stops renewing its lock; BullMQ's stalled-job check in another
 * worker puts the job back in the queue. A job the queue hands out again after it ran to completion (its
 * worker died before the queue heard of it, or Redis restarted in between) is answered from the worker's
 * completion record beside the artifacts, not run again. An unreachable Redis gives `E_QUEUE_UNAVAILABLE` naming the URL
 * (at start, or when an outage outlasts `outageTimeoutMs`), never a hang; with Redis persistence on
 * (append-only file) a Redis restart loses nothing, and the coordinator says so at start when it is off.
 */
import { randomUUID } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import type { Queue } from "bullmq";
import { fingerprint } from "../identity/canonical-json.js";
import { QueueError, QueueErrorCode, RunnerErrorCode } from "../errors.js";
import { hashFile } from "../internal/fs/file-hash.js";
import { decodeFailure, DEFAULT_QUEUE_NAME, DEFAULT_QUEUE_PREFIX, type QueuedJobData, type QueuedJobProgress } from "../internal/study/queue/queued-job.js";
import { cancelSetKey, HEARTBEAT_INTERVAL_MS, queueJobId, studiesKey, type StudyRecord, type StudyRecordState } from "../internal/study/queue/queue-registry.js";
import { checkRedisUrl, connectOrFail, createRedisClient, redactRedisUrl } from "../internal/study/queue/redis-connection.js";
import type { StudyJob } from "./job-matrix.js";
import type { JobResult } from "./job-runner.js";
import { checkConcurrency, type Executor, type ExecutorStudy } from "./local-executor.js";

export { DEFAULT_QUEUE_NAME } from "../internal/study/queue/queued-job.js";

/** Options of {@link createBullmqExecutor}. */
export interface BullmqExecutorOptions {
  /** `redis://host:port` of the queue. */
  readonly redisUrl: string;
  /** Queue name (default `studykit-jobs`); workers must use the same. Many studies may share it. */
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

function failedResult(code: string, message: string, attempts: number, base?: JobResult): JobResult {
  const now = new Date().toISOString();
  return { startedAt: null, durationMs: null, ...(base ?? {}), status: "failed", error: { code, message }, finishedAt: base?.finishedAt ?? now, metrics: null, bundlePath: null, bundleSha256: null, output: null, attempts };
}

// Jobs given without a study (an executor used on its own): one namespace per set of artifact directories.
function implicitStudy(jobs: readonly StudyJob[]): ExecutorStudy {
  const dirs = jobs.map((job) => job.artifactDir).sort();
  return { runId: `jobs-${fingerprint(dirs).slice(0, 16)}`, artifactRoot: path.dirname(dirs[0] ?? "/"), reuseCompleted: true };
}

/**
 * The bundle a worker reported, as the coordinator sees it: `E_QUEUE_BUNDLE_MISMATCH` naming the file when
 * it is missing here or its SHA-256 differs (the worker wrote to another file system, or the file changed).
 */
async function verifyArrivedBundle(job: StudyJob, result: JobResult): Promise<JobResult> {
  if (result.status !== "succeeded" || !result.bundlePath || !result.bundleSha256) return result;
  const file = path.join(job.artifactDir, result.bundlePath);
  const fix = "the worker and the coordinator must share the artifact root (check the worker's --artifact-root / --map-path); the job runs again on the next study run";
  if (!existsSync(file) || !statSync(file).isFile()) {
    return failedResult(QueueErrorCode.BundleMismatch, `the worker reported bundle ${file} (sha256 ${result.bundleSha256}) but the coordinator cannot find it: ${fix}`, result.attempts, result);
  }
  const actual = await hashFile(file);
  if (actual !== result.bundleSha256) {
    return failedResult(QueueErrorCode.BundleMismatch, `bundle ${file} has SHA-256 ${actual} where the worker reported ${result.bundleSha256}: ${fix}`, result.attempts, result);
  }
  return result;
}

/** The distributed executor (the coordinator side). The runner must be a module reference workers can import. */
export function createBullmqExecutor(options: BullmqExecutorOptions): Executor {
  const url = checkRedisUrl(options.redisUrl);
  const queueName = options.queueName ?? DEFAULT_QUEUE_NAME;
  const prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
  const attempts = checkConcurrency(options.attempts ?? 3, "attempts");
  const backoffMs = options.backoffMs ?? 1000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const outageTimeoutMs = options.outageTimeoutMs ?? 60_000;
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const cancelWaitMs = options.cancelWaitMs ?? 10_000;
  const shownUrl = redactRedisUrl(url);

  return {
    kind: "bullmq",
    async run(jobs, { runner, cancel, stop, study: givenStudy }, callbacks) {
      if (typeof runner === "function") {
        throw new QueueError(QueueErrorCode.Runner, "the bullmq executor runs jobs on other processes and machines, so the runner must be a module reference ({ module: '/abs/path/runner.js', export: 'runJob' }), not a function");
      }
      if (jobs.length === 0) return;
      const study = givenStudy ?? implicitStudy(jobs);
      // Workers check that they can see the artifact root before their first job: it must exist.
      await mkdir(study.artifactRoot, { recursive: true });
      const client = await createRedisClient(url, { blocking: false, connectTimeoutMs });
      await connectOrFail(client, url, connectTimeoutMs);
      // BullMQ is loaded only when a queue is used, so importing @studykit/core stays cheap.
      const { Queue } = await import("bullmq");
      const queue: Queue<QueuedJobData, JobResult> = new Queue<QueuedJobData, JobResult>(queueName, { connection: client, prefix });
      queue.on("error", () => undefined);
      const cancelKey = cancelSetKey(prefix, queueName);
      const runnerRecord = { module: runner.module, ...(runner.export ? { export: runner.export } : {}) };
      interface Entry {
        readonly job: StudyJob;
        readonly queueId: string;
        readonly key: string;
        /** Random id of this coordinator's enqueueing of the job (see `QueuedJobData.enqueueId`). */
        readonly enqueueId: string;
        started: boolean;
        line: string | null;
      }
      const entries = new Map<string, Entry>();

      // What the job is: its definition and its final identity (set by the planner). A completed queue job
      // with the same key is this job's result.
      const keyOf = (job: StudyJob): string =>
        fingerprint({ id: job.id, config: job.config, params: job.params, inputs: job.inputs, artifactDir: job.artifactDir, logPath: job.logPath, identity: job.identity?.strictKey ?? null, runner: { module: runner.module, export: runner.export ?? null } });

      const add = async (entry: Entry): Promise<void> => {
        const data: QueuedJobData = { job: entry.job, runner: runnerRecord, key: entry.key, studyRunId: study.runId, artifactRoot: study.artifactRoot, enqueueId: entry.enqueueId };
        await queue.add(entry.job.id, data, { jobId: entry.queueId, attempts, backoff: { type: "exponential", delay: backoffMs }, removeOnComplete: false, removeOnFail: false });
      };

      // Puts the job on the queue unless the queue already holds it: running (followed), waiting with the
      // same key (left in place) or completed with the same key (taken as its result; the coordinator that
      // enqueued it died before recording it). Returns how the job was found.
      const enqueue = async (entry: Entry): Promise<"added" | "following" | "completed"> => {
        const existing = await queue.getJob(entry.queueId);
        if (existing) {
          const state = await existing.getState();
          const sameKey = existing.data?.key === entry.key;
          if (state === "active") return "following";
          if (sameKey && WAITING_STATES.has(state)) return "following";
          if (sameKey && state === "completed" && study.reuseCompleted) return "completed";
          // A failure from an earlier run, or a stale definition: replace it.
          await existing.remove();
        }
        await add(entry);
        return "added";
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
              throw new QueueError(QueueErrorCode.Unavailable, `the job queue's Redis at ${shownUrl} stayed unreachable for more than ${Math.round(outageTimeoutMs / 1000)}s (${lastError}); jobs not finished stay pending in the manifest: run the study again once Redis is back (finished jobs are not run again)`, { cause: error });
            }
            await sleep(Math.min(pollIntervalMs * 2, 1000));
          }
        }
      };

      // The study's record for `studykit queue status`, refreshed as a heartbeat; best effort.
      const startedAt = new Date().toISOString();
      const publish = (state: StudyRecordState): Promise<unknown> => {
        const record: StudyRecord = { runId: study.runId, artifactRoot: study.artifactRoot, coordinator: { host: hostname(), pid: process.pid }, startedAt, heartbeatAt: new Date().toISOString(), jobCount: jobs.length, state };
        return client.hset(studiesKey(prefix, queueName), study.runId, JSON.stringify(record)).catch(() => undefined);
      };
      let finalState: StudyRecordState = "failed";
      const heartbeat = setInterval(() => void publish("running"), HEARTBEAT_INTERVAL_MS);

      const finish = async (entry: Entry, result: JobResult): Promise<void> => {
        entries.delete(entry.job.id);
        if (!entry.started) callbacks.onStart(entry.job);
        await callbacks.onFinish(entry.job, result);
      };

      try {
        await publish("running");
        await warnWithoutPersistence(client, shownUrl, callbacks.onNotice);
        await resilient(async () => {
          await client.srem(cancelKey, ...jobs.map((job) => queueJobId(study.runId, job.id)));
        });
        for (const job of jobs) {
          if (cancel.aborted || stop.aborted) break;
          const entry: Entry = { job, queueId: queueJobId(study.runId, job.id), key: keyOf(job), enqueueId: randomUUID(), started: false, line: null };
          await resilient(() => enqueue(entry));
          entries.set(job.id, entry);
        }
        let cancelDeadline: number | null = null;
        let stopHandled = false;
        while (entries.size > 0) {
          if (cancel.aborted && cancelDeadline === null) {
            cancelDeadline = Date.now() + cancelWaitMs;
            await resilient(async () => {
              await client.sadd(cancelKey, ...[...entries.values()].map((entry) => entry.queueId));
            });
          }
          const dropWaiting = cancel.aborted || (stop.aborted && !stopHandled);
          if (stop.aborted) stopHandled = true;
          await resilient(async () => {
            const current = [...entries.values()];
            // One round trip for all states: commands sent together are pipelined on the connection.
            const states = await Promise.all(current.map((entry) => queue.getJobState(entry.queueId)));
            for (const [index, entry] of current.entries()) {
              const state = states[index]!;
              if (state === "unknown") {
                // Redis lost the job (restarted without persistence): enqueue it again.
                if (!cancel.aborted) {
                  callbacks.onNotice?.(`job ${entry.job.id} vanished from the queue; enqueuing it again`);
                  await add(entry);
                } else entries.delete(entry.job.id);
                continue;
              }
              if (WAITING_STATES.has(state)) {
                if (dropWaiting) {
                  const removed = await queue.remove(entry.queueId).catch(() => 0);
                  if (removed) {
                    entries.delete(entry.job.id);
                    if (entry.started) await callbacks.onFinish(entry.job, failedResult(RunnerErrorCode.Cancelled, "job cancelled while waiting for a retry", 0));
                  }
                }
                continue;
              }
              const bullJob = await queue.getJob(entry.queueId);
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
                if (bullJob.data?.key !== entry.key) {
                  // A run of an older definition (it was running when this coordinator started): run this one.
                  await bullJob.remove();
                  await add(entry);
                  continue;
                }
                await finish(entry, await verifyArrivedBundle(entry.job, bullJob.returnvalue));
              } else if (state === "failed") {
                await finish(entry, decodeFailure(bullJob.failedReason, bullJob.attemptsMade));
              }
            }
          });
          if (cancelDeadline !== null && Date.now() > cancelDeadline) {
            callbacks.onNotice?.(`${entries.size} cancelled job(s) did not report back within ${Math.round(cancelWaitMs / 1000)}s; they stay unfinished in the manifest`);
            break;
          }
          if (entries.size > 0) await sleep(pollIntervalMs);
        }
        finalState = cancel.aborted ? "cancelled" : entries.size > 0 ? "failed" : "completed";
      } finally {
        clearInterval(heartbeat);
        await withTimeout(publish(finalState), 1000);
        await withTimeout(queue.close(), 2000).catch(() => undefined);
        client.disconnect();
      }
    },
    async close() {},
  };
}

/** Tells the user when Redis keeps no append-only file: a Redis restart would then lose the queue. */
async function warnWithoutPersistence(client: import("ioredis").Redis, shownUrl: string, notice: ((message: string) => void) | undefined): Promise<void> {
  try {
    const reply = (await client.config("GET", "appendonly")) as unknown as string[];
    if (reply[1] === "no") notice?.(`Redis at ${shownUrl} runs without an append-only file (appendonly no): if it restarts, queued jobs are lost and enqueued again, and finished ones not yet recorded run again; start it with --appendonly yes`);
  } catch {
    // CONFIG is often disabled on managed Redis; nothing to say then.
  }
}
