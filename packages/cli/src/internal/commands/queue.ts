/**
 * `studykit queue status --redis URL [--queue NAME] [--json]`: what the distributed executor's queue is
 * doing: the studies on it with their jobs by state (and whether their coordinator is still alive), the
 * workers with their current jobs and last heartbeat, and stalled jobs. Read-only.
 */
import type { Command } from "commander";
import type { CliContext } from "../../cli-context.js";

interface QueueStatusFlags {
  redis: string;
  queue?: string;
  json?: boolean;
}

export function registerQueueCommand(program: Command, context: CliContext): void {
  const queue = program.command("queue").description("inspect the distributed executor's job queue");
  queue
    .command("status")
    .description("studies, jobs by state, workers (current job, last heartbeat) and stalled jobs on a BullMQ queue")
    .requiredOption("--redis <url>", "Redis URL of the job queue, e.g. redis://10.0.0.5:6379")
    .option("--queue <name>", "queue name (default studykit-jobs)")
    .option("--json", "print the status as JSON")
    .action(async (flags: QueueStatusFlags) => {
      // Loaded here, not at the top: @studykit/core's BullMQ client is heavy and only this command needs it.
      const { formatQueueStatus, readQueueStatus } = await import("@studykit/core");
      const status = await readQueueStatus({ redisUrl: flags.redis, ...(flags.queue ? { queueName: flags.queue } : {}) });
      context.stdout(flags.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatQueueStatus(status)}\n`);
    });
}
