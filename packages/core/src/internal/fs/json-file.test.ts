import { readdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { deadPid, fixture, runNode, useTempDirs } from "../../../test/helpers.js";
import { readJsonFile, updateJsonFile } from "./json-file.js";

const tempDir = useTempDirs();
const Counter = z.object({ total: z.number().int().nonnegative(), counts: z.record(z.string(), z.number().int()) });

describe("updateJsonFile", () => {
  it("creates, then updates the document and validates it", async () => {
    const dir = await tempDir();
    const path = join(dir, "doc.json");
    await updateJsonFile(path, (current) => current ?? { total: 0, counts: {} }, { schema: Counter });
    const written = await updateJsonFile(path, (doc) => ({ ...doc!, total: doc!.total + 2 }), { schema: Counter });
    expect(written.total).toBe(2);
    expect(await readJsonFile(path, { schema: Counter })).toEqual({ total: 2, counts: {} });
  });

  it("refuses an invalid update, naming each problem, and leaves the file as it was", async () => {
    const dir = await tempDir();
    const path = join(dir, "doc.json");
    await writeFile(path, '{"total":1,"counts":{}}');
    const update = updateJsonFile(path, () => ({ total: -1, counts: { a: 0.5 } }), { schema: Counter });
    await expect(update).rejects.toMatchObject({ code: "E_JSON_INVALID", message: expect.stringMatching(/2 problems[\s\S]*total[\s\S]*counts\.a/) });
    expect(await readFile(path, "utf8")).toBe('{"total":1,"counts":{}}');
  });

  it("reports a corrupt document by path", async () => {
    const dir = await tempDir();
    const path = join(dir, "bad.json");
    await writeFile(path, '{"total": 1,');
    await expect(updateJsonFile(path, (doc) => doc)).rejects.toMatchObject({ code: "E_JSON_INVALID", message: expect.stringContaining(path) });
    await expect(readJsonFile(path)).rejects.toMatchObject({ code: "E_JSON_INVALID" });
    await expect(readJsonFile(join(dir, "none.json"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("four processes incrementing one document lose no update", async () => {
    const dir = await tempDir();
    const path = join(dir, "shared.json");
    const labels = ["a", "b", "c", "d"];
    await Promise.all(labels.map((label) => runNode(fixture("json-counter.mjs"), [path, label, "25"])));
    const doc = await readJsonFile(path, { schema: Counter });
    expect(doc).toEqual({ total: 100, counts: { a: 25, b: 25, c: 25, d: 25 } });
  }, 60_000);

  it("processes racing to take over a dead holder's lock still lose no update", async () => {
    const dir = await tempDir();
    const path = join(dir, "shared.json");
    await writeFile(`${path}.lock`, JSON.stringify({ pid: deadPid(), host: hostname(), createdAt: new Date().toISOString(), purpose: "crashed", token: "gone" }));
    await Promise.all(["a", "b", "c"].map((label) => runNode(fixture("json-counter.mjs"), [path, label, "10"])));
    expect(await readJsonFile(path, { schema: Counter })).toEqual({ total: 30, counts: { a: 10, b: 10, c: 10 } });
    expect(await readdir(dir)).toEqual(["shared.json"]);
  }, 60_000);
});
