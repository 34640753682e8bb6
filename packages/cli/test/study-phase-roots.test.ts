/**
 * `studykit study run --phase-c-root DIR --phase-d-root DIR`: a study reuses an earlier study's Phase C
 * data and Phase D views instead of making its own, records where they came from, and refuses (exit 2,
 * coded error naming the file) data that is missing, damaged, or was made for other inputs.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_STUDY_CONFIG } from "../../study/test/tiny-study-config.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), "studykit-cli-phase-roots-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: work, env: { ...process.env, STUDYKIT_DEBUG: "" }, timeout: 240_000 });
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

interface StudyManifest {
  runId: string;
  phases: {
    C: { reused: boolean; importedFrom: { from: string; manifestSha256: string; files: number } | null; datasetSnapshots: Record<string, string> };
    D: { reused: boolean; importedFrom: { from: string; manifestSha256: string; files: number } | null };
  };
}
const manifestOf = (root: string) => JSON.parse(readFileSync(path.join(root, "study_manifest.json"), "utf8")) as StudyManifest;

function writeConfig(name: string, overrides: Record<string, unknown> = {}): string {
  const file = path.join(work, name);
  writeFileSync(file, JSON.stringify({ ...TINY_STUDY_CONFIG, ...overrides }));
  return file;
}

const source = path.join(work, "source");
const config = writeConfig("tiny.json");

describe("studykit study run --phase-c-root / --phase-d-root", { timeout: 240_000 }, () => {
  beforeAll(() => {
    // A dry run prepares Phases C and D and trains nothing: enough data to reuse.
    const made = run("study", "run", "--config", config, "--out", source, "--dry-run");
    expect(made.status, made.stderr).toBe(0);
  }, 240_000);

  it("reuses the earlier study's data as is and records where it came from", () => {
    const target = path.join(work, "target");
    // The output root for Phase C, the phase directory itself for Phase D: both forms are accepted.
    const result = run("study", "run", "--config", config, "--out", target, "--dry-run", "--phase-c-root", source, "--phase-d-root", path.join(source, "phaseD"));
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain(`phase C: datasets are current (1 doses), not resimulated (from --phase-c-root ${path.join(source, "phaseC")})`);
    expect(result.stderr).toContain(`phase D: views are current, not rebuilt (from --phase-d-root ${path.join(source, "phaseD")})`);
    const manifest = manifestOf(target);
    expect(manifest.phases.C.importedFrom).toEqual({ from: path.join(source, "phaseC"), manifestSha256: sha256(path.join(source, "phaseC", "phase_manifest.json")), files: 2 });
    expect(manifest.phases.D.importedFrom).toMatchObject({ from: path.join(source, "phaseD"), manifestSha256: sha256(path.join(source, "phaseD", "phase_manifest.json")) });
    expect(manifest.phases.C.reused).toBe(true);
    expect(manifest.phases.D.reused).toBe(true);
    // The same bytes, so the same data identity and run id as the study that made them.
    const made = manifestOf(source);
    expect(sha256(path.join(target, "phaseC", "dose_1000", "patched_train.npz"))).toBe(sha256(path.join(source, "phaseC", "dose_1000", "patched_train.npz")));
    expect(sha256(path.join(target, "phaseD", "dose_1000", "dense", "dense_groups.json"))).toBe(sha256(path.join(source, "phaseD", "dose_1000", "dense", "dense_groups.json")));
    expect(manifest.phases.C.datasetSnapshots).toEqual(made.phases.C.datasetSnapshots);
    expect(manifest.runId).toBe(made.runId);
    expect(made.phases.C.importedFrom).toBeNull();
  });

  it("refuses a directory without a phase manifest, naming the file it looked for (E_MISSING_ARTIFACT)", () => {
    const empty = path.join(work, "empty");
    mkdirSync(empty);
    const result = run("study", "run", "--config", config, "--out", path.join(work, "t-empty"), "--dry-run", "--phase-c-root", empty);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_MISSING_ARTIFACT\]: --phase-c-root /);
    expect(result.stderr).toContain(path.join(empty, "phaseC", "phase_manifest.json"));
  });

  it("refuses a phase root missing a file its manifest lists, naming it (E_MISSING_ARTIFACT)", () => {
    const partial = path.join(work, "partial");
    cpSync(path.join(source, "phaseC"), path.join(partial, "phaseC"), { recursive: true });
    const gone = path.join(partial, "phaseC", "dose_1000", "patched_test.npz");
    unlinkSync(gone);
    const result = run("study", "run", "--config", config, "--out", path.join(work, "t-partial"), "--dry-run", "--phase-c-root", partial);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_MISSING_ARTIFACT\]: /);
    expect(result.stderr).toContain(gone);
    expect(result.stderr).not.toContain("patched_train.npz");
  });

  it("refuses Phase C data damaged since it was written, naming the file (E_PHASE_ROOT_MISMATCH)", () => {
    const damaged = path.join(work, "damaged");
    cpSync(path.join(source, "phaseC"), path.join(damaged, "phaseC"), { recursive: true });
    const file = path.join(damaged, "phaseC", "dose_1000", "patched_train.npz");
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0x01;
    writeFileSync(file, bytes);
    const result = run("study", "run", "--config", config, "--out", path.join(work, "t-damaged"), "--dry-run", "--phase-c-root", damaged);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_PHASE_ROOT_MISMATCH\]: /);
    expect(result.stderr).toContain("phaseC/dose_1000/patched_train.npz no longer holds the arrays");
    // The study records that it stopped and why, instead of staying "running".
    const left = JSON.parse(readFileSync(path.join(work, "t-damaged", "study_manifest.json"), "utf8")) as { state: string; runId: string | null; error: { code: string; message: string } };
    expect(left.state).toBe("failed");
    expect(left.runId).toBeNull();
    expect(left.error.code).toBe("E_PHASE_ROOT_MISMATCH");
    const verify = run("study", "verify", path.join(work, "t-damaged"));
    expect(verify.status).toBe(2);
    expect(verify.stderr).toMatch(/^error\[E_STUDY_UNFINISHED\]: .*the study has not finished \(phases: C running, D pending, E pending, F pending, G pending\); it stopped on error\[E_PHASE_ROOT_MISMATCH\]/);
  });

  it("refuses data made for another configuration: Phase C simulated with another seed, Phase D built with other overlap settings (E_PHASE_ROOT_MISMATCH)", () => {
    const otherSeed = run("study", "run", "--config", writeConfig("seed.json", { seed: 12345 }), "--out", path.join(work, "t-seed"), "--dry-run", "--phase-c-root", source);
    expect(otherSeed.status).toBe(2);
    expect(otherSeed.stderr).toMatch(/^error\[E_PHASE_ROOT_MISMATCH\]: --phase-c-root .*simulated for other inputs/);
    // The refused data is taken back out of --out.
    expect(existsSync(path.join(work, "t-seed", "phaseC"))).toBe(false);
    const otherOverlap = run(
      "study", "run", "--config", writeConfig("overlap.json", { overlap: { minCount: 21 } }), "--out", path.join(work, "t-overlap"), "--dry-run", "--phase-c-root", source, "--phase-d-root", source,
    );
    expect(otherOverlap.status).toBe(2);
    expect(otherOverlap.stderr).toMatch(/^error\[E_PHASE_ROOT_MISMATCH\]: --phase-d-root .*built for other inputs/m);
    // Phase C's data fitted and stays; the refused Phase D views are taken back.
    expect(existsSync(path.join(work, "t-overlap", "phaseC", "phase_manifest.json"))).toBe(true);
    expect(existsSync(path.join(work, "t-overlap", "phaseD"))).toBe(false);
  });

  it("refuses an --out that already holds other Phase C data before placing anything, and leaves it as it was", () => {
    const own = path.join(work, "t-own");
    const made = run("study", "run", "--config", writeConfig("own-seed.json", { seed: 777 }), "--out", own, "--dry-run");
    expect(made.status, made.stderr).toBe(0);
    const ownFile = path.join(own, "phaseC", "dose_1000", "patched_train.npz");
    const before = sha256(ownFile);
    const result = run("study", "run", "--config", config, "--out", own, "--dry-run", "--phase-c-root", source);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_PHASE_ROOT_MISMATCH\]: --phase-c-root .*already holds other Phase C data .*nothing was changed/);
    expect(sha256(ownFile)).toBe(before);
  });
});
