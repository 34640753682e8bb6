/**
 * Whole-file SHA-256 for core (stage outputs, job bundles, study inputs), streamed through
 * `@studykit/native`: files are read in chunks and hashed off the main thread, so hashing a multi-GB
 * bundle neither holds it in memory nor blocks the event loop. Same digests as hashing the bytes at once.
 */
import { sha256File, sha256Files } from "@studykit/native";

/** A file's SHA-256 (lower-case hex) and the number of bytes it covers. */
export interface FileHash {
  readonly sha256: string;
  readonly bytes: number;
}

/** SHA-256 (lower-case hex) of the file at `path`; rejects with the native `IoError` naming the path. */
export async function hashFile(path: string): Promise<string> {
  return (await sha256File(path)).sha256;
}

/**
 * SHA-256 and size of each file, hashed in parallel across cores, in the order given. Rejects with the
 * first failing file's `IoError` (each names its path) once all are done.
 */
export async function hashFiles(paths: readonly string[]): Promise<FileHash[]> {
  if (paths.length === 0) return [];
  const results = await sha256Files(paths);
  return results.map((result) => {
    if (!result.ok) throw result.error;
    return { sha256: result.sha256, bytes: result.bytes };
  });
}
