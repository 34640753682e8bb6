/**
 * What a newcomer gets from `npm ci && npm run build` in a fresh clone: `studykit` and `studykit-bench`
 * executables that npm linked and that run (the README's `npx studykit ...` lines), an install that does
 * not try to download ONNX Runtime's CUDA providers, and npm commands that print no warnings about this
 * workspace's setup.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
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

/** Every workspace executable: the committed shim each package.json's `bin` names, and what `--help` prints. */
const EXECUTABLES = [
  { command: "studykit", packageDir: "packages/cli", help: /^Usage: studykit .*\n(.|\n)*\bstudy\b/ },
  { command: "studykit-bench", packageDir: "packages/bench", help: /^usage: studykit-bench \[--suite / },
] as const;

describe.each(EXECUTABLES)("the $command executable", ({ command, packageDir, help }) => {
  const shimPath = `${packageDir}/bin/${command}.js`;

  it("is the shared shim, committed with its exec bit, so a clone has it before anything is built", () => {
    const entry = execFileSync("git", ["ls-files", "--stage", "--", shimPath], { cwd: root, encoding: "utf8" });
    expect(entry, `${shimPath} is not committed`).toMatch(/^100755 /);
    const manifest = JSON.parse(readFileSync(path.join(root, packageDir, "package.json"), "utf8")) as { bin: Record<string, string>; files: string[] };
    expect(manifest.bin).toEqual({ [command]: `./bin/${command}.js` });
    expect(manifest.files).toContain("bin");
    // One pattern: the shim takes its command name from its own file name, so every copy is the same bytes.
    expect(readFileSync(path.join(root, shimPath), "utf8")).toBe(readFileSync(shim, "utf8"));
  });

  it(`is what npm links as node_modules/.bin/${command}, and runs without \`node\` in front`, () => {
    // Spawned directly: a missing link is ENOENT, a missing exec bit EACCES.
    const linked = path.join(root, "node_modules/.bin", command);
    const result = spawnSync(linked, ["--help"], { encoding: "utf8", cwd: work });
    expect(result.error, `${linked}: run npm ci (npm links workspace executables)`).toBeUndefined();
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(help);
  });

  it("says how to build when the build is missing", () => {
    // The executable as it is in a clone before `npm run build`: no dist/ beside it.
    const unbuilt = path.join(work, `unbuilt-${command}`);
    mkdirSync(path.join(unbuilt, "bin"), { recursive: true });
    copyFileSync(path.join(root, shimPath), path.join(unbuilt, `bin/${command}.js`));
    const result = spawnSync(process.execPath, [path.join(unbuilt, `bin/${command}.js`), "--help"], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^error\\[E_NOT_BUILT\\]: ${command} is not built \\(.*dist/bin\\.js does not exist\\): run \`npm ci\` and \`npm run build\``));
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("workspace executables", () => {
  it("are all listed above: no package.json bin points into an unbuilt dist/", () => {
    const packages = readdirSync(path.join(root, "packages"), { withFileTypes: true }).filter((entry) => entry.isDirectory());
    const commands = packages.flatMap((entry) => {
      const manifestPath = path.join(root, "packages", entry.name, "package.json");
      if (!existsSync(manifestPath)) return [];
      return Object.keys((JSON.parse(readFileSync(manifestPath, "utf8")) as { bin?: Record<string, string> }).bin ?? {});
    });
    expect(commands.sort()).toEqual(EXECUTABLES.map((executable) => executable.command).sort());
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
