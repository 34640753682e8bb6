/**
 * Helpers the study planner and coordinator share for `training_manifest.json`: paths recorded relative to
 * their root (POSIX separators), and the earlier run's records by job id.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { readTrainingManifest, type TrainingJobRecord, type TrainingManifest } from "../../study/training-manifest.js";

/** `relative` with POSIX separators, as the manifest records paths. */
export function toPosix(relative: string): string {
  return relative.split(path.sep).join("/");
}

/** `file` relative to `root` (POSIX) when it lies inside it, else unchanged. */
export function relativeInside(root: string, file: string): string {
  const relative = path.relative(root, file);
  return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? file : toPosix(relative);
}

/** The earlier run's manifest, or null when there is none. */
export async function loadPreviousManifest(manifestPath: string): Promise<TrainingManifest | null> {
  if (!existsSync(manifestPath)) return null;
  return readTrainingManifest(manifestPath);
}

/** Earlier records by job id: this study's jobs and those kept from runs with other filters. */
export function previousRecords(previous: TrainingManifest | null): Map<string, TrainingJobRecord> {
  return new Map([...(previous?.retainedJobs ?? []), ...(previous?.jobs ?? [])].map((record) => [record.id, record]));
}
