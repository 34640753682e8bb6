import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hashFile, hashFiles } from "./file-hash.js";

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "studykit-core-hash-"));
  dirs.push(dir);
  return dir;
}

describe("file hashing", () => {
  it("streams files of several chunks to the same digest as hashing their bytes at once", async () => {
    const dir = await tempDir();
    // Sizes around the 1 MiB read size, plus empty and tiny files.
    const contents = [Buffer.alloc(0), Buffer.from("a"), randomBytes(1024 * 1024), randomBytes(1024 * 1024 + 17), randomBytes(2.5 * 1024 * 1024)];
    const paths = await Promise.all(
      contents.map(async (bytes, index) => {
        const path = join(dir, `file-${index}.bin`);
        await writeFile(path, bytes);
        return path;
      }),
    );
    const expected = contents.map((bytes) => createHash("sha256").update(bytes).digest("hex"));
    expect(await Promise.all(paths.map(hashFile))).toEqual(expected);
    expect(await hashFiles(paths)).toEqual(contents.map((bytes, index) => ({ sha256: expected[index], bytes: bytes.length })));
    expect(await hashFiles([])).toEqual([]);
  });

  it("a missing file is a typed error naming its path", async () => {
    const dir = await tempDir();
    const present = join(dir, "present.bin");
    await writeFile(present, "x");
    const missing = join(dir, "missing.bin");
    await expect(hashFile(missing)).rejects.toMatchObject({ code: "E_IO_NOT_FOUND", message: expect.stringContaining(missing) });
    await expect(hashFiles([present, missing])).rejects.toMatchObject({ code: "E_IO_NOT_FOUND", message: expect.stringContaining(missing) });
  });
});
