/**
 * The code version recorded in every run identity: the versions of the studykit packages that ran, and the
 * git commit (plus whether the checkout had uncommitted changes) of the checkout studykit itself runs from.
 *
 * The checkout is found from this module's own location, never from the run's output directory: the same
 * code writing the same study into a git checkout or into /tmp must give the same identity (and run id).
 * An installed copy (under `node_modules/`) records `git: null`; its package versions identify it. The
 * repository an output directory happens to lie in is a separate, informational record
 * ({@link detectOutputRepository}) that is never part of an identity or its strict key.
 *
 * git is run as a child process, read-only; no git, or code outside any checkout, simply records
 * `git: null`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** What code produced a run. */
export interface CodeVersion {
  /** Package name → version, e.g. `{ "@studykit/core": "0.1.0" }`. */
  readonly packages: Readonly<Record<string, string>>;
  /** The git checkout studykit runs from, or null when there is none (installed copy, or git not installed). */
  readonly git: { readonly commit: string; readonly dirty: boolean } | null;
}

/** Options of {@link detectCodeVersion}. */
export interface DetectCodeVersionOptions {
  /**
   * Where the code that runs lives, to find its git checkout (default: studykit's own installation, i.e.
   * this module's directory). Pass your training script's directory to record its checkout instead; never
   * pass an output directory.
   */
  readonly codeRoot?: string;
  /**
   * @deprecated Same as `codeRoot`. Callers used to pass the run's output directory here, which made the
   * identity depend on where the output was written; leave it out.
   */
  readonly cwd?: string;
  /** More package versions to record (your own training package, for example); merged over the defaults. */
  readonly packages?: Readonly<Record<string, string>>;
}

/** The git state of the repository an output directory lies in: informational, never part of an identity. */
export interface OutputRepository {
  readonly commit: string;
  readonly dirty: boolean;
}

let studykitPackages: Record<string, string> | undefined;

function readVersion(packageJsonPath: string): string | undefined {
  try {
    const parsed = JSON.parse(readFileSync(packageJsonPath, "utf8")) as { version?: unknown };
    return typeof parsed.version === "string" ? parsed.version : undefined;
  } catch {
    return undefined;
  }
}

function defaultPackages(): Record<string, string> {
  if (!studykitPackages) {
    studykitPackages = {};
    const core = readVersion(new URL("../../package.json", import.meta.url).pathname);
    if (core) studykitPackages["@studykit/core"] = core;
    try {
      const native = readVersion(createRequire(import.meta.url).resolve("@studykit/native/package.json"));
      if (native) studykitPackages["@studykit/native"] = native;
    } catch {
      // not resolvable from here: recorded without it
    }
  }
  return studykitPackages;
}

function git(args: readonly string[], cwd: string): string | null {
  try {
    return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000, windowsHide: true }).trim();
  } catch {
    return null; // git missing, not a checkout, or a broken one: no git record
  }
}

// The run root often does not exist yet when its identity is built: ask git from its nearest ancestor.
function existingAncestor(path: string): string {
  let current = resolve(path);
  while (!existsSync(current)) {
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}

/** Git commit and dirty flag of the checkout containing `cwd`, or null. */
export function detectGitVersion(cwd: string = process.cwd()): CodeVersion["git"] {
  const where = existingAncestor(cwd);
  const commit = git(["rev-parse", "--verify", "HEAD"], where);
  if (!commit || !/^[0-9a-f]{40,64}$/.test(commit)) return null;
  // Tracked changes only: untracked files (outputs, scratch) would otherwise mark nearly every run dirty.
  const status = git(["status", "--porcelain", "--untracked-files=no"], where);
  return { commit, dirty: status === null ? true : status.length > 0 };
}

// studykit's own code: this module's directory (dist/ or src/ of @studykit/core).
function ownCodeRoot(): string {
  return dirname(fileURLToPath(import.meta.url));
}

// An installed copy lives under node_modules/, which git ignores: the enclosing repository is the user's
// project, not the code that runs, so its commit would be a false record.
function isInstalledCopy(dir: string): boolean {
  return resolve(dir).split(sep).includes("node_modules");
}

/**
 * The default code version: studykit package versions plus the git state of the checkout studykit runs
 * from (or of `codeRoot`). Independent of the current directory and of any output directory.
 */
export function detectCodeVersion(options: DetectCodeVersionOptions = {}): CodeVersion {
  const codeRoot = options.codeRoot ?? options.cwd ?? ownCodeRoot();
  return { packages: { ...defaultPackages(), ...options.packages }, git: isInstalledCopy(codeRoot) ? null : detectGitVersion(codeRoot) };
}

/**
 * The git commit and dirty flag of the repository `outputDir` lies in (it need not exist yet), or null.
 * Record it beside a run (its manifest), never in the identity: where output is written does not change
 * what was computed.
 */
export function detectOutputRepository(outputDir: string): OutputRepository | null {
  return detectGitVersion(outputDir);
}
