import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  AtomicFileWriter,
  isProcessAlive,
  sweepStaleTempFiles,
  writeChunksAtomicSync,
  writeFileAtomic,
  writeFileAtomicSync,
} from "./atomic-write.js";

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "studykit-atomic-"));
  made.push(dir);
  return dir;
}

/** The pid of a process that has already exited and been reaped. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

function* chunksThenFailure(chunks: readonly Uint8Array[], failure: Error): Generator<Uint8Array> {
  yield* chunks;
  throw failure;
}

describe("writeFileAtomic, writeFileAtomicSync, writeChunksAtomicSync", () => {
  it("create and replace a file, leaving no temporary files", async () => {
    const dir = tempDir();
    const path = join(dir, "doc.json");
    await writeFileAtomic(path, "first");
    await writeFileAtomic(path, new Uint8Array([104, 105]));
    expect(readFileSync(path, "utf8")).toBe("hi");
    writeFileAtomicSync(path, "sync é");
    expect(readFileSync(path, "utf8")).toBe("sync é");
    writeChunksAtomicSync(path, [Buffer.from("ab"), new Uint8Array(0), Buffer.from("cd")]);
    expect(readFileSync(path, "utf8")).toBe("abcd");
    expect(readdirSync(dir)).toEqual(["doc.json"]);
  });

  it("writeChunksAtomicSync writes exactly the concatenation of any chunks (property)", () => {
    const dir = tempDir();
    const path = join(dir, "chunks.bin");
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }), (chunks) => {
        writeChunksAtomicSync(path, chunks);
        expect(new Uint8Array(readFileSync(path))).toEqual(new Uint8Array(Buffer.concat(chunks)));
      }),
      { numRuns: 60 },
    );
    expect(readdirSync(dir)).toEqual(["chunks.bin"]);
  });

  it("exclusive writes refuse an existing target with E_IO_EXISTS, keep it, and clean up", async () => {
    const dir = tempDir();
    const path = join(dir, "once");
    await writeFileAtomic(path, "a", { exclusive: true });
    await expect(writeFileAtomic(path, "b", { exclusive: true })).rejects.toMatchObject({ code: "E_IO_EXISTS", systemCode: "EEXIST", path, message: expect.stringContaining(path) });
    expect(() => writeFileAtomicSync(path, "c", { exclusive: true })).toThrow(expect.objectContaining({ code: "E_IO_EXISTS", systemCode: "EEXIST", path }));
    expect(readFileSync(path, "utf8")).toBe("a");
    expect(readdirSync(dir)).toEqual(["once"]);
  });

  it("a missing directory is E_IO_NOT_FOUND naming the target, and is not created", async () => {
    const dir = tempDir();
    const path = join(dir, "missing", "x");
    await expect(writeFileAtomic(path, "a")).rejects.toMatchObject({ code: "E_IO_NOT_FOUND", systemCode: "ENOENT", path, message: expect.stringContaining(path) });
    expect(() => writeFileAtomicSync(path, "a")).toThrow(expect.objectContaining({ code: "E_IO_NOT_FOUND", path }));
    expect(() => new AtomicFileWriter(path)).toThrow(expect.objectContaining({ code: "E_IO_NOT_FOUND", path }));
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a failure in the middle of the chunks leaves the old target whole and no temporary file", () => {
    const dir = tempDir();
    const path = join(dir, "data.npz");
    writeFileSync(path, "old content");
    const failure = new Error("the encoder failed half-way");
    expect(() => writeChunksAtomicSync(path, chunksThenFailure([new Uint8Array(4096).fill(7), new Uint8Array(10)], failure))).toThrow(failure);
    expect(readFileSync(path, "utf8")).toBe("old content");
    expect(readdirSync(dir)).toEqual(["data.npz"]);

    // A new target is not created at all.
    const fresh = join(dir, "fresh.npz");
    expect(() => writeChunksAtomicSync(fresh, chunksThenFailure([new Uint8Array(100)], failure))).toThrow(failure);
    expect(readdirSync(dir)).toEqual(["data.npz"]);
  });

  it("a rename that fails after the bytes were written (target is a directory) leaves no temporary file", async () => {
    const dir = tempDir();
    const path = join(dir, "taken");
    mkdirSync(path);
    writeFileSync(join(path, "inside"), "keep");
    await expect(writeFileAtomic(path, "x".repeat(10_000))).rejects.toMatchObject({ code: "E_IO_IS_DIRECTORY", path, message: expect.stringContaining(path) });
    expect(() => writeFileAtomicSync(path, "x")).toThrow(expect.objectContaining({ code: "E_IO_IS_DIRECTORY", path }));
    expect(readdirSync(dir)).toEqual(["taken"]);
    expect(readFileSync(join(path, "inside"), "utf8")).toBe("keep");
  });
});

describe("AtomicFileWriter", () => {
  it("reports the offset of the next write, and publishes only on commit", () => {
    const dir = tempDir();
    const path = join(dir, "archive.zip");
    const writer = new AtomicFileWriter(path);
    expect(writer.position).toBe(0);
    writer.write(new Uint8Array([1, 2, 3]));
    writer.write(new Uint8Array(0));
    writer.write(new Uint8Array([4, 5]));
    expect(writer.position).toBe(5);
    expect(readdirSync(dir).includes("archive.zip")).toBe(false);
    writer.commit();
    expect([...readFileSync(path)]).toEqual([1, 2, 3, 4, 5]);
    expect(readdirSync(dir)).toEqual(["archive.zip"]);
    expect(() => writer.write(new Uint8Array(1))).toThrow(expect.objectContaining({ code: "E_NATIVE_ARGUMENT", message: expect.stringContaining(path) }));
  });

  it("abort drops the temporary file, keeps the old target, and may be repeated", () => {
    const dir = tempDir();
    const path = join(dir, "kept");
    writeFileSync(path, "old");
    const writer = new AtomicFileWriter(path);
    writer.write(Buffer.from("new bytes"));
    writer.abort();
    writer.abort();
    expect(readFileSync(path, "utf8")).toBe("old");
    expect(readdirSync(dir)).toEqual(["kept"]);
  });

  it("a writer killed mid-write leaves the old target whole; its temporary file is swept afterwards", async () => {
    // A real SIGKILL: no finally block, no exit handler runs in the child. Uses the built module (npm run build).
    const dir = tempDir();
    const path = join(dir, "manifest.json");
    writeFileSync(path, '{"old":true}\n');
    const entry = fileURLToPath(new URL("../dist/atomic-write.js", import.meta.url));
    const script = `const { AtomicFileWriter } = await import(${JSON.stringify(entry)});
      const writer = new AtomicFileWriter(process.argv[1]);
      writer.write(Buffer.alloc(1 << 20, 120));
      process.stdout.write("written\\n");
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, path], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (text: Buffer) => text.toString().includes("written") && resolve());
      child.on("exit", (code) => reject(new Error(`the writer exited early with ${code}`)));
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGKILL");
    await exited;

    expect(readFileSync(path, "utf8")).toBe('{"old":true}\n');
    const leftovers = readdirSync(dir).filter((name) => name !== "manifest.json");
    expect(leftovers).toHaveLength(1);
    expect(leftovers[0]).toMatch(new RegExp(`^\\.manifest\\.json\\.${child.pid}\\.[0-9a-f]{12}\\.tmp$`));
    expect(await sweepStaleTempFiles(path)).toEqual([join(dir, leftovers[0]!)]);
    expect(readdirSync(dir)).toEqual(["manifest.json"]);
  });
});

describe("sweepStaleTempFiles", () => {
  it("removes temporary files of dead writers of that target only", async () => {
    const dir = tempDir();
    const target = join(dir, "m.json");
    const dead = `.m.json.${deadPid()}.0123456789ab.tmp`;
    const live = `.m.json.${process.ppid}.0123456789ab.tmp`;
    const otherTarget = `.n.json.${deadPid()}.0123456789ab.tmp`;
    for (const name of [dead, live, otherTarget, "other.tmp"]) writeFileSync(join(dir, name), "partial");
    expect(await sweepStaleTempFiles(target)).toEqual([join(dir, dead)]);
    expect(readdirSync(dir).sort()).toEqual([live, otherTarget, "other.tmp"].sort());
  });

  it("returns nothing for a directory that does not exist", async () => {
    expect(await sweepStaleTempFiles(join(tempDir(), "missing", "m.json"))).toEqual([]);
  });

  it("isProcessAlive tells live from dead pids", () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(deadPid())).toBe(false);
    expect(isProcessAlive(-1)).toBe(false);
    expect(isProcessAlive(1.5)).toBe(false);
  });
});
