/**
 * `studykit worker --redis URL [--concurrency N] [--artifact-root DIR] [--map-path FROM=TO ...]`: a
 * distributed-executor worker. It takes study jobs of every study on the BullMQ queue and runs them with
 * the runner module each job names. Run it on any machine that sees the artifact root, the inputs and the
 * runner module: at the coordinator's paths, or elsewhere with `--artifact-root` (where this machine sees
 * the coordinator's artifact root) and `--map-path` (any other prefix). A worker that cannot see or write
 * the artifact root fails its first job with `E_QUEUE_ARTIFACT_ROOT` and exits. Ctrl-C / SIGTERM stops it
 * after its running jobs finish; a second Ctrl-C exits at once (its jobs are picked up by other workers).
 */
import path from "node:path";
import type { Command } from "commander";
import type { CliContext } from "../../cli-context.js";
import { positiveIntegerFlag } from "../integer-flags.js";

interface WorkerFlags {
  redis: string;
  concurrency: number;
  queue?: string;
  lockDuration?: number;
  stalledInterval?: number;
  maxStalled?: number;
  artifactRoot?: string;
  mapPath?: string[];
}

export function registerWorkerCommand(program: Command, context: CliContext): void {
  program
    .command("worker")
    .description("run study jobs from a BullMQ queue (the distributed executor's worker)")
    .requiredOption("--redis <url>", "Redis URL of the job queue, e.g. redis://10.0.0.5:6379")
    .option("--concurrency <n>", "jobs run at once", positiveIntegerFlag("--concurrency"), 1)
    .option("--queue <name>", "queue name (default studykit-jobs)")
    .option("--lock-duration <ms>", "job lock duration: a dead worker's job is retried after it", positiveIntegerFlag("--lock-duration"))
    .option("--stalled-interval <ms>", "how often to look for jobs of dead workers", positiveIntegerFlag("--stalled-interval"))
    .option("--max-stalled <n>", "how often a job may lose its worker before it fails (default 2)", positiveIntegerFlag("--max-stalled"))
    .option("--artifact-root <dir>", "where this machine sees the coordinator's artifact root, when not at the coordinator's path")
    .option("--map-path <from=to>", "read paths under FROM (the coordinator's) under TO (this machine's); repeatable", (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .action(async (flags: WorkerFlags) => {
      const controller = new AbortController();
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        signals += 1;
        if (signals > 1) process.exit(signal === "SIGINT" ? 130 : 143);
        context.stderr(`${signal}: stopping after the running jobs finish (Ctrl-C again to exit at once)\n`);
        controller.abort();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        // Loaded here, not at the top: @studykit/core's BullMQ client is heavy and only this command needs it.
        const { runWorker } = await import("@studykit/core");
        await runWorker({
          redisUrl: flags.redis,
          concurrency: flags.concurrency,
          ...(flags.queue ? { queueName: flags.queue } : {}),
          ...(flags.lockDuration ? { lockDurationMs: flags.lockDuration } : {}),
          ...(flags.stalledInterval ? { stalledIntervalMs: flags.stalledInterval } : {}),
          ...(flags.maxStalled ? { maxStalledCount: flags.maxStalled } : {}),
          ...(flags.artifactRoot ? { artifactRoot: path.resolve(context.cwd, flags.artifactRoot) } : {}),
          pathMappings: flags.mapPath ?? [],
          signal: controller.signal,
          onEvent: (message) => context.stderr(`worker: ${message}\n`),
        });
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
