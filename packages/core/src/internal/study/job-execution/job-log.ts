/**
 * A job's log file: appended line by line with synchronous writes, so that whatever a job managed to log
 * before it crashed (or was SIGKILLed) is on disk. Each line is also handed to a listener (the progress
 * display shows a running job's latest line).
 */
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { JobLog } from "../../../study/job-runner.js";

/** Creates the log's directory and returns a {@link JobLog} appending to `logPath`. */
export function openJobLog(logPath: string, onLine?: (line: string) => void): JobLog {
  mkdirSync(path.dirname(logPath), { recursive: true });
  const write = (level: string, message: string): void => {
    const text = String(message);
    const stamp = new Date().toISOString();
    const lines = text.split(/\r?\n/);
    safeAppend(logPath, lines.map((line) => `${stamp} ${level} ${line}\n`).join(""));
    const last = lines.filter((line) => line.trim() !== "").at(-1);
    if (last !== undefined) onLine?.(last);
  };
  const log = ((message: string) => write("INFO", message)) as JobLog & { path: string };
  log.info = (message: string) => write("INFO", message);
  log.warn = (message: string) => write("WARN", message);
  log.error = (message: string) => write("ERROR", message);
  Object.defineProperty(log, "path", { value: logPath, enumerable: true });
  return log;
}

/** Appends raw text (a child's stdout/stderr) to the log without reformatting it. */
export function appendRawToLog(logPath: string, text: string): void {
  safeAppend(logPath, text);
}

// Logging is best effort: a log that cannot be written (its directory removed, disk full) must not crash
// the job or, through a child's output handler, the coordinator.
function safeAppend(logPath: string, text: string): void {
  try {
    appendFileSync(logPath, text);
  } catch {
    // dropped
  }
}
