/**
 * What a newcomer gets from `npm ci` in a fresh clone: an install that does not try to download ONNX
 * Runtime's CUDA providers, and npm commands that print no warnings about this workspace's setup.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(new URL("..", import.meta.url).pathname);

// npm's own environment variables (when the tests run under `npm test`) would make the npm we start
// report the outer npm's settings, not this workspace's.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_")));

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
