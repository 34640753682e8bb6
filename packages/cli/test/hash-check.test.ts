import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { skipWithout } from "../../../tools/test-dependencies.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const directory = mkdtempSync(join(tmpdir(), "studykit-cli-hash-check-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const studykit = (args: string[], cwd = directory) => spawnSync(process.execPath, [bin, "hash", ...args], { encoding: "utf8", cwd, env: { ...process.env, STUDYKIT_DEBUG: "" } });
const sha256sum = (args: string[], cwd = directory) => spawnSync("sha256sum", args, { encoding: "utf8", cwd });
const hex = (data: string) => createHash("sha256").update(data).digest("hex");

const sha256sumAvailable = spawnSync("sha256sum", ["--version"], { stdio: "ignore" }).status === 0;

// Names that need care: a space, a trailing space, a backslash, a newline, a star and parentheses.
const names = ["plain.txt", "with space.txt", "trailing ", "back\\slash.txt", "new\nline.txt", "*star(1).txt", "sub/nested.bin"];
mkdirSync(join(directory, "sub"), { recursive: true });
for (const name of names) writeFileSync(join(directory, name), `content of ${name}`);

describe("studykit hash --check, against GNU sha256sum -c on the same files", () => {
  if (skipWithout({ name: "sha256sum (GNU coreutils)", available: sha256sumAvailable, install: "apt-get install -y coreutils" })) return;

  it("accepts the list sha256sum writes (escaped names included) and prints the same report, exit 0", () => {
    const written = sha256sum(names);
    expect(written.status, written.stderr).toBe(0);
    writeFileSync(join(directory, "good.sha256"), written.stdout);
    // Our own list is the same bytes, so sha256sum -c reads what we write as well.
    expect(studykit(names).stdout).toBe(written.stdout);
    const ours = studykit(["--check", "good.sha256"]);
    const theirs = sha256sum(["-c", "good.sha256"]);
    expect(theirs.status).toBe(0);
    expect(ours.status, ours.stderr).toBe(0);
    expect(ours.stderr).toBe("");
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.stdout).toContain("plain.txt: OK\n");
  });

  it("resolves listed paths against the current directory, as sha256sum does, not against the list's directory", () => {
    writeFileSync(join(directory, "sub", "list.sha256"), `${hex("content of sub/nested.bin")}  nested.bin\n`);
    for (const [cwd, list] of [[directory, "sub/list.sha256"], [join(directory, "sub"), "list.sha256"]] as const) {
      const ours = studykit(["--check", list], cwd);
      const theirs = sha256sum(["-c", list], cwd);
      expect(ours.stdout).toBe(theirs.stdout);
      expect(ours.status === 0).toBe(theirs.status === 0);
    }
    expect(studykit(["--check", "sub/list.sha256"]).stdout).toBe("nested.bin: FAILED open or read\n");
    expect(studykit(["--check", "list.sha256"], join(directory, "sub")).stdout).toBe("nested.bin: OK\n");
  });

  it("reports FAILED and FAILED open or read like sha256sum, names improperly formatted lines by number, exit 2", () => {
    const good = hex("content of plain.txt");
    const lines = [
      `${good} *plain.txt`, // 1: binary marker
      `# a comment`, // 2: ignored by both
      `${good.toUpperCase()}  plain.txt`, // 3: upper-case hex
      `${"0".repeat(64)}  with space.txt`, // 4: wrong digest
      `${good} plain.txt`, // 5: one space: improperly formatted
      `${good}  missing.txt`, // 6: cannot be read
      `SHA256 (plain.txt) = ${good}`, // 7: BSD tag form
      `${good.slice(0, 63)}  plain.txt`, // 8: short digest: improperly formatted
      `${good}  `, // 9: no path: improperly formatted
    ];
    writeFileSync(join(directory, "mixed.sha256"), `${lines.join("\n")}\n`);
    const ours = studykit(["--check", "mixed.sha256"]);
    const theirs = sha256sum(["-c", "mixed.sha256"]);
    expect(theirs.status).toBe(1);
    expect(ours.status).toBe(2);
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.stdout).toBe("plain.txt: OK\nplain.txt: OK\nwith space.txt: FAILED\nmissing.txt: FAILED open or read\nplain.txt: OK\n");
    // sha256sum -w names the same improperly formatted lines.
    const warned = sha256sum(["-c", "-w", "mixed.sha256"]);
    const theirLines = [...warned.stderr.matchAll(/mixed\.sha256: (\d+): improperly formatted/g)].map((match) => Number(match[1]));
    expect(theirLines).toEqual([5, 8, 9]);
    expect(ours.stderr).toMatch(/^error\[E_CHECKSUM_LINE_INVALID\]: mixed\.sha256: 3 improperly formatted lines/m);
    for (const line of theirLines) expect(ours.stderr).toContain(`  line ${line}: `);
    expect(ours.stderr).toMatch(/^error\[E_IO_NOT_FOUND\]: .*missing\.txt/m);
    expect(ours.stderr).toMatch(/^error\[E_CHECKSUM_MISMATCH\]: mixed\.sha256: 1 computed checksum did NOT match, 1 listed file could not be read/m);
    expect(ours.stderr).toContain("  line 4: with space.txt: FAILED\n");
    expect(ours.stderr).toContain("  line 6: missing.txt: FAILED open or read");
    expect(ours.stderr).not.toMatch(/\n\s+at /);
  });

  it("fails a list with no checksum line, and a list that cannot be read, with exit 2", () => {
    writeFileSync(join(directory, "empty.sha256"), "# nothing here\n\n");
    const empty = studykit(["--check", "empty.sha256"]);
    expect(sha256sum(["-c", "empty.sha256"]).status).not.toBe(0);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/^error\[E_CHECKSUM_LIST_EMPTY\]: empty\.sha256/);
    const missing = studykit(["--check", "no-such.sha256"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^error\[E_IO_NOT_FOUND\]: .*no-such\.sha256/);
  });

  it("prints { list, line, path, status } with --json", () => {
    writeFileSync(join(directory, "two.sha256"), `${hex("content of plain.txt")}  plain.txt\n${"f".repeat(64)}  trailing \n`);
    const result = studykit(["--check", "--json", "two.sha256"]);
    expect(result.status).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual([
      { list: "two.sha256", line: 1, path: "plain.txt", status: "OK" },
      { list: "two.sha256", line: 2, path: "trailing ", status: "FAILED" },
    ]);
  });
});
