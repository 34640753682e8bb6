/**
 * `studykit worker --redis URL [--concurrency N]`: a distributed-executor worker. It takes study jobs from
 * the BullMQ queue and runs them with the runner module each job names; run it on any machine that sees
 * the artifact root (and the runner module) at the same paths as the coordinator. Ctrl-C / SIGTERM stops
 * it after its running jobs finish; a second Ctrl-C exits at once (its jobs are picked up by other workers).
 */
import type { Command } from "commander";
import { StudykitError } from "@studykit/native";
import type { CliContext } from "../../cli-context.js";

function positiveInteger(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1) throw new StudykitError("E_USAGE", `${flag} must be an integer ≥ 1, got ${JSON.stringify(value)}`);
    return parsed;
  };
}

interface WorkerFlags {
  redis: string;
  concurrency: number;
  queue?: string;
  lockDuration?: number;
  stalledInterval?: number;
}

export function registerWorkerCommand(program: Command, context: CliContext): void {
  program
    .command("worker")
    .description("run study jobs from a BullMQ queue (the distributed executor's worker)")
    .requiredOption("--redis <url>", "Redis URL of the job queue, e.g. redis://10.0.0.5:6379")
    .option("--concurrency <n>", "jobs run at once", positiveInteger("--concurrency"), 1)
    .option("--queue <name>", "queue name (default studykit-jobs)")
    .option("--lock-duration <ms>", "job lock duration: a dead worker's job is retried after it", positiveInteger("--lock-duration"))
    .option("--stalled-interval <ms>", "how often to look for jobs of dead workers", positiveInteger("--stalled-interval"))
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
          signal: controller.signal,
          onEvent: (message) => context.stderr(`worker: ${message}\n`),
        });
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
