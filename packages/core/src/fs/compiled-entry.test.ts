import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { useTempDirs } from "../../test/helpers.js";
import { resolveCompiledEntry } from "./compiled-entry.js";

const tempDir = useTempDirs();

// A package laid out like ours: the calling module under src/<folder>/, its compiled twin under dist/<folder>/.
async function packageDir(): Promise<{ src: string; dist: string; caller: string }> {
  const root = await tempDir();
  const src = join(root, "pkg", "src", "internal", "jobs");
  const dist = join(root, "pkg", "dist", "internal", "jobs");
  await mkdir(src, { recursive: true });
  await mkdir(dist, { recursive: true });
  const caller = join(src, "spawner.ts");
  await writeFile(caller, "// the module that forks the worker\n");
  return { src, dist, caller };
}

describe("resolveCompiledEntry", () => {
  it("from src/, finds the entry's compiled twin in dist/ under the same folders", async () => {
    const { dist, caller } = await packageDir();
    await writeFile(join(dist, "worker.js"), "");
    expect(resolveCompiledEntry(pathToFileURL(caller).href, "worker.js")).toBe(join(dist, "worker.js"));
    expect(resolveCompiledEntry(pathToFileURL(caller), "worker.js")).toBe(join(dist, "worker.js"));
    expect(resolveCompiledEntry(caller, "worker.js")).toBe(join(dist, "worker.js"));
  });

  it("prefers the entry beside the calling module (a caller running from dist/)", async () => {
    const { src, dist, caller } = await packageDir();
    await writeFile(join(dist, "worker.js"), "");
    await writeFile(join(src, "worker.js"), "");
    expect(resolveCompiledEntry(pathToFileURL(caller).href, "worker.js")).toBe(join(src, "worker.js"));
  });

  it("with neither present, throws E_ENTRY_MISSING naming both paths and how to build the package", async () => {
    const { src, dist, caller } = await packageDir();
    let caught: unknown;
    try {
      resolveCompiledEntry(pathToFileURL(caller).href, "worker.js", { packageName: "@studykit/example" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: "E_ENTRY_MISSING" });
    const message = (caught as Error).message;
    expect(message).toContain(join(src, "worker.js"));
    expect(message).toContain(join(dist, "worker.js"));
    expect(message).toContain("npx nx run @studykit/example:build");
  });
});
