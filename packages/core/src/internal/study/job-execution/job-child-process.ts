/**
 * Runs one job in a child process (`job-worker.js`), so that a crash, `process.exit` or out-of-memory in
 * the job cannot take the coordinator or the other jobs down, and a cancelled job can be killed.
 * The child's stdout and stderr go to the job's log.
 */
import { fork } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { JsonValue } from "../../canonical-json.js";
import type { StudyJob } from "../../job-matrix.js";
import { RunnerError, RunnerErrorCode, type RunnerModule } from "../../runner.js";
import { appendRawToLog } from "./job-log.js";
import type { ChildMessage, RunMessage } from "./worker-protocol.js";

const STDERR_TAIL = 2000;

let workerEntry: string | null = null;

/**
 * The compiled child entry. Beside this module in `dist/`; when this module runs from `src/` (vitest runs
 * the TypeScript directly) the child still needs plain JavaScript, so the package's built `dist/` copy is
 * used (the test target depends on the build).
 */
export function jobWorkerEntry(): string {
  if (workerEntry) return workerEntry;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(here, "job-worker.js");
  if (existsSync(beside)) return (workerEntry = beside);
  const parts = here.split(path.sep);
  const srcIndex = parts.lastIndexOf("src");
  const built = srcIndex >= 0 ? path.join([...parts.slice(0, srcIndex), "dist", ...parts.slice(srcIndex + 1)].join(path.sep), "job-worker.js") : beside;
  if (existsSync(built)) return (workerEntry = built);
  throw new RunnerError(RunnerErrorCode.RunnerLoad, `the job worker entry is missing (looked for ${beside} and ${built}): build @studykit/core first (npx nx run @studykit/core:build)`, { userFacing: false });
}

/** Options of {@link runInChildProcess}. */
export interface ChildRunOptions {
  readonly signal: AbortSignal;
  readonly logPath: string;
  readonly onLog?: ((line: string) => void) | undefined;
  readonly cancelGraceMs: number;
  readonly execArgv?: readonly string[] | undefined;
}

/** Runs the job in a fresh child process; resolves with the runner's output or rejects with a coded error. */
export function runInChildProcess(runner: RunnerModule, context: { config: JsonValue; job: StudyJob; attempt: number }, options: ChildRunOptions): Promise<unknown> {
  const entry = jobWorkerEntry();
  const modulePath = runner.module.startsWith("file:") ? fileURLToPath(runner.module) : path.resolve(runner.module);
  return new Promise((resolve, reject) => {
    const child = fork(entry, [], {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      // Inherit the parent's Node flags (loaders, memory limits), except the debugger's: every child would
      // try to open the same inspector port.
      execArgv: [...(options.execArgv ?? process.execArgv.filter((flag) => !/^--(inspect|debug)/.test(flag)))],
      env: process.env,
    });
    let settled: { ok: true; output: unknown } | { ok: false; error: RunnerError } | null = null;
    let stderrTail = "";
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout?.on("data", (chunk: Buffer) => appendRawToLog(options.logPath, chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      appendRawToLog(options.logPath, text);
      stderrTail = (stderrTail + text).slice(-STDERR_TAIL);
    });
    child.on("message", (message: ChildMessage) => {
      if (message.type === "log") options.onLog?.(message.line);
      else if (message.type === "result") settled ??= { ok: true, output: message.output };
      else if (message.type === "error") {
        const code = message.code && message.code.startsWith("E_") ? message.code : RunnerErrorCode.JobFailed;
        const detail = message.code && code !== message.code ? ` (${message.code})` : "";
        settled ??= { ok: false, error: new RunnerError(code, `${message.message}${detail}`) };
        if (message.stack) appendRawToLog(options.logPath, `${message.stack}\n`);
      }
    });
    const onAbort = (): void => {
      cancelled = true;
      if (child.connected) child.send({ type: "cancel" });
      killTimer = setTimeout(() => child.kill("SIGKILL"), options.cancelGraceMs);
    };
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener("abort", onAbort, { once: true });
    child.on("error", (error) => {
      settled ??= { ok: false, error: new RunnerError(RunnerErrorCode.JobCrashed, `could not start the job process: ${error.message}`) };
    });
    // "close" comes after the process exited and its stdio and IPC channel drained, so every message is in.
    child.on("close", (code, signal) => {
      clearTimeout(killTimer);
      options.signal.removeEventListener("abort", onAbort);
      if (settled?.ok) return resolve(settled.output);
      if (cancelled) return reject(new RunnerError(RunnerErrorCode.Cancelled, "job cancelled while running"));
      if (settled) return reject(settled.error);
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const tail = stderrTail.trim() ? `; last stderr: ${stderrTail.trim().split("\n").slice(-5).join(" | ")}` : "";
      reject(new RunnerError(RunnerErrorCode.JobCrashed, `the job's process ${how} before returning a result${tail}`));
    });
    const message: RunMessage = { type: "run", module: modulePath, exportName: runner.export ?? "runJob", config: context.config, job: context.job, attempt: context.attempt };
    child.send(message);
  });
}
