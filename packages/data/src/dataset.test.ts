import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadDataset, validateDataset } from "./dataset.js";
import { PTYCHO_SCHEMA, SchemaRegistry, canonicalNames } from "./schema.js";
import { loadNpz, openNpz } from "./npz.js";
import { datasetSnapshotHash } from "./content-hash.js";
import { skipWithout } from "../../../tools/test-dependencies.js";

const fixtures = fileURLToPath(new URL("../test/fixtures/", import.meta.url));
const corpus = JSON.parse(readFileSync(join(fixtures, "expected.json"), "utf8")) as { files: Record<string, { arrays: Record<string, { le: string }> }> };
const sharedData = fileURLToPath(new URL("../../../../shared/data/", import.meta.url));
const realFile = join(sharedData, "Run1084_recon3_postPC.npz");

describe("ptycho schema", () => {
  it("resolves the 'diffraction' alias to diff3d and returns canonical keys only", () => {
    const dataset = loadDataset(join(fixtures, "ptycho-alias.npz"), { schema: "ptycho" });
    expect(Object.keys(dataset.arrays).sort()).toEqual(["diff3d", "objectGuess", "probeGuess", "xcoords", "ycoords"]);
    expect(dataset.sources.diff3d).toBe("diffraction");
    expect(dataset.arrays.diff3d!.shape).toEqual([5, 4, 4]);
    expect(dataset.arrays.diff3d!.key).toBe("diff3d");
    expect(dataset.dimensions.n).toBe(5);
  });

  it("transposes a legacy (H, W, n) diff3d and squeezes (n, H, W, 1) Y, with warnings", () => {
    const dataset = loadDataset(join(fixtures, "ptycho-legacy.npz"));
    expect(dataset.arrays.diff3d!.shape).toEqual([5, 4, 4]);
    expect(dataset.arrays.Y!.shape).toEqual([5, 4, 4]);
    expect(dataset.warnings.join("\n")).toMatch(/legacy \(H, W, n\)/);
    // Values after the transpose equal numpy's original (n, H, W) array from the alias fixture.
    const original = Buffer.from(corpus.files["ptycho-alias.npz"]!.arrays.diffraction!.le, "hex");
    const data = dataset.arrays.diff3d!.data as Float32Array;
    expect(Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(original)).toBe(true);
  });

  it("reports every violation at once", () => {
    let caught: { code?: string; violations?: { key: string; code: string }[]; message?: string } = {};
    try {
      loadDataset(join(fixtures, "ptycho-invalid.npz"));
    } catch (error) {
      caught = error as typeof caught;
    }
    expect(caught.code).toBe("E_SCHEMA_MISSING_KEY");
    const keys = caught.violations!.map((violation) => violation.key).sort();
    expect(keys).toEqual(["diff3d", "objectGuess", "probeGuess", "ycoords"]);
    expect(caught.message).toMatch(/probeGuess.*tried 'probeGuess'; available: 'diff3d', 'objectGuess', 'xcoords', 'ycoords'/);
    expect(caught.message).toMatch(/objectGuess.*complex/);
    const report = validateDataset(join(fixtures, "ptycho-invalid.npz"));
    expect(report.valid).toBe(false);
    expect(report.violations).toHaveLength(4);
  });

  it("prefers the canonical key when both it and its alias exist, and says so", () => {
    const check = PTYCHO_SCHEMA;
    const names = canonicalNames(["diffraction", "diff3d", "x"], check.name);
    expect(names.get("diff3d")).toBe("diff3d");
    expect(names.get("diffraction")).toBe("diffraction");
  });

  it("registries refuse duplicate schema names and duplicate key names", () => {
    const registry = new SchemaRegistry([PTYCHO_SCHEMA]);
    expect(() => registry.register(PTYCHO_SCHEMA)).toThrow(expect.objectContaining({ code: "E_REGISTRY_DUPLICATE" }));
    expect(() => registry.register({ name: "other", description: "", keys: [{ name: "a", required: true, kinds: ["f"] }, { name: "b", aliases: ["a"], required: false, kinds: ["f"] }] })).toThrow(/'a' twice/);
    expect(() => registry.get("nope")).toThrow(expect.objectContaining({ code: "E_SCHEMA_UNKNOWN" }));
  });
});

const noRealData = skipWithout({ name: `the real data file ${realFile}`, available: existsSync(realFile), install: "the repository's ../shared/data/ holds it (a checkout with shared/ beside it)" });

describe.skipIf(noRealData)("real reconstruction Run1084_recon3_postPC.npz", () => {
  it("loads: complex128 probe 64×64 and object, 1087 scan positions", () => {
    const arrays = loadNpz(realFile);
    expect(arrays.probeGuess!.dtype).toBe("<c16");
    expect(arrays.probeGuess!.shape).toEqual([64, 64]);
    expect(arrays.probeGuess!.data).toBeInstanceOf(Float64Array);
    expect(arrays.probeGuess!.data.length).toBe(64 * 64 * 2);
    expect(arrays.objectGuess!.shape).toEqual([227, 226]);
    for (const key of ["xcoords", "ycoords", "xcoords_start", "ycoords_start"]) expect(arrays[key]!.shape).toEqual([1087]);
    const x = arrays.xcoords!.data as Float64Array;
    expect(x.every(Number.isFinite)).toBe(true);
    expect(datasetSnapshotHash(realFile)).toMatch(/^[0-9a-f]{64}$/);
    // It has no diffraction patterns, so the ptycho contract names the missing key and the aliases tried.
    expect(() => loadDataset(realFile)).toThrow(/required key 'diff3d' is missing \(tried 'diff3d', 'diffraction'/);
  });

  it("loads every npz in ../shared/data/fixtures", () => {
    const folder = join(sharedData, "fixtures");
    for (const name of readdirSync(folder).filter((file) => file.endsWith(".npz"))) {
      const npz = openNpz(join(folder, name));
      try {
        for (const key of npz.names) {
          const array = npz.get(key);
          expect(array.shape).toEqual(npz.describe(key).shape);
        }
      } finally {
        npz.close();
      }
    }
  });
});
