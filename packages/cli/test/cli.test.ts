import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, STUDYKIT_DEBUG: "" } });

describe("studykit CLI", () => {
  it("prints help and version", () => {
    const help = run("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Usage: studykit");
    const version = run("--version");
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe("0.1.0");
  });

  it("reports bad usage as error[E_USAGE] with exit 2 and no stack trace", () => {
    const result = run("--no-such-flag");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_USAGE\]: unknown option '--no-such-flag'/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const unknown = run("frobnicate");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^error\[E_USAGE\]/);
  });

  it.each([
    ["an option without its value", ["hash", "--concurrency"], /^error\[E_USAGE\]: option '--concurrency <n>' argument missing/],
    ["a missing argument", ["runs", "compare", "only-one"], /^error\[E_USAGE\]: missing required argument 'b'/],
    ["an argument too many", ["info", "extra"], /^error\[E_USAGE\]: too many arguments for 'info'/],
    ["an unknown option of a subcommand", ["study", "run", "--no-such-flag"], /^error\[E_USAGE\]: unknown option '--no-such-flag'/],
    ["an unknown subcommand", ["study", "frobnicate"], /^error\[E_USAGE\]: unknown command 'frobnicate'/],
    ["a --concurrency that is not a whole number ≥ 1", ["study", "run", "--concurrency", "1.5"], /^error\[E_USAGE\]: --concurrency must be a whole number ≥ 1 or auto, got "1\.5"/],
  ])("reports %s as error[E_USAGE], exit 2, before doing any work", (_case, args, pattern) => {
    const result = run(...args);
    expect(result.status, result.stderr).toBe(2);
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe("");
  });

  it("reports which native implementation is in use", () => {
    const result = run("info", "--json");
    expect(result.status, result.stderr).toBe(0);
    const info = JSON.parse(result.stdout) as { native: { implementation: string } };
    if (process.env.STUDYKIT_REQUIRE_NATIVE === "1") expect(info.native.implementation).toBe("native");
  });
});

describe("studykit CLI output pipes", () => {
  it("exits quietly when the reader closes the pipe early", () => {
    // Enough output (thousands of lines) that the writer is still writing when `head` has gone.
    // The paths go to the shell as separate arguments: joined into the one `-c` string they would pass
    // Linux's 128 KiB limit on a single argument in a deep checkout (E2BIG, and no process at all).
    const file = fileURLToPath(new URL("../package.json", import.meta.url));
    const script = 'node="$1"; bin="$2"; shift 2; "$node" "$bin" hash "$@" | head -c 10 >/dev/null';
    const result = spawnSync("sh", ["-c", script, "sh", process.execPath, bin, ...Array<string>(3000).fill(file)], { encoding: "utf8" });
    expect(result.error).toBeUndefined();
    expect(result.status).toBe(0);
    expect(result.stderr).not.toMatch(/EPIPE|Unhandled/);
  });
});
