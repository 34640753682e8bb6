import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { useTempDirs } from "../../test/helpers.js";
import { detectCodeVersion, detectGitVersion, detectOutputRepository } from "./code-version.js";
import { buildJobMatrix } from "../study/job-matrix.js";
import { createPartialIdentity, stableRunId } from "./run-identity.js";
import { runStudy } from "../study/study-coordinator.js";
import { planStudy } from "../study/study-planner.js";

const tempDir = useTempDirs();
const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd, encoding: "utf8" }).trim();

// The checkout this test file (and so studykit's code) lives in, asked of git directly; null in a copy
// without git (a packed tarball).
function ownCheckout(): { commit: string; dirty: boolean } | null {
  const here = dirname(fileURLToPath(import.meta.url));
  try {
    const commit = git(here, "rev-parse", "--verify", "HEAD");
    return { commit, dirty: git(here, "status", "--porcelain", "--untracked-files=no").length > 0 };
  } catch {
    return null;
  }
}

async function committedRepo(): Promise<{ repo: string; commit: string }> {
  const repo = await tempDir();
  git(repo, "init", "-q");
  await writeFile(join(repo, "train.js"), "1");
  git(repo, "add", "train.js");
  git(repo, "commit", "-q", "-m", "first");
  return { repo, commit: git(repo, "rev-parse", "HEAD") };
}

describe("detectGitVersion", () => {
  it("records the git commit and the dirty flag of the checkout holding a directory that need not exist", async () => {
    const { repo, commit } = await committedRepo();
    const runRoot = join(repo, "runs", "r1");
    expect(detectGitVersion(runRoot)).toEqual({ commit, dirty: false });
    await writeFile(join(repo, "untracked.txt"), "outputs do not make it dirty");
    expect(detectGitVersion(runRoot)).toEqual({ commit, dirty: false });
    await writeFile(join(repo, "train.js"), "2");
    expect(detectGitVersion(runRoot)).toEqual({ commit, dirty: true });
    expect(detectOutputRepository(runRoot)).toEqual({ commit, dirty: true });
  });

  it("records null outside any checkout", async () => {
    const dir = await tempDir();
    expect(detectGitVersion(join(dir, "not", "yet"))).toBeNull();
    expect(detectOutputRepository(dir)).toBeNull();
  });
});

describe("detectCodeVersion", () => {
  it("records studykit's own checkout by default, wherever the output goes", () => {
    const expected = ownCheckout();
    const version = detectCodeVersion({ packages: { mine: "1.2.3" } });
    expect(version.packages).toEqual(expect.objectContaining({ "@studykit/core": expect.any(String), mine: "1.2.3" }));
    expect(version.git?.commit ?? null).toBe(expected?.commit ?? null);
  });

  it("records a given code root's checkout, and none for an installed copy under node_modules", async () => {
    const { repo, commit } = await committedRepo();
    expect(detectCodeVersion({ codeRoot: repo }).git).toEqual({ commit, dirty: false });
    const installed = join(repo, "node_modules", "@studykit", "core", "dist");
    await mkdir(installed, { recursive: true });
    // The enclosing repository is the user's project, not the code that runs.
    expect(detectCodeVersion({ codeRoot: installed }).git).toBeNull();
  });
});

describe("identity and output directory", () => {
  it("the same job planned with its output inside a git checkout and outside gets the same strict key and run id", async () => {
    const { repo, commit } = await committedRepo();
    await writeFile(join(repo, "train.js"), "uncommitted"); // a dirty output repository must not matter either
    const outside = await tempDir();
    const inputRoot = await tempDir();
    await writeFile(join(inputRoot, "train.npz"), "data");
    const matrixAt = (artifactRoot: string) =>
      buildJobMatrix({ axes: { dose: [1000] }, inputs: () => ({ train: "train.npz" }), config: (params) => ({ ...params, epochs: 1 }) }, { inputRoot, artifactRoot });

    const inRepo = await planStudy(matrixAt(join(repo, "out")));
    const notInRepo = await planStudy(matrixAt(join(outside, "out")));
    const a = inRepo.jobs[0]!.identity;
    const b = notInRepo.jobs[0]!.identity;
    expect(a.strictKey).toBe(b.strictKey);
    expect(a.runId).toBe(b.runId);
    expect(a.fields["codeVersion"]).toEqual(b.fields["codeVersion"]);

    // A run manifest's identity, built without a code version, likewise.
    const identity = (root: string) => createPartialIdentity({ stage: "train", config: { lr: 0.1 }, seeds: 1, datasetSnapshotHash: "abc", root }).finalize({ features: 3 });
    expect(stableRunId(identity(join(repo, "run")))).toBe(stableRunId(identity(join(outside, "run"))));

    // The output repository is recorded beside the jobs, not in their identities.
    const dry = await runStudy(matrixAt(join(repo, "out")), { module: "unused.mjs" }, { dryRun: true, progress: "silent" });
    expect(dry.manifest.outputRepository).toEqual({ commit, dirty: true });
    expect(dry.manifest.jobs[0]!.identity!.strictKey).toBe(b.strictKey);
    const dryOutside = await runStudy(matrixAt(join(outside, "out")), { module: "unused.mjs" }, { dryRun: true, progress: "silent" });
    expect(dryOutside.manifest.outputRepository).toBeNull();
  });
});
