import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readPhaseManifest, readPhaseManifestFile } from "./phase-manifest-file.js";

const dir = mkdtempSync(path.join(tmpdir(), "studykit-phase-manifest-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const target = path.join(dir, name);
  writeFileSync(target, text);
  return target;
}

describe("readPhaseManifestFile", () => {
  it("accepts only an object naming the expected phase and format version", () => {
    const good = file("good.json", JSON.stringify({ formatVersion: 3, phase: "D", views: [] }));
    const read = readPhaseManifestFile(good, "D", 3);
    expect(read).toMatchObject({ ok: true, manifest: { formatVersion: 3, phase: "D", views: [] } });
    expect(read.ok && read.bytes.toString("utf8")).toBe(JSON.stringify({ formatVersion: 3, phase: "D", views: [] }));
    expect(readPhaseManifest(good, "D", 3)).toEqual({ formatVersion: 3, phase: "D", views: [] });
  });

  it("says why anything else does not count: missing, bad JSON, another phase, another format, not an object", () => {
    expect(readPhaseManifestFile(path.join(dir, "absent.json"), "C", 1)).toMatchObject({ ok: false, reason: "missing" });
    expect(readPhaseManifestFile(file("torn.json", '{"formatVersion": 1, "pha'), "C", 1)).toMatchObject({ ok: false, reason: "invalid", detail: expect.stringMatching(/^not valid JSON/) });
    expect(readPhaseManifestFile(file("other-phase.json", JSON.stringify({ formatVersion: 1, phase: "D" })), "C", 1)).toEqual({
      ok: false,
      reason: "invalid",
      detail: 'not a Phase C manifest of format 1 (phase "D", formatVersion 1)',
    });
    expect(readPhaseManifestFile(file("old.json", JSON.stringify({ formatVersion: 2, phase: "D" })), "D", 3)).toMatchObject({ ok: false, detail: 'not a Phase D manifest of format 3 (phase "D", formatVersion 2)' });
    expect(readPhaseManifestFile(file("array.json", "[1]"), "F", 1)).toMatchObject({ ok: false, detail: "not a Phase F manifest of format 1 (phase null, formatVersion null)" });
    expect(readPhaseManifest(file("null.json", "null"), "F", 1)).toBeNull();
  });
});
