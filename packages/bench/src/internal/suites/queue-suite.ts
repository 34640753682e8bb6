/**
 * `queue` suite: what the distributed (BullMQ) executor adds per job, on loopback, with 1, 4 and 8 worker
 * processes. Jobs are sent in waves of one job per worker, so a job waits for a free worker never, only for
 * the queue: `enqueue → start` is from the coordinator handing the wave to the executor until the job's
 * runner starts on a worker (pickup by BullMQ, the job's child process, the runner module's import);
 * `overhead per job` is the time until the coordinator holds the job's result, minus the runner's own time
 * (adds the result's hashing, the queue's completion record and the coordinator's state polling). The local
 * executor (a child process per job, no queue) runs the same waves as the reference. p50 is the median;
 * p99 is in each row's detail. Needs `redis-server` on PATH (started here on a free port, append-only file on).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createBullmqExecutor, createLocalExecutor, type Executor, type StudyJob } from "@studykit/core";
import { absent, GroupBuilder, onThreads } from "../measure.js";
import { hasRedisServer, startLoopbackRedis, type LoopbackRedis } from "../../loopback-redis.js";
import type { SuiteResult } from "../../results.js";
import type { SuiteContext } from "../suite-context.js";

const WORKER_COUNTS: readonly number[] = [1, 4, 8];
/** `--quick` checks the wiring only. */
const QUICK_WORKER_COUNTS: readonly number[] = [1, 2];
/** The runner's own work per job: short, so the queue's share shows. */
const WORK_MS = 20;

// The runner every job runs: stamps its start and end on the machine's monotonic clock, sleeps, writes a
// tiny bundle. process.hrtime is CLOCK_MONOTONIC, one clock for every process on the machine; the
// timeOrigin + performance.now() of a long-lived process drifts from a fresh one's when the wall clock is
// stepped or the VM is paused (a 16 s offset on every job of one run of 2026-12-06).
const RUNNER_SOURCE = `import { writeFileSync } from "node:fs";
import { join } from "node:path";
const now = () => Number(process.hrtime.bigint()) / 1e6;
export async function runJob({ config, job }) {
  const startMs = now();
  await new Promise((done) => setTimeout(done, config.workMs));
  writeFileSync(join(job.artifactDir, "bundle.bin"), job.id);
  return { metrics: { startMs, endMs: now() }, bundlePath: "bundle.bin" };
}
`;

// A worker process: runWorker from the same @studykit/core the bench uses, stopped by SIGTERM.
const WORKER_SOURCE = `const [coreUrl, redisUrl, queueName] = process.argv.slice(1);
const { runWorker } = await import(coreUrl);
const controller = new AbortController();
process.on("SIGTERM", () => controller.abort());
await runWorker({ redisUrl, queueName, signal: controller.signal, onEvent: (line) => { if (line.includes(" ready")) process.stderr.write("ready\\n"); } });
`;

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
/** Milliseconds on the machine's monotonic clock, the clock the runner stamps with. */
const monotonicNow = () => Number(process.hrtime.bigint()) / 1e6;

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))]!;
}

async function startRedis(dir: string): Promise<LoopbackRedis> {
  if (!hasRedisServer()) absent("redis-server is not on PATH (apt-get install -y redis-server)");
  return startLoopbackRedis({ dir, appendfsync: "everysec" });
}

async function startWorkers(count: number, redisUrl: string, queueName: string): Promise<ChildProcess[]> {
  const coreUrl = import.meta.resolve("@studykit/core");
  const workers = Array.from({ length: count }, () => spawn(process.execPath, ["--input-type=module", "-e", WORKER_SOURCE, coreUrl, redisUrl, queueName], { stdio: ["ignore", "ignore", "pipe"] }));
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          let output = "";
          worker.stderr!.on("data", (chunk: Buffer) => {
            output += chunk.toString();
            if (output.includes("ready")) resolve();
          });
          worker.once("exit", (code) => reject(new Error(`a queue worker exited with ${code} before it was ready: ${output.trim().split("\n").slice(-3).join(" | ")}`)));
        }),
    ),
  );
  return workers;
}

async function stopWorkers(workers: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    workers.map((worker) => {
      if (worker.exitCode !== null || worker.signalCode !== null) return null;
      const exited = new Promise((done) => worker.once("exit", done));
      worker.kill("SIGTERM");
      return exited;
    }),
  );
}

interface WaveSamples {
  readonly startMs: number[];
  readonly overheadMs: number[];
}

/** Runs `waves` waves of `width` jobs on `executor`; every job must succeed. */
async function runWaves(executor: Executor, label: string, width: number, waves: number, root: string, runner: string): Promise<WaveSamples> {
  const samples: WaveSamples = { startMs: [], overheadMs: [] };
  const never = new AbortController().signal;
  for (let wave = 0; wave < waves; wave++) {
    const jobs: StudyJob[] = Array.from({ length: width }, (_, index) => {
      const id = `${label}-wave${wave}-job${index}`;
      return { id, params: {}, config: { workMs: WORK_MS }, seeds: {}, inputs: {}, artifactDir: join(root, "jobs", id), logPath: join(root, "logs", `${id}.log`) };
    });
    const finishedAt = new Map<string, { at: number; startMs: number; endMs: number }>();
    const failures: string[] = [];
    const sent = monotonicNow();
    await executor.run(
      jobs,
      { runner: { module: runner }, cancel: never, stop: never, study: { runId: `bench-${label}-wave${wave}`, artifactRoot: root, reuseCompleted: false } },
      {
        onStart: () => undefined,
        onLog: () => undefined,
        onFinish: (job, result) => {
          const at = monotonicNow();
          const metrics = result.metrics as { startMs?: number; endMs?: number } | null;
          if (result.status !== "succeeded" || typeof metrics?.startMs !== "number" || typeof metrics.endMs !== "number") failures.push(`${job.id}: ${result.error?.code ?? result.status} ${result.error?.message ?? ""}`);
          else finishedAt.set(job.id, { at, startMs: metrics.startMs, endMs: metrics.endMs });
        },
      },
    );
    if (failures.length > 0 || finishedAt.size !== width) throw new Error(`${label}: ${failures.length || width - finishedAt.size} job(s) did not succeed: ${failures.slice(0, 3).join("; ")}`);
    for (const { at, startMs, endMs } of finishedAt.values()) {
      samples.startMs.push(startMs - sent);
      samples.overheadMs.push(at - sent - (endMs - startMs));
    }
  }
  return samples;
}

export async function runQueueSuite(context: SuiteContext): Promise<SuiteResult> {
  const started = performance.now();
  const waves = context.quick ? 2 : 20;
  const workerCounts = context.quick ? QUICK_WORKER_COUNTS : WORKER_COUNTS;
  const runner = join(context.scratchDir, "queue-bench-runner.mjs");
  writeFileSync(runner, RUNNER_SOURCE);
  const latency = new GroupBuilder({ id: "queue-enqueue-to-start", title: `Queue: enqueue → runner start per job, loopback, waves of one ${WORK_MS} ms job per worker (ms)`, kind: "latency", log: context.log });
  const overhead = new GroupBuilder({ id: "queue-overhead-per-job", title: `Queue: overhead per job (result at the coordinator − enqueue − the runner's own time), loopback (ms)`, kind: "latency", log: context.log });
  const detail = (values: readonly number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return `p50 ${percentile(sorted, 0.5).toFixed(1)} ms, p99 ${percentile(sorted, 0.99).toFixed(1)} ms over ${sorted.length} jobs`;
  };
  const record = (spec: { id: string; label: string; role: "ours" | "reference"; parallelism: ReturnType<typeof onThreads> }, measured: Promise<WaveSamples>) => {
    const pending = measured;
    return Promise.all([
      latency.run(spec, async () => {
        const { startMs } = await pending;
        return { samples: startMs, detail: detail(startMs) };
      }),
      overhead.run(spec, async () => {
        const { overheadMs } = await pending;
        return { samples: overheadMs, detail: detail(overheadMs) };
      }),
    ]);
  };

  let redis: LoopbackRedis | null = null;
  let redisProblem: unknown = null;
  try {
    redis = await startRedis(join(context.scratchDir, "queue-redis"));
  } catch (error) {
    redisProblem = error;
  }
  try {
    for (const workers of workerCounts) {
      const spec = { id: `bullmq-${workers}`, label: `BullMQ executor, ${workers} worker process${workers === 1 ? "" : "es"}`, role: "ours" as const, parallelism: onThreads(1, workers, `${workers} worker process${workers === 1 ? "" : "es"}, one job each`) };
      await record(
        spec,
        (async () => {
          if (!redis) throw redisProblem;
          const queueName = `bench-${process.pid}-${workers}`;
          const children = await startWorkers(workers, redis.url, queueName);
          try {
            const executor = createBullmqExecutor({ redisUrl: redis.url, queueName });
            await runWaves(executor, `bullmq${workers}`, workers, 1, join(context.scratchDir, "queue-warmup"), runner);
            return await runWaves(executor, `bullmq${workers}`, workers, waves, join(context.scratchDir, `queue-bullmq-${workers}`), runner);
          } finally {
            await stopWorkers(children);
          }
        })(),
      );
    }
    for (const workers of workerCounts) {
      const spec = { id: `local-${workers}`, label: `local executor, ${workers} slot${workers === 1 ? "" : "s"} (no queue)`, role: "reference" as const, parallelism: onThreads(1, workers, `${workers} job process${workers === 1 ? "" : "es"} at once`) };
      const executor = createLocalExecutor({ concurrency: workers });
      await record(
        spec,
        (async () => {
          await runWaves(executor, `local${workers}`, workers, 1, join(context.scratchDir, "queue-warmup"), runner);
          return runWaves(executor, `local${workers}`, workers, waves, join(context.scratchDir, `queue-local-${workers}`), runner);
        })(),
      );
    }
  } finally {
    await redis?.stop();
  }
  const notes = [
    `Waves of one job per worker (${waves} waves after one warm-up wave), so no job waits for a busy worker; the runner sleeps ${WORK_MS} ms and writes a tiny bundle. Everything runs on this machine over loopback; Redis ${redis?.version ?? "absent"} with its append-only file on (fsync every second).`,
    "The coordinator reads job states every 250 ms (the executor's default `pollIntervalMs`): on average half of that is in the overhead per job. Both executors start a child process per job; the local rows show that share.",
    "The latency groups' median is p50; each row's detail has p99 (with 20–160 jobs per row, p99 is close to the maximum).",
  ];
  return { suite: "queue", wallSeconds: (performance.now() - started) / 1000, groups: [latency.finish(), overhead.finish()], notes };
}
