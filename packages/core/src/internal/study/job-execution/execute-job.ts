/**
 * Executes one job with staged artifacts: the runner writes into a private staging directory next to the
 * job's artifact directory, and only a successful run renames it into place. Failures, crashes and
 * cancellations remove the staging directory, so neither a reader nor a retry ever sees half an artifact.
 * Shared by the local executor and the BullMQ worker.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { hasErrorCode } from "@studykit/native";
import { isProcessAlive } from "../../../fs/atomic-file.js";
import type { JsonValue } from "../../../identity/canonical-json.js";
import type { StudyJob } from "../../../study/job-matrix.js";
import { RunnerError, RunnerErrorCode } from "../../../errors.js";
import type { JobResult, JobRunner, RunJobOptions, RunnerOutput } from "../../../study/job-runner.js";
import { runInChildProcess } from "./job-child-process.js";
import { openJobLog } from "./job-log.js";
import { hashFile } from "../../fs/file-hash.js";

const STAGING_MARK = ".staging-";

function safeHost(): string {
  return hostname().replace(/[^A-Za-z0-9.-]/g, "_");
}

/** Removes staging directories of this job left by dead processes on this host (a killed worker's). */
export function sweepStaleStaging(artifactDir: string): void {
  const parent = path.dirname(artifactDir);
  const prefix = `${path.basename(artifactDir)}${STAGING_MARK}${safeHost()}-`;
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length).split("-")[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !isProcessAlive(pid)) rmSync(path.join(parent, entry), { recursive: true, force: true });
  }
}

// Moves the finished staging directory into place. An earlier artifact directory (a forced rerun) is moved
// aside first and removed after, so the final name always holds a complete set of artifacts.
function promote(staging: string, artifactDir: string): void {
  for (let attempt = 0; ; attempt += 1) {
    let aside: string | null = null;
    if (existsSync(artifactDir)) {
      aside = `${artifactDir}.replaced-${process.pid}-${randomBytes(4).toString("hex")}`;
      renameSync(artifactDir, aside);
    }
    try {
      renameSync(staging, artifactDir);
      if (aside) rmSync(aside, { recursive: true, force: true });
      return;
    } catch (error) {
      // Another process promoted the same job between our two renames; try again (bounded).
      if (attempt >= 3) throw error;
    }
  }
}

function toRelativeBundle(bundlePath: string, staging: string, artifactDir: string): string {
  const absolute = path.resolve(staging, bundlePath);
  // A runner may build the path from the final directory; map it into the staging directory.
  const mapped = absolute === artifactDir || absolute.startsWith(artifactDir + path.sep) ? path.join(staging, path.relative(artifactDir, absolute)) : absolute;
  const relative = path.relative(staging, mapped);
  if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) {
    throw new RunnerError(RunnerErrorCode.PathEscape, `bundlePath ${JSON.stringify(bundlePath)} is outside the job's artifact directory ${artifactDir}: write the bundle inside job.artifactDir`);
  }
  if (!existsSync(mapped) || !statSync(mapped).isFile()) {
    throw new RunnerError(RunnerErrorCode.MissingArtifact, `the runner returned bundlePath ${JSON.stringify(bundlePath)} but no such file exists in the job's artifact directory`);
  }
  return relative.split(path.sep).join("/");
}

function jsonRecord(value: unknown): Record<string, JsonValue> | null {
  if (value === undefined || value === null) return null;
  return JSON.parse(JSON.stringify(value)) as Record<string, JsonValue>;
}

function errorRecord(error: unknown): { code: string; message: string } {
  if (hasErrorCode(error)) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: RunnerErrorCode.JobFailed, message };
}

async function callInProcess(runner: (context: never) => unknown, context: object, signal: AbortSignal): Promise<unknown> {
  // An in-process runner cannot be killed; on cancel we stop waiting for it and report E_CANCELLED.
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new RunnerError(RunnerErrorCode.Cancelled, "job cancelled while running"));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    Promise.resolve()
      .then(() => runner(context as never))
      .then(resolve, reject)
      .finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Runs `job` with `runner` and returns its result; never throws for a job failure. */
export async function executeJob(job: StudyJob, runner: JobRunner, options: RunJobOptions = {}): Promise<JobResult> {
  const startedAt = new Date();
  const started = performance.now();
  const attempt = options.attempt ?? 1;
  const signal = options.signal ?? new AbortController().signal;
  mkdirSync(path.dirname(job.artifactDir), { recursive: true });
  const log = openJobLog(job.logPath, options.onLog);
  log(`job ${job.id} started (attempt ${attempt}, pid ${process.pid} on ${hostname()})`);
  sweepStaleStaging(job.artifactDir);
  const staging = `${job.artifactDir}${STAGING_MARK}${safeHost()}-${process.pid}-${randomBytes(4).toString("hex")}`;
  mkdirSync(staging, { recursive: true });
  const stagedJob: StudyJob = { ...job, artifactDir: staging };
  const finish = (fields: Pick<JobResult, "status" | "error" | "metrics" | "bundlePath" | "bundleSha256" | "output">): JobResult => ({
    ...fields,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - started),
    attempts: attempt,
  });
  try {
    if (signal.aborted) throw new RunnerError(RunnerErrorCode.Cancelled, "job cancelled before it started");
    const raw =
      typeof runner === "function"
        ? await callInProcess(runner as (context: never) => unknown, { config: job.config, job: stagedJob, log, signal, attempt }, signal)
        : await runInChildProcess(runner, { config: job.config, job: stagedJob, attempt }, { signal, logPath: job.logPath, onLog: options.onLog, cancelGraceMs: options.cancelGraceMs ?? 2000, execArgv: options.execArgv });
    if (raw !== undefined && raw !== null && (typeof raw !== "object" || Array.isArray(raw))) {
      throw new RunnerError(RunnerErrorCode.RunnerOutput, `the runner returned ${JSON.stringify(raw)}: return an object such as { metrics, bundlePath } (or nothing)`);
    }
    const { metrics, bundlePath, ...extra } = (raw ?? {}) as RunnerOutput;
    let relativeBundle: string | null = null;
    let bundleSha256: string | null = null;
    if (bundlePath !== undefined && bundlePath !== null) {
      if (typeof bundlePath !== "string") throw new RunnerError(RunnerErrorCode.RunnerOutput, `the runner returned bundlePath ${JSON.stringify(bundlePath)}: expected a path string`);
      relativeBundle = toRelativeBundle(bundlePath, staging, job.artifactDir);
      bundleSha256 = await hashFile(path.join(staging, relativeBundle));
    }
    promote(staging, job.artifactDir);
    log(`job ${job.id} succeeded${bundleSha256 ? ` (bundle ${relativeBundle}, sha256 ${bundleSha256})` : ""}`);
    return finish({ status: "succeeded", error: null, metrics: jsonRecord(metrics), bundlePath: relativeBundle, bundleSha256, output: Object.keys(extra).length > 0 ? jsonRecord(extra) : null });
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    const record = signal.aborted && !hasErrorCode(error, RunnerErrorCode.Cancelled) ? { code: RunnerErrorCode.Cancelled, message: `job cancelled (${errorRecord(error).message})` } : errorRecord(error);
    log.error(`job ${job.id} failed: [${record.code}] ${record.message}`);
    return finish({ status: "failed", error: record, metrics: null, bundlePath: null, bundleSha256: null, output: null });
  }
}
