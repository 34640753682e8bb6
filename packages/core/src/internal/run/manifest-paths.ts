/**
 * Paths recorded in manifests: relative POSIX paths that must stay inside their run root.
 *
 * Lexical rules (checked when a manifest is written and when it is read): not empty, no NUL, no
 * backslash, not absolute (`/x`, `C:/x`, `//server`), no `.`/`..`/empty segments. On-disk rule (checked
 * whenever a path is used): after resolving symlinks, the path's deepest existing ancestor lies inside
 * the root's real path, so a symlink planted in the tree cannot redirect a read or a write outside it.
 * Violations are `E_PATH_ESCAPE`.
 */
import { lstat, realpath } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { CoreError, CoreErrorCode } from "../../errors.js";

/** Why `path` is not a safe relative POSIX path, or null when it is. */
export function relativePathProblem(path: string): string | null {
  if (typeof path !== "string" || path.length === 0) return "is empty";
  if (path.includes("\0")) return "contains a NUL character";
  if (path.includes("\\")) return "contains a backslash (use forward slashes)";
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path) || isAbsolute(path)) return "is absolute (paths must be relative to the run root)";
  for (const segment of path.split("/")) {
    if (segment === "..") return 'contains ".." (paths must stay inside the run root)';
    if (segment === "." || segment === "") return 'contains an empty or "." segment (write it normalised, e.g. "stage1/model.json")';
  }
  return null;
}

/** Throws `E_PATH_ESCAPE` unless `path` is a safe relative POSIX path; `what` names it in the message. */
export function assertRelativePath(path: string, what: string): void {
  const problem = relativePathProblem(path);
  if (problem) throw new CoreError(CoreErrorCode.PathEscape, `${what} ${JSON.stringify(path)} ${problem}`);
}

function isInside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * Resolves the relative POSIX `path` against `root` to an absolute path, refusing (`E_PATH_ESCAPE`) one
 * that is not lexically safe or that symlinks lead outside the root. The path itself need not exist.
 */
export async function resolveInsideRoot(root: string, path: string, what: string): Promise<string> {
  assertRelativePath(path, what);
  const absoluteRoot = resolve(root);
  const target = join(absoluteRoot, ...path.split("/"));
  const realRoot = await realpath(absoluteRoot);
  // Find the deepest existing ancestor (or the path itself) and resolve its symlinks.
  let probe = target;
  for (;;) {
    try {
      await lstat(probe);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" && (error as NodeJS.ErrnoException).code !== "ENOTDIR") throw error;
      const parent = dirname(probe);
      if (parent === probe) break;
      probe = parent;
    }
  }
  let real: string;
  try {
    real = await realpath(probe);
  } catch (error) {
    // A dangling symlink: where it points cannot be checked, so it is refused.
    throw new CoreError(CoreErrorCode.PathEscape, `${what} ${JSON.stringify(path)} goes through ${probe}, a symlink that cannot be resolved; remove it`, { cause: error });
  }
  if (!isInside(realRoot, real)) {
    throw new CoreError(CoreErrorCode.PathEscape, `${what} ${JSON.stringify(path)} resolves through a symlink to ${real}, outside the run root ${realRoot}; remove the symlink`);
  }
  return target;
}
