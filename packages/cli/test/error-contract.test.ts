/**
 * The CLI's error contract, run as real processes through the `studykit` executable: every failure is
 * one `error[CODE]: message` line on stderr with no stack trace, exit 2 for what the user can fix and 1
 * for internal failures. Covers the study's output root (a path under a regular file, a regular file, a
 * read-only directory, a phase directory blocked by a file), flags that must be checked before Phase C
 * simulates anything, a stdout that cannot be written, and failures nothing in the CLI catches.
 */
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const executable = fileURLToPath(new URL("../bin/studykit.js", import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), "studykit-cli-errors-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(args: readonly string[], options: SpawnSyncOptions & { nodeOptions?: readonly string[] } = {}) {
  const { nodeOptions = [], ...spawnOptions } = options;
  return spawnSync(process.execPath, [...nodeOptions, executable, ...args], {
    encoding: "utf8",
    cwd: work,
    env: { ...process.env, STUDYKIT_DEBUG: "" },
    timeout: 120_000,
    ...spawnOptions,
  }) as ReturnType<typeof spawnSync> & { stdout: string; stderr: string };
}

/** Exactly one error line of the contract, and no stack trace. */
function expectOneErrorLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split("\n").filter((line) => line.startsWith("error["));
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

// A small study, so that a run that should have failed at once but did not still ends soon.
const config = path.join(work, "tiny.json");
writeFileSync(config, JSON.stringify({ object: { source: "procedural", height: 96, width: 96 }, probe: { size: 16 }, scan: { count: 160 }, doses: [1000], training: { epochs: 1 } }));
const dryRun = (out: string, ...extra: string[]) => run(["study", "run", "--config", config, "--out", out, "--dry-run", ...extra]);

describe("studykit study: an output root that cannot be written is bad input (exit 2), not a bug", () => {
  const file = path.join(work, "a-file");
  writeFileSync(file, "not a directory\n");

  it("--out under a regular file", () => {
    const out = path.join(file, "study");
    const result = dryRun(out);
    expect(result.status, result.stderr).toBe(2);
    expectOneErrorLine(result.stderr, /^error\[E_IO\]: cannot create the directory .*a-file\/study: a part of the path is a regular file/);
    expect(result.stderr).not.toContain("E_INTERNAL");
  });

  it("--out naming a regular file", () => {
    const result = dryRun(file);
    expect(result.status, result.stderr).toBe(2);
    expectOneErrorLine(result.stderr, /^error\[E_IO\]: cannot create the directory .*a-file: something that is not a directory already has that name/);
  });

  it("a phase directory that is a regular file", () => {
    const out = path.join(work, "blocked");
    mkdirSync(out);
    writeFileSync(path.join(out, "phaseC"), "");
    const result = dryRun(out);
    expect(result.status, result.stderr).toBe(2);
    // Phase C's stage creates its directory when it begins: the error names the file in the way.
    expectOneErrorLine(result.stderr, /^error\[E_IO\]: cannot create the directory .*blocked\/phaseC: something that is not a directory already has that name; remove it or choose another output root \(--out\)/);
  });

  it("--out in a read-only directory (run as an unprivileged user when the tests run as root)", () => {
    // Root ignores permission bits, so as root the CLI runs as `nobody`, which may read the checkout but
    // not write to the directory.
    const root = process.getuid?.() === 0;
    const parent = mkdtempSync(path.join(tmpdir(), "studykit-cli-read-only-"));
    try {
      chmodSync(parent, 0o555);
      // No --config: `nobody` could not read the test's private work directory.
      const result = run(["study", "run", "--out", path.join(parent, "study"), "--dry-run"], root ? { uid: 65534, gid: 65534, cwd: parent } : {});
      expect(result.status, result.stderr).toBe(2);
      expectOneErrorLine(result.stderr, /^error\[E_IO_PERMISSION\]: cannot create the directory .*studykit-cli-read-only-[^/]+\/study: permission denied/);
    } finally {
      chmodSync(parent, 0o755);
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe("studykit study: flags are checked before Phase C simulates anything", () => {
  const cases: readonly [string, readonly string[], RegExp][] = [
    ["an unknown --engine", ["--engine", "pytorch"], /^error\[E_ENGINE_UNKNOWN\]: unknown engine "pytorch"/],
    ["an unknown --backend", ["--backend", "metal"], /^error\[E_BACKEND_UNKNOWN\]: .*"metal"/],
    ["an ONNX Runtime engine on a TF.js back end", ["--engine", "onnxruntime", "--backend", "wasm"], /^error\[E_BACKEND_UNKNOWN\]: .*"wasm"/],
    ["--executor bullmq without --redis", ["--executor", "bullmq"], /^error\[E_QUEUE_CONFIG\]: executor "bullmq" needs the Redis URL/],
    ["--executor bullmq with a URL that is not redis://", ["--executor", "bullmq", "--redis", "http://127.0.0.1:6379"], /^error\[E_QUEUE_CONFIG\]: invalid Redis URL "http:\/\/127\.0\.0\.1:6379"/],
    ["--redis without --executor bullmq", ["--redis", "redis://127.0.0.1:6379"], /^error\[E_USAGE\]: --redis is the queue of the BullMQ executor/],
  ];
  for (const [name, flags, pattern] of cases) {
    it(`${name}: exit 2 and no output root`, () => {
      const out = path.join(work, `flags-${flags.join("-").replace(/[^a-z0-9]+/gi, "_")}`);
      const result = dryRun(out, ...flags);
      expect(result.status, result.stderr).toBe(2);
      expectOneErrorLine(result.stderr, pattern);
      expect(result.stderr).not.toMatch(/^phase C/m);
      expect(existsSync(path.join(out, "phaseC")), `${out}: ${existsSync(out) ? readdirSync(out).join(", ") : "absent"}`).toBe(false);
    });
  }
});

describe("studykit: failures outside the commands go through the error reporter", () => {
  it("a stdout that cannot be written is E_IO (exit 2), not a stack trace", () => {
    const readOnly = path.join(work, "read-only-stdout");
    writeFileSync(readOnly, "");
    const descriptor = openSync(readOnly, "r");
    try {
      const result = run(["--help"], { stdio: ["ignore", descriptor, "pipe"] });
      expect(result.status, result.stderr).toBe(2);
      expectOneErrorLine(result.stderr, /^error\[E_IO\]: cannot write to stdout: EBADF/);
    } finally {
      closeSync(descriptor);
    }
  });

  // A module preloaded into the CLI's process that fails, once the CLI has started, in a way nothing
  // catches. It waits for the CLI's handler, or for the CLI to finish (`process.exitCode` set) if there is
  // none, so the outcome does not depend on timing.
  const injector = (failure: string) => {
    const file = path.join(work, `inject-${failure}.mjs`);
    writeFileSync(
      file,
      [
        `const event = ${JSON.stringify(failure === "rejection" ? "unhandledRejection" : "uncaughtException")};`,
        "const timer = setInterval(() => {",
        "  if (process.listenerCount(event) === 0 && process.exitCode === undefined) return;",
        "  clearInterval(timer);",
        failure === "rejection" ? '  Promise.reject(new Error("injected rejection"));' : '  throw new Error("injected exception");',
        "}, 5);",
        "",
      ].join("\n"),
    );
    return ["--import", pathToFileURL(file).href];
  };

  it("an unhandled rejection is E_INTERNAL (exit 1), not a stack trace", () => {
    const result = run(["--version"], { nodeOptions: injector("rejection") });
    expect(result.status, result.stderr).toBe(1);
    expectOneErrorLine(result.stderr, /^error\[E_INTERNAL\]: injected rejection \(this is a bug in studykit/);
  });

  it("an uncaught exception is E_INTERNAL (exit 1), not a stack trace", () => {
    const result = run(["--version"], { nodeOptions: injector("exception") });
    expect(result.status, result.stderr).toBe(1);
    expectOneErrorLine(result.stderr, /^error\[E_INTERNAL\]: injected exception \(this is a bug in studykit/);
  });
});
