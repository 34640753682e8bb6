/**
 * A worker's record of a queue job it completed, kept on the shared file system beside the artifacts:
 * `<artifact root>/.studykit-queue/<hash of the queue id>.json`. The queue can deliver a job again after it
 * ran to completion: the worker was killed after the artifacts were in place but before the queue heard
 * of it, or Redis restarted and the completion never reached it. A worker that is handed a job whose record
 * names the same delivery (queue id and the coordinator's enqueue id) and whose bundle is still there with
 * the recorded SHA-256 returns the recorded result instead of running the job again.
 *
 * A coordinator that enqueues the job anew (a forced rerun, a replaced failure, a restarted study that found
 * no result) gives it a new enqueue id, so a record never stands in for a run that was asked for.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "@studykit/native";
import { hashFile } from "../../fs/file-hash.js";
import type { JobResult } from "../../../study/job-runner.js";

/** Folder inside the artifact root that holds the records. */
export const COMPLETION_RECORD_DIR = ".studykit-queue";

interface CompletionRecord {
  readonly queueId: string;
  readonly enqueueId: string;
  readonly worker: string;
  readonly result: JobResult;
}

/** Where the record of queue job `queueId` lives under `artifactRoot` (as this machine sees it). */
export function completionRecordPath(artifactRoot: string, queueId: string): string {
  const name = createHash("sha256").update(queueId).digest("hex").slice(0, 40);
  return path.join(artifactRoot, COMPLETION_RECORD_DIR, `${name}.json`);
}

/** Records that this delivery of the job succeeded with `result` (atomically; the folder is created). */
export function writeCompletionRecord(file: string, record: CompletionRecord): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomicSync(file, `${JSON.stringify(record)}\n`);
}

/**
 * The recorded result of this delivery (same queue id and enqueue id), if its bundle in `artifactDir` still
 * has the recorded SHA-256; otherwise null (no record, another delivery, or artifacts changed since).
 */
export async function readCompletionRecord(file: string, queueId: string, enqueueId: string, artifactDir: string): Promise<{ result: JobResult; worker: string } | null> {
  if (!existsSync(file)) return null;
  let record: CompletionRecord;
  try {
    record = JSON.parse(readFileSync(file, "utf8")) as CompletionRecord;
  } catch {
    return null;
  }
  if (record.queueId !== queueId || record.enqueueId !== enqueueId || record.result?.status !== "succeeded") return null;
  const { bundlePath, bundleSha256 } = record.result;
  if (bundlePath) {
    const bundle = path.join(artifactDir, bundlePath);
    if (!existsSync(bundle) || (await hashFile(bundle)) !== bundleSha256) return null;
  } else if (!existsSync(artifactDir)) {
    return null;
  }
  return { result: record.result, worker: record.worker };
}
