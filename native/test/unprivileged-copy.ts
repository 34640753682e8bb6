/**
 * Permission tests need a process that the file system can refuse. Root reads anything, so as root such a
 * test runs its check in a child process under the unprivileged uid 65534 ("nobody"). That uid may not
 * reach the checkout at all (one under a private home directory, as CI's may be), so the child imports a
 * world-readable copy of the built package (package.json, dist, build) in a fresh temporary folder instead:
 * the test then runs on every machine rather than skipping where the checkout is private.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The uid and gid the child runs as when this process is root. */
export const UNPRIVILEGED_ID = 65534;

export const runningAsRoot = process.getuid?.() === 0;

/**
 * Runs `script` (an ES module body in which `entry` is the path of the package's dist/index.js) in a child
 * node process: under uid 65534 with a world-readable copy of the package when this process is root, as
 * this user with the package itself otherwise.
 */
export function runPackageScript(script: (entry: string) => string, env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  if (!runningAsRoot) {
    return spawnSync(process.execPath, ["--input-type=module", "-e", script(join(PACKAGE_ROOT, "dist/index.js"))], { encoding: "utf8", env });
  }
  const copy = mkdtempSync(join(tmpdir(), "studykit-native-copy-"));
  try {
    chmodSync(copy, 0o755);
    for (const part of ["package.json", "dist", "build"]) cpSync(join(PACKAGE_ROOT, part), join(copy, part), { recursive: true });
    return spawnSync(process.execPath, ["--input-type=module", "-e", script(join(copy, "dist/index.js"))], { encoding: "utf8", env, uid: UNPRIVILEGED_ID, gid: UNPRIVILEGED_ID, cwd: copy });
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}
