/**
 * Study progress. On a TTY: a live display (cli-progress) with an overall bar and ETA and one line per
 * running job (elapsed time and its latest log line). Elsewhere (CI logs, pipes): plain lines, one per job
 * start and finish. Both go to stderr by default so that `--json` output on stdout stays clean.
 */
import cliProgress from "cli-progress";
import type { JobResult } from "./job-runner.js";

/** Receives study events; {@link createStudyProgress} makes the standard ones. */
export interface StudyProgress {
  /** The study starts: `toRun` jobs will run; the others are reused or skipped. */
  begin(info: { readonly total: number; readonly toRun: number; readonly reused: number; readonly skipped: number }): void;
  jobStarted(jobId: string): void;
  jobLog(jobId: string, line: string): void;
  jobFinished(jobId: string, result: JobResult): void;
  /** A message not tied to one job. */
  notice(message: string): void;
  /** The study stopped (finished, failed fast or cancelled); the display is removed. */
  end(): void;
}

/** `auto` picks `tty` when the stream is a terminal, `plain` otherwise; `silent` prints nothing. */
export type ProgressMode = "auto" | "tty" | "plain" | "silent";

/** Options of {@link createStudyProgress}. */
export interface StudyProgressOptions {
  readonly mode?: ProgressMode;
  /** Default: `process.stderr`. */
  readonly stream?: NodeJS.WritableStream;
}

function seconds(ms: number | null): string {
  return ms === null ? "?" : `${(ms / 1000).toFixed(1)}s`;
}

function describeResult(jobId: string, result: JobResult): string {
  const error = result.error ? ` [${result.error.code}] ${result.error.message.split("\n")[0]}` : "";
  return `${result.status} ${jobId} (${seconds(result.durationMs)})${error}`;
}

/** A progress reporter that prints nothing. */
export function silentProgress(): StudyProgress {
  return { begin() {}, jobStarted() {}, jobLog() {}, jobFinished() {}, notice() {}, end() {} };
}

function plainProgress(stream: NodeJS.WritableStream): StudyProgress {
  let done = 0;
  let toRun = 0;
  const write = (line: string) => stream.write(`${line}\n`);
  return {
    begin(info) {
      toRun = info.toRun;
      write(`study: ${info.total} job(s): ${info.toRun} to run, ${info.reused} reused, ${info.skipped} skipped`);
    },
    jobStarted(jobId) {
      write(`[${done}/${toRun}] started ${jobId}`);
    },
    jobLog() {},
    jobFinished(jobId, result) {
      done += 1;
      write(`[${done}/${toRun}] ${describeResult(jobId, result)}`);
    },
    notice(message) {
      write(`study: ${message}`);
    },
    end() {},
  };
}

const TRUNCATE = 60;

function ttyProgress(stream: NodeJS.WritableStream): StudyProgress {
  const multibar = new cliProgress.MultiBar(
    { stream, clearOnComplete: true, hideCursor: true, fps: 5, etaBuffer: 8, format: "{bar} {value}/{total} jobs | elapsed {duration_formatted} | ETA {eta_formatted}" },
    cliProgress.Presets.shades_classic,
  );
  let overall: cliProgress.SingleBar | null = null;
  let done = 0;
  let ended = false;
  const running = new Map<string, { bar: cliProgress.SingleBar; started: number; line: string }>();
  const ticker = setInterval(() => {
    for (const [, entry] of running) entry.bar.update(0, { elapsed: seconds(Date.now() - entry.started), line: entry.line });
  }, 1000);
  ticker.unref();
  return {
    begin(info) {
      overall = multibar.create(Math.max(info.toRun, 1), 0);
      if (info.reused + info.skipped > 0) multibar.log(`${info.reused} job(s) reused, ${info.skipped} skipped\n`);
    },
    jobStarted(jobId) {
      const bar = multibar.create(1, 0, { jobId, elapsed: "0.0s", line: "" }, { format: "  {jobId} {elapsed} {line}" });
      running.set(jobId, { bar, started: Date.now(), line: "" });
    },
    jobLog(jobId, line) {
      const entry = running.get(jobId);
      if (!entry) return;
      entry.line = line.length > TRUNCATE ? `${line.slice(0, TRUNCATE - 1)}…` : line;
      entry.bar.update(0, { elapsed: seconds(Date.now() - entry.started), line: entry.line });
    },
    jobFinished(jobId, result) {
      const entry = running.get(jobId);
      if (entry) {
        multibar.remove(entry.bar);
        running.delete(jobId);
      }
      done += 1;
      overall?.update(done);
      multibar.log(`${describeResult(jobId, result)}\n`);
    },
    notice(message) {
      multibar.log(`${message}\n`);
    },
    end() {
      if (ended) return;
      ended = true;
      clearInterval(ticker);
      // Log lines are buffered until the next redraw; draw once more so the last ones are not lost.
      multibar.update();
      multibar.stop();
    },
  };
}

/** Creates the standard progress reporter for `mode` (default `auto`). */
export function createStudyProgress(options: StudyProgressOptions = {}): StudyProgress {
  const stream = options.stream ?? process.stderr;
  const mode = options.mode ?? "auto";
  if (mode === "silent") return silentProgress();
  const isTty = (stream as NodeJS.WriteStream).isTTY === true;
  return mode === "tty" || (mode === "auto" && isTty) ? ttyProgress(stream) : plainProgress(stream);
}
