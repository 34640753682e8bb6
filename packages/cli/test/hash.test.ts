import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { isCI, skipOrFail } from "../../../tools/test-dependencies.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const directory = mkdtempSync(join(tmpdir(), "studykit-cli-hash-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/**
 * Root reads any file, so a permission test run as root runs the CLI without the two capabilities that
 * let it (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), through util-linux's `setpriv`: the file system then
 * refuses it as it refuses a user, and the CLI still runs from this checkout wherever it lives.
 */
const WITHOUT_READ_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] as const;
const run = (args: string[], options: { withoutReadOverride?: boolean } = {}) => {
  const command = [...(options.withoutReadOverride ? WITHOUT_READ_OVERRIDE : []), process.execPath, bin, "hash", ...args];
  return spawnSync(command[0]!, command.slice(1), { encoding: "utf8", cwd: directory, env: { ...process.env, STUDYKIT_DEBUG: "" } });
};
const hex = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

const files = [
  { name: "empty.bin", data: new Uint8Array(0) },
  { name: "small.txt", data: new TextEncoder().encode("abc") },
  { name: "big.bin", data: randomBytes(3 * 1024 * 1024 + 7) },
];
for (const file of files) writeFileSync(join(directory, file.name), file.data);

describe("studykit hash", () => {
  it("prints sha256sum-style lines, identical to sha256sum's output where it is installed", () => {
    const result = run(files.map((file) => file.name));
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(files.map((file) => `${hex(file.data)}  ${file.name}\n`).join(""));
    const sha256sum = spawnSync("sha256sum", files.map((file) => file.name), { cwd: directory, encoding: "utf8" });
    // Outside CI a machine may lack coreutils' sha256sum (the comparison is then skipped, saying so); under CI it must run.
    if (sha256sum.error !== undefined && !isCI()) {
      console.warn("not comparing with sha256sum: it is not installed (apt-get install -y coreutils)");
    } else {
      expect(sha256sum.error, "sha256sum (coreutils) is required under CI: apt-get install -y coreutils").toBeUndefined();
      expect(sha256sum.status, sha256sum.stderr).toBe(0);
      expect(result.stdout).toBe(sha256sum.stdout);
    }
    expect(result.stdout).toContain("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  small.txt");
  });

  it("prints a JSON array of { path, bytes, sha256 } with --json, at any --concurrency", () => {
    for (const concurrency of ["1", "4"]) {
      const result = run(["--json", "--concurrency", concurrency, ...files.map((file) => file.name)]);
      expect(result.status, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual(files.map((file) => ({ path: file.name, bytes: file.data.length, sha256: hex(file.data) })));
    }
  });

  it("reports a missing file as error[E_IO_NOT_FOUND] with exit 2, and still hashes the others", () => {
    const result = run(["small.txt", "missing.bin", "empty.bin"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_IO_NOT_FOUND\]: .*missing\.bin/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe(`${hex(files[1]!.data)}  small.txt\n${hex(files[0]!.data)}  empty.bin\n`);
    const json = run(["--json", "missing.bin", "small.txt"]);
    expect(json.status).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual([{ path: "small.txt", bytes: 3, sha256: hex(files[1]!.data) }]);
  });

  it("reports an unreadable file as error[E_IO_PERMISSION] with exit 2", (context) => {
    const locked = join(directory, "locked.bin");
    writeFileSync(locked, "secret");
    chmodSync(locked, 0o000);
    chmodSync(directory, 0o755);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      const probe = spawnSync(WITHOUT_READ_OVERRIDE[0], [...WITHOUT_READ_OVERRIDE.slice(1), "true"], { encoding: "utf8" });
      skipOrFail(context, {
        name: "setpriv able to drop CAP_DAC_OVERRIDE (this test runs as root)",
        available: probe.status === 0,
        install: `apt-get install -y util-linux, in a container that keeps CAP_SETPCAP, or run the tests as a user other than root (${probe.error?.message ?? probe.stderr.trim()})`,
      });
    }
    const result = run(["locked.bin", "small.txt"], { withoutReadOverride: asRoot });
    expect(result.status, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_IO_PERMISSION\]: .*locked\.bin/);
    expect(result.stdout).toBe(`${hex(files[1]!.data)}  small.txt\n`);
  });

  it("rejects a bad --concurrency and a missing FILE argument as usage errors", () => {
    const bad = run(["--concurrency", "0", "small.txt"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^error\[E_USAGE\]: .*--concurrency/);
    const none = run([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^error\[E_USAGE\]/);
  });
});
