/**
 * Entry of a job's child process: loads the runner module, runs one job, reports the result over IPC and
 * exits. Spawned by `job-child-process.ts`; not imported by anything else.
 */
import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import { openJobLog } from "./job-log.js";
import type { ChildMessage, RunMessage } from "./job-child-protocol.js";

const controller = new AbortController();

// Ctrl-C reaches the whole foreground process group; the coordinator decides how jobs stop (it sends
// "cancel" and, after a grace period, SIGKILL), so the child ignores the terminal's SIGINT.
process.on("SIGINT", () => undefined);
// The coordinator died: nobody will read the result, stop now.
process.on("disconnect", () => process.exit(1));

// An error thrown outside the runner's promise chain (a timer, an event handler) ends the job as crashed,
// with the error's message rather than only an exit code.
const crash = (kind: string) => (error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  void send({ type: "error", code: "E_JOB_CRASHED", message: `${kind} in the job: ${message}`, stack: error instanceof Error ? (error.stack ?? null) : null }).finally(() => process.exit(1));
};
process.on("uncaughtException", crash("uncaught exception"));
process.on("unhandledRejection", crash("unhandled rejection"));

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function run(message: RunMessage): Promise<void> {
  const log = openJobLog(message.job.logPath, (line) => void send({ type: "log", line }));
  let runner: unknown;
  try {
    const specifier = isAbsolute(message.module) ? pathToFileURL(message.module).href : message.module;
    const loaded = (await import(specifier)) as Record<string, unknown>;
    runner = loaded[message.exportName] ?? (message.exportName === "default" ? undefined : (loaded["default"] as Record<string, unknown> | undefined)?.[message.exportName]);
  } catch (error) {
    await send({ type: "error", code: "E_RUNNER_LOAD", message: `cannot load runner module ${message.module}: ${(error as Error).message}`, stack: null });
    process.exit(0);
  }
  if (typeof runner !== "function") {
    await send({ type: "error", code: "E_RUNNER_LOAD", message: `runner module ${message.module} has no function export ${JSON.stringify(message.exportName)}: export it (e.g. \`export async function ${message.exportName}({ config, job, log, signal }) {...}\`)`, stack: null });
    process.exit(0);
  }
  try {
    const output = await (runner as (context: unknown) => unknown)({ config: message.config, job: message.job, log, signal: controller.signal, attempt: message.attempt });
    await send({ type: "result", output: output ?? null });
  } catch (error) {
    const code = typeof (error as { code?: unknown })?.code === "string" ? ((error as { code: string }).code) : null;
    await send({ type: "error", code, message: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? (error.stack ?? null) : null });
  }
  process.exit(0);
}

process.on("message", (message: RunMessage | { type: "cancel" }) => {
  if (message.type === "cancel") controller.abort();
  else if (message.type === "run") void run(message);
});
