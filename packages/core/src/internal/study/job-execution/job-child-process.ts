/**
 * Runs one job in a child process (`job-child-entry.js`), so that a crash, `process.exit` or out-of-memory in
 * the job cannot take the coordinator or the other jobs down, and a cancelled job can be killed.
 * The child's stdout and stderr go to the job's log.
 */
import { fork } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { JsonValue } from "../../../identity/canonical-json.js";
import type { StudyJob } from "../../../study/job-matrix.js";
import { RunnerError, RunnerErrorCode } from "../../../errors.js";
import { resolveCompiledEntry } from "../../../fs/compiled-entry.js";
import type { RunnerModule } from "../../../study/job-runner.js";
import { appendRawToLog } from "./job-log.js";
import type { ChildMessage, RunMessage } from "./job-child-protocol.js";

const STDERR_TAIL = 2000;

let childEntry: string | null = null;

/** The compiled child entry (`job-child-entry.js`), beside this module in `dist/` or its `dist/` twin. */
export function jobChildEntry(): string {
  if (childEntry) return childEntry;
  try {
    return (childEntry = resolveCompiledEntry(import.meta.url, "job-child-entry.js", { packageName: "@studykit/core" }));
  } catch (error) {
    // A job whose child cannot start is a runner-load failure in the job's result.
    throw new RunnerError(RunnerErrorCode.RunnerLoad, (error as Error).message, { cause: error, userFacing: false });
  }
}

/** Options of {@link runInChildProcess}. */
export interface ChildRunOptions {
  readonly signal: AbortSignal;
  readonly logPath: string;
  readonly onLog?: ((line: string) => void) | undefined;
  readonly cancelGraceMs: number;
  readonly execArgv?: readonly string[] | undefined;
}

// Flags that take the next argument as their value when not written `--flag=value`.
const FLAGS_WITH_VALUE = new Set(["-e", "--eval", "-p", "--print", "--input-type"]);

/**
 * The parent's Node flags a job's child process inherits (loaders, memory limits), without the debugger's
 * (every child would try to open the same inspector port) and without code given on the command line
 * (`node -e "..."`, `--print`, `--input-type`): a worker started that way would otherwise make every job
 * child run the worker's script instead of the job entry.
 */
export function inheritableExecArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let index = 0; index < execArgv.length; index += 1) {
    const flag = execArgv[index]!;
    if (/^--(inspect|debug)/.test(flag)) continue;
    if (FLAGS_WITH_VALUE.has(flag)) {
      index += 1;
      continue;
    }
    if (/^(--eval|--print|--input-type)=/.test(flag)) continue;
    kept.push(flag);
  }
  return kept;
}

/** Runs the job in a fresh child process; resolves with the runner's output or rejects with a coded error. */
export function runInChildProcess(runner: RunnerModule, context: { config: JsonValue; job: StudyJob; attempt: number }, options: ChildRunOptions): Promise<unknown> {
  const entry = jobChildEntry();
  const modulePath = runner.module.startsWith("file:") ? fileURLToPath(runner.module) : path.resolve(runner.module);
  return new Promise((resolve, reject) => {
    const child = fork(entry, [], {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      execArgv: [...(options.execArgv ?? inheritableExecArgv(process.execArgv))],
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
