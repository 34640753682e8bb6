/**
 * The code version recorded in every run identity: the versions of the studykit packages that ran, and the
 * git commit (plus whether the checkout had uncommitted changes) when the run root lies in a git checkout.
 *
 * git is run as a child process, read-only; no git, or a root outside any checkout, simply records
 * `git: null`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";

/** What code produced a run. */
export interface CodeVersion {
  /** Package name → version, e.g. `{ "@studykit/core": "0.1.0" }`. */
  readonly packages: Readonly<Record<string, string>>;
  /** The git checkout the run root lies in, or null when there is none (or git is not installed). */
  readonly git: { readonly commit: string; readonly dirty: boolean } | null;
}

/** Options of {@link detectCodeVersion}. */
export interface DetectCodeVersionOptions {
  /** Where to look for a git checkout (default: the current directory); need not exist yet. */
  readonly cwd?: string;
  /** More package versions to record (your own training package, for example); merged over the defaults. */
  readonly packages?: Readonly<Record<string, string>>;
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
    const core = readVersion(new URL("../package.json", import.meta.url).pathname);
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

/** The default code version: studykit package versions plus the git state of `cwd`'s checkout. */
export function detectCodeVersion(options: DetectCodeVersionOptions = {}): CodeVersion {
  return { packages: { ...defaultPackages(), ...options.packages }, git: detectGitVersion(options.cwd) };
}
