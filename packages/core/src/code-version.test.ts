import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useTempDirs } from "../test/helpers.js";
import { detectCodeVersion, detectGitVersion } from "./code-version.js";

const tempDir = useTempDirs();
const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd, encoding: "utf8" }).trim();

describe("detectCodeVersion", () => {
  it("records the git commit and the dirty flag of the checkout holding the run root", async () => {
    const repo = await tempDir();
    git(repo, "init", "-q");
    await writeFile(join(repo, "train.js"), "1");
    git(repo, "add", "train.js");
    git(repo, "commit", "-q", "-m", "first");
    const commit = git(repo, "rev-parse", "HEAD");
    // A run root that does not exist yet, inside the checkout.
    const runRoot = join(repo, "runs", "r1");
    expect(detectGitVersion(runRoot)).toEqual({ commit, dirty: false });
    await writeFile(join(repo, "untracked.txt"), "outputs do not make it dirty");
    expect(detectGitVersion(runRoot)).toEqual({ commit, dirty: false });
    await writeFile(join(repo, "train.js"), "2");
    expect(detectCodeVersion({ cwd: runRoot, packages: { mine: "1.2.3" } })).toEqual({
      packages: expect.objectContaining({ "@studykit/core": expect.any(String), mine: "1.2.3" }),
      git: { commit, dirty: true },
    });
  });

  it("records git: null outside any checkout", async () => {
    const dir = await tempDir();
    expect(detectGitVersion(join(dir, "not", "yet"))).toBeNull();
    expect(detectCodeVersion({ cwd: dir }).git).toBeNull();
  });
});
