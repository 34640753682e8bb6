import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { detectCodeVersion } from "@studykit/core";
import { loadNpz } from "@studykit/data";
import { mergeStudyConfig, presetConfig, type StudyConfig } from "./study-config.js";
import { runPhaseC } from "./simulate-phase.js";
import { runPhaseD } from "./overlap-phase.js";
import { runPhaseF, type PhaseFManifest } from "./iterative-phase.js";

const work = mkdtempSync(path.join(tmpdir(), "studykit-phase-f-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// 16×16 patterns on a 96×96 object: the sparse view (S = 12.8 px) keeps fewer than 20 positions in either
// split and is rejected; baseline and dense are reconstructed in both splits.
const config: StudyConfig = mergeStudyConfig(presetConfig("quick"), {
  object: { source: "procedural", height: 96, width: 96 },
  probe: { size: 16 },
  scan: { count: 160 },
  doses: [1e3, 1e5],
  overlap: { minCount: 20 },
  compare: { stitchWindow: 8 },
  reconstruction: { iterations: 12 },
});
const codeVersion = detectCodeVersion({ cwd: work });

async function phases(root: string, options: { force?: boolean; config?: StudyConfig } = {}): Promise<PhaseFManifest> {
  const used = options.config ?? config;
  const phaseC = runPhaseC(used, root);
  const phaseD = runPhaseD(used, root, phaseC.manifest);
  return runPhaseF(used, root, phaseC.manifest, phaseD.manifest, { codeVersion, force: options.force ?? false });
}

const fileSha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("phase F", async () => {
  const first = path.join(work, "first");
  const manifest = await phases(first);

  it("reconstructs every dose × view × split, and records a rejected view as a skip with Phase D's reason", () => {
    expect(manifest.records.map((record) => `${record.id}:${record.status}`)).toEqual(
      ["dose_1000", "dose_100000"].flatMap((dose) => [
        `${dose}/baseline/train:succeeded`,
        `${dose}/baseline/test:succeeded`,
        `${dose}/dense/train:succeeded`,
        `${dose}/dense/test:succeeded`,
        `${dose}/sparse/train:skipped`,
        `${dose}/sparse/test:skipped`,
      ]),
    );
    const sparseTest = manifest.records.find((record) => record.id === "dose_1000/sparse/test")!;
    expect(sparseTest.reason).toMatch(/spacing threshold.*test positions/);
    expect(sparseTest.file).toBeNull();
    const denseTest = manifest.records.find((record) => record.id === "dose_1000/dense/test")!;
    expect(denseTest.input).toBe("phaseD/dose_1000/dense/dense_test.npz");
    expect(denseTest.positions).toBe(loadNpz(path.join(first, denseTest.input!))["xcoords"]!.shape[0]);
    expect(manifest.records.find((record) => record.id === "dose_1000/baseline/test")!.input).toBe("phaseC/dose_1000/patched_test.npz");
  });

  it("writes reconstruction.npz whose SHA-256 and error history the manifest records", () => {
    for (const record of manifest.records.filter((entry) => entry.status === "succeeded")) {
      expect(record.file).toBe(`phaseF/${record.id}/reconstruction.npz`);
      const file = path.join(first, record.file!);
      expect(fileSha(file), record.id).toBe(record.sha256);
      const arrays = loadNpz(file);
      expect(arrays["object"]!.shape).toEqual([96, 96]);
      expect(Array.from(arrays["fourier_error"]!.data as Float64Array)).toEqual(record.history!.fourierError);
      expect(Array.from(arrays["phase_mae"]!.data as Float64Array)).toEqual(record.history!.phaseMae);
      expect(record.history!.fourierError).toHaveLength(12);
      expect(record.wallMs).toBeGreaterThan(0);
      expect(record.parameters).toMatchObject({ algorithm: "epie", iterations: 12, seed: 0, probeUpdateFrom: null, scoreWindow: 8 });
    }
  });

  it("is physics, not a copy of the input: the test split's phase error falls with dose", () => {
    const finalPhase = (id: string) => manifest.records.find((record) => record.id === id)!.history!.phaseMae!.at(-1)!;
    expect(finalPhase("dose_100000/baseline/test")).toBeLessThan(0.6 * finalPhase("dose_1000/baseline/test"));
  });

  it("gives byte-identical files in a fresh output root, and reuses every job on rerun unless forced", async () => {
    const second = path.join(work, "second");
    const fresh = await phases(second);
    for (const record of fresh.records) {
      const before = manifest.records.find((entry) => entry.id === record.id)!;
      expect(record.status, record.id).toBe(before.status);
      expect(record.identity?.strictKey, record.id).toBe(before.identity?.strictKey);
      if (record.file === null) continue;
      expect(fileSha(path.join(second, record.file)), record.id).toBe(fileSha(path.join(first, before.file!)));
    }
    const rerun = await phases(first);
    expect(rerun.records.filter((record) => record.file !== null).every((record) => record.status === "reused")).toBe(true);
    expect(rerun.counts).toEqual({ succeeded: 0, reused: 8, skipped: 4 });
    const forced = await phases(first, { force: true });
    expect(forced.counts).toEqual({ succeeded: 8, reused: 0, skipped: 4 });
    for (const record of forced.records) expect(record.sha256).toBe(manifest.records.find((entry) => entry.id === record.id)!.sha256);
  });

  it("a damaged file or a changed iteration count is recomputed, not reused", async () => {
    const root = path.join(work, "second");
    const target = path.join(root, "phaseF/dose_1000/baseline/test/reconstruction.npz");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(target, Buffer.concat([readFileSync(target), Buffer.from([0])]));
    const repaired = await phases(root);
    expect(repaired.records.find((record) => record.id === "dose_1000/baseline/test")!.status).toBe("succeeded");
    expect(repaired.counts.reused).toBe(7);
    const longer = await phases(root, { config: mergeStudyConfig(config, { reconstruction: { iterations: 13 } }) });
    expect(longer.counts).toEqual({ succeeded: 8, reused: 0, skipped: 4 });
    const changed = longer.records.find((record) => record.id === "dose_1000/baseline/test")!;
    expect(changed.identity!.strictKey).not.toBe(manifest.records.find((record) => record.id === "dose_1000/baseline/test")!.identity!.strictKey);
    expect(changed.history!.fourierError).toHaveLength(13);
    // ePIE ignores the mini-batch size: changing it reuses every job.
    const batch = await phases(root, { config: mergeStudyConfig(config, { reconstruction: { iterations: 13, batchSize: 7 } }) });
    expect(batch.counts).toEqual({ succeeded: 0, reused: 8, skipped: 4 });
  });
});
