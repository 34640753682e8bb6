/**
 * What a newcomer gets from `npm ci && npm run build` in a fresh clone: a `studykit` executable that npm
 * linked and that runs (the README's `npx studykit ...` lines), an install that does not try to download
 * ONNX Runtime's CUDA providers, and npm commands that print no warnings about this workspace's setup.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(new URL("..", import.meta.url).pathname);
const shim = path.join(root, "packages/cli/bin/studykit.js");
const work = mkdtempSync(path.join(tmpdir(), "studykit-install-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// npm's own environment variables (when the tests run under `npm test`) would make the npm we start
// report the outer npm's settings, not this workspace's.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_")));

describe("the studykit executable", () => {
  it("is committed with its exec bit, so a clone has it before anything is built", () => {
    const entry = execFileSync("git", ["ls-files", "--stage", "--", "packages/cli/bin/studykit.js"], { cwd: root, encoding: "utf8" });
    expect(entry, "packages/cli/bin/studykit.js is not committed").toMatch(/^100755 /);
  });

  it("is what npm links as node_modules/.bin/studykit, and runs without `node` in front", () => {
    // Spawned directly: a missing link is ENOENT, a missing exec bit EACCES.
    const linked = path.join(root, "node_modules/.bin/studykit");
    const help = spawnSync(linked, ["--help"], { encoding: "utf8", cwd: work });
    expect(help.error, `${linked}: run npm ci (npm links workspace executables)`).toBeUndefined();
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain("Usage: studykit");
    expect(help.stdout).toMatch(/\bstudy\b/);
  });

  it("says how to build when the build is missing", () => {
    // The executable as it is in a clone before `npm run build`: no dist/ beside it.
    const unbuilt = path.join(work, "unbuilt-cli");
    mkdirSync(path.join(unbuilt, "bin"), { recursive: true });
    copyFileSync(shim, path.join(unbuilt, "bin/studykit.js"));
    const result = spawnSync(process.execPath, [path.join(unbuilt, "bin/studykit.js"), "--help"], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_NOT_BUILT\]: studykit is not built \(.*dist\/bin\.js does not exist\): run `npm ci` and `npm run build`/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("npm in this workspace", () => {
  it("warns about nothing: no unknown configuration, no install script left unreviewed", () => {
    const result = spawnSync("npm", ["install-scripts", "ls", "--json"], { cwd: root, encoding: "utf8", env: cleanEnv });
    expect(result.error, "npm is not on the PATH").toBeUndefined();
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/npm warn/i);
    expect((JSON.parse(result.stdout) as { allowScripts: unknown[] }).allowScripts).toEqual([]);
  });

  it("does not run onnxruntime-node's install script (its CUDA download fails offline)", () => {
    // npm applies the same allowScripts policy to `rebuild` as to `ci`; a script that ran would print its
    // command here (and, offline, fail on the NuGet download).
    const result = spawnSync("npm", ["rebuild", "onnxruntime-node", "--foreground-scripts"], { cwd: root, encoding: "utf8", env: cleanEnv, timeout: 120_000 });
    expect(result.error).toBeUndefined();
    expect(`${result.stdout}${result.stderr}`).not.toContain("script/install");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/npm warn/i);
  });
});
