import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { unzipSync, zipSync } from "fflate";
import { encodeBundle, loadBundle, writeBundle, type BundleContents } from "./bundle.js";
import { initialWeights } from "./model-description.js";
import { tinyPtychoModel } from "../test/fixtures/models.mjs";
import { exportOnnx } from "./engines/onnx/onnx-export.js";

const root = mkdtempSync(join(tmpdir(), "studykit-bundle-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let fileCount = 0;
const bundlePath = () => join(root, `bundle-${fileCount++}.zip`);

const description = tinyPtychoModel({ size: 8, channels: 1, seed: 1 });
const weights = initialWeights(description);
const base: BundleContents = { description, weights, hyperparameters: { epochs: 1 }, history: [], identity: { stage: "bundle-test" }, backend: { engine: "tfjs" } };
const failure = { code: "E_ONNX_WEIGHTS", message: "cannot export model \"tiny-ptycho\" to ONNX: unexpected weight extra/kernel" };

const memberNames = (path: string) => Object.keys(unzipSync(readFileSync(path)));

describe("bundle ONNX export record", () => {
  it("holds model.onnx and no onnx-export.json when the export was written", async () => {
    const path = bundlePath();
    const modelOnnx = exportOnnx(description, weights);
    await writeBundle(path, { ...base, modelOnnx });
    expect(memberNames(path)).toEqual(["model.json", "weights.bin", "description.json", "hyperparameters.json", "history.json", "identity.json", "backend.json", "model.onnx"]);
    const bundle = await loadBundle(path);
    expect(bundle.onnxExport).toEqual({ written: true });
    expect(Buffer.from(bundle.modelOnnx!).equals(Buffer.from(modelOnnx))).toBe(true);
  });

  it("records the export failure's code and message in onnx-export.json instead of model.onnx", async () => {
    const path = bundlePath();
    const { bundleSha256 } = await writeBundle(path, { ...base, onnxExportFailure: failure });
    const files = unzipSync(readFileSync(path));
    expect(Object.keys(files)).not.toContain("model.onnx");
    expect(JSON.parse(new TextDecoder().decode(files["onnx-export.json"]))).toEqual({ written: false, reason: failure });
    const bundle = await loadBundle(path, { expectSha256: bundleSha256 });
    expect(bundle.modelOnnx).toBeNull();
    expect(bundle.onnxExport).toEqual({ written: false, reason: failure });
  });

  it("says so when the writer passed no ONNX export at all", async () => {
    const path = bundlePath();
    await writeBundle(path, base);
    expect((await loadBundle(path)).onnxExport).toEqual({ written: false, reason: { code: "E_ONNX_NOT_GIVEN", message: expect.stringContaining("exportOnnx") } });
  });

  it("refuses both model.onnx and a failure (E_BUNDLE_INVALID)", () => {
    expect(() => encodeBundle({ ...base, modelOnnx: exportOnnx(description, weights), onnxExportFailure: failure })).toThrow(expect.objectContaining({ code: "E_BUNDLE_INVALID" }));
  });

  it("reads a bundle written before the record existed as absent with an unknown reason", async () => {
    const path = bundlePath();
    const files = unzipSync(encodeBundle(base));
    delete files["onnx-export.json"];
    writeFileSync(path, zipSync(files));
    expect((await loadBundle(path)).onnxExport).toEqual({ written: false, reason: null });
  });

  it.each([
    ["a malformed record", (files: Record<string, Uint8Array>) => void (files["onnx-export.json"] = new TextEncoder().encode('{"written":false,"reason":"?"}')), /onnx-export\.json is/],
    ["both members", (files: Record<string, Uint8Array>) => void (files["model.onnx"] = exportOnnx(description, weights)), /both model\.onnx and onnx-export\.json/],
  ])("treats %s as corrupt (E_BUNDLE_CORRUPT)", async (_, damage, message) => {
    const path = bundlePath();
    const files = unzipSync(encodeBundle({ ...base, onnxExportFailure: failure }));
    damage(files);
    writeFileSync(path, zipSync(files));
    await expect(loadBundle(path)).rejects.toMatchObject({ code: "E_BUNDLE_CORRUPT", message: expect.stringMatching(message) });
  });
});
