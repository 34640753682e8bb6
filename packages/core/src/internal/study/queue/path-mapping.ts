/**
 * Workers on other machines: the coordinator puts its own absolute paths in each queued job, and a worker
 * that mounts the shared file system elsewhere maps them (`--artifact-root DIR` maps the coordinator's
 * artifact root; `--map-path FROM=TO` any other prefix, e.g. the input root or the runner module's
 * checkout). Before its first job under an artifact root a worker checks that it can see and write it, so
 * a wrong mount fails one job with an error naming the path instead of every job with a puzzling one.
 */
import { randomBytes } from "node:crypto";
import { statSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { QueueError, QueueErrorCode } from "../../../errors.js";
import type { StudyJob } from "../../../study/job-matrix.js";

/** One prefix mapping: paths under `from` (the coordinator's) are read under `to` (the worker's). */
export interface PathMapping {
  readonly from: string;
  readonly to: string;
}

/** Parses `FROM=TO` (both absolute). */
export function parsePathMapping(text: string): PathMapping {
  const equals = text.indexOf("=");
  const from = equals > 0 ? text.slice(0, equals) : "";
  const to = equals > 0 ? text.slice(equals + 1) : "";
  if (!path.isAbsolute(from) || !path.isAbsolute(to)) {
    throw new QueueError(QueueErrorCode.Config, `invalid path mapping ${JSON.stringify(text)}: use FROM=TO with two absolute paths, e.g. /home/me/study=/mnt/shared/study`);
  }
  return { from: path.resolve(from), to: path.resolve(to) };
}

/** Maps `file` through the longest mapping whose `from` contains it; other paths are unchanged. */
export function mapPath(file: string, mappings: readonly PathMapping[]): string {
  let best: PathMapping | null = null;
  for (const mapping of mappings) {
    const inside = file === mapping.from || file.startsWith(mapping.from.endsWith(path.sep) ? mapping.from : mapping.from + path.sep);
    if (inside && (!best || mapping.from.length > best.from.length)) best = mapping;
  }
  return best ? path.join(best.to, path.relative(best.from, file)) : file;
}

/** The job as this worker sees it: artifact directory, log and inputs mapped. */
export function mapJobPaths(job: StudyJob, mappings: readonly PathMapping[]): StudyJob {
  if (mappings.length === 0) return job;
  return {
    ...job,
    artifactDir: mapPath(job.artifactDir, mappings),
    logPath: mapPath(job.logPath, mappings),
    inputs: Object.fromEntries(Object.entries(job.inputs).map(([role, file]) => [role, mapPath(file, mappings)])),
  };
}

/**
 * Throws `E_QUEUE_ARTIFACT_ROOT` naming `root` (and the coordinator's path it maps) unless this process can
 * see it as a directory and create a file in it.
 */
export function checkArtifactRootWritable(root: string, coordinatorRoot: string): void {
  const shown = root === coordinatorRoot ? root : `${root} (the coordinator's ${coordinatorRoot})`;
  const fix = "mount the shared file system there, or start the worker with --artifact-root pointing at where this machine sees the coordinator's artifact root";
  let isDirectory = false;
  try {
    isDirectory = statSync(root).isDirectory();
  } catch (error) {
    throw new QueueError(QueueErrorCode.ArtifactRoot, `worker on ${hostname()} cannot see the artifact root ${shown}: ${(error as Error).message}; ${fix}`, { cause: error });
  }
  if (!isDirectory) throw new QueueError(QueueErrorCode.ArtifactRoot, `worker on ${hostname()}: the artifact root ${shown} is not a directory; ${fix}`);
  const probe = path.join(root, `.studykit-write-check-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    writeFileSync(probe, "");
    unlinkSync(probe);
  } catch (error) {
    throw new QueueError(QueueErrorCode.ArtifactRoot, `worker on ${hostname()} cannot write to the artifact root ${shown}: ${(error as Error).message}; give this worker's user write access there, or ${fix}`, { cause: error });
  }
}
