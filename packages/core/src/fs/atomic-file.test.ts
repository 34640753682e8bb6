import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { deadPid, useTempDirs } from "../../test/helpers.js";
import { formatJson, isProcessAlive, sweepStaleTempFiles, writeFileAtomic, writeFileAtomicSync, writeJsonAtomic } from "./atomic-file.js";

const tempDir = useTempDirs();

describe("writeFileAtomic", () => {
  it("creates and replaces a file, leaving no temp files", async () => {
    const dir = await tempDir();
    const path = join(dir, "doc.json");
    await writeFileAtomic(path, "first");
    await writeFileAtomic(path, new Uint8Array([104, 105]));
    expect(await readFile(path, "utf8")).toBe("hi");
    writeFileAtomicSync(path, "sync");
    expect(await readFile(path, "utf8")).toBe("sync");
    expect(await readdir(dir)).toEqual(["doc.json"]);
  });

  it("exclusive mode refuses to replace an existing file and cleans up", async () => {
    const dir = await tempDir();
    const path = join(dir, "once");
    await writeFileAtomic(path, "a", { exclusive: true });
    await expect(writeFileAtomic(path, "b", { exclusive: true })).rejects.toMatchObject({ code: "E_IO_EXISTS", systemCode: "EEXIST", path });
    expect(await readFile(path, "utf8")).toBe("a");
    expect(await readdir(dir)).toEqual(["once"]);
  });

  it("fails when the directory is missing without creating it", async () => {
    const dir = await tempDir();
    await expect(writeFileAtomic(join(dir, "missing", "x"), "a")).rejects.toMatchObject({ code: "E_IO_NOT_FOUND", systemCode: "ENOENT" });
    expect(await readdir(dir)).toEqual([]);
  });

  it("writes pretty JSON and refuses non-finite numbers and bigints", async () => {
    const dir = await tempDir();
    const path = join(dir, "v.json");
    await writeJsonAtomic(path, { a: [1, "x"] });
    expect(await readFile(path, "utf8")).toBe('{\n  "a": [\n    1,\n    "x"\n  ]\n}\n');
    expect(() => formatJson({ loss: NaN })).toThrow(expect.objectContaining({ code: "E_JSON_INVALID", message: expect.stringContaining("loss") }));
    expect(() => formatJson({ n: 1n })).toThrow(/bigint/);
  });
});

describe("sweepStaleTempFiles", () => {
  it("removes temp files of dead writers only", async () => {
    const dir = await tempDir();
    const target = join(dir, "m.json");
    const dead = `.m.json.${deadPid()}.0123456789ab.tmp`;
    const live = `.m.json.${process.ppid}.0123456789ab.tmp`;
    await mkdir(dir, { recursive: true });
    await Promise.all([dead, live, "other.tmp"].map((name) => writeFile(join(dir, name), "partial")));
    expect(await sweepStaleTempFiles(target)).toEqual([join(dir, dead)]);
    expect((await readdir(dir)).sort()).toEqual([live, "other.tmp"].sort());
  });

  it("isProcessAlive tells live from dead pids", () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(deadPid())).toBe(false);
    expect(isProcessAlive(-1)).toBe(false);
  });
});
