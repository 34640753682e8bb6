/**
 * `studykit study verify DIR` on a real tiny study: a fresh run verifies (exit 0, summary); one flipped
 * byte in one bundle, a deleted reconstruction, or a bundle swapped for another job's (with the recorded
 * hashes updated so only its identity gives it away) each exit 2 with `error[E_STUDY_VERIFY]` naming the
 * file, and the expected and found SHA-256 where a hash differs.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_STUDY_CONFIG } from "../../study/test/tiny-study-config.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), "studykit-cli-verify-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: work, env: { ...process.env, STUDYKIT_DEBUG: "" }, timeout: 240_000 });
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

const tiny = TINY_STUDY_CONFIG;
const study = path.join(work, "study");

interface ManifestJob {
  id: string;
  bundlePath: string | null;
  bundleSha256: string | null;
}

/** A fresh copy of the study to damage. */
function copyOfStudy(name: string): string {
  const copy = path.join(work, name);
  cpSync(study, copy, { recursive: true });
  return copy;
}

/** Changes one bit of the file's middle byte (same size, other content). */
function flipMiddleByte(file: string): void {
  const bytes = readFileSync(file);
  bytes[bytes.length >> 1] ^= 0x01;
  writeFileSync(file, bytes);
}

function jobsOf(root: string): ManifestJob[] {
  return (JSON.parse(readFileSync(path.join(root, "study_manifest.json"), "utf8")) as { jobs: ManifestJob[] }).jobs;
}

describe("studykit study verify", { timeout: 240_000 }, () => {
  beforeAll(() => {
    const config = path.join(work, "tiny.json");
    writeFileSync(config, JSON.stringify(tiny));
    const result = run("study", "run", "--config", config, "--out", study);
    expect(result.status, result.stderr).toBe(0);
  }, 240_000);

  it("passes on a fresh run with a summary (exit 0)", () => {
    const result = run("study", "verify", study);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^study run-[0-9a-f]{32} verified: \d+ files re-hashed, \d+ checks, 0 mismatches/);
    // Bundles carry their job's final identity, so their strict keys and run ids were compared, not skipped.
    expect(result.stdout).not.toContain("partial identity");
    const json = run("study", "verify", study, "--json");
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { ok: boolean; problems: unknown[]; filesHashed: number };
    expect(report.ok).toBe(true);
    expect(report.problems).toEqual([]);
    // 2 Phase C npz + Phase D view npz and groups + 3 job inputs + 3 bundles + 4 reconstructions at least.
    expect(report.filesHashed).toBeGreaterThanOrEqual(13);
  });

  it("fails (exit 2) naming the bundle, expected and found SHA-256, after one byte of it changes", () => {
    const copy = copyOfStudy("flipped");
    const job = jobsOf(copy).find((entry) => entry.bundlePath !== null)!;
    const bundle = path.join(copy, job.bundlePath!);
    flipMiddleByte(bundle);
    const result = run("study", "verify", copy);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_STUDY_VERIFY\]: .*1 mismatch\b/);
    expect(result.stderr).toContain(`${job.bundlePath}: sha256 differs: expected ${job.bundleSha256}, found ${sha256(bundle)}`);
    const json = run("study", "verify", copy, "--json");
    expect(json.status).toBe(2);
    const report = JSON.parse(json.stdout) as { ok: boolean; problems: { kind: string; file: string; expected: string; actual: string }[] };
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ kind: "hash-mismatch", file: job.bundlePath, expected: job.bundleSha256, actual: sha256(bundle) })]);
  });

  it("fails (exit 2) naming every deleted artifact", () => {
    const copy = copyOfStudy("deleted");
    unlinkSync(path.join(copy, "phaseF/dose_1000/dense/test/reconstruction.npz"));
    unlinkSync(path.join(copy, "phaseC/dose_1000/patched_test.npz"));
    const result = run("study", "verify", copy);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_STUDY_VERIFY\]: .*2 mismatches/);
    expect(result.stderr).toContain("phaseF/dose_1000/dense/test/reconstruction.npz: is missing");
    expect(result.stderr).toContain("phaseC/dose_1000/patched_test.npz: is missing");
  });

  it("fails (exit 2) naming the report after one byte of it changes: run-manifest.json records every stage's files", () => {
    const copy = copyOfStudy("report-edited");
    const report = path.join(copy, "report", "report.md");
    const before = sha256(report);
    flipMiddleByte(report);
    const result = run("study", "verify", copy);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_STUDY_VERIFY\]: .*1 mismatch\b/);
    expect(result.stderr).toContain(`report/report.md: SHA-256 (stage G, artifact report) differs: expected ${before}, found ${sha256(report)} (recorded in run-manifest.json)`);
  });

  it("fails when a bundle is another job's, even with the recorded hashes updated to match", () => {
    const copy = copyOfStudy("swapped");
    const jobs = jobsOf(copy);
    const baseline = jobs.find((entry) => entry.id.includes("/baseline/") && entry.bundlePath !== null)!;
    const dense = jobs.find((entry) => entry.id.includes("/dense/") && entry.bundlePath !== null)!;
    cpSync(path.join(copy, baseline.bundlePath!), path.join(copy, dense.bundlePath!));
    // Rewrite both manifests' record of the dense bundle's hash, as someone covering the swap would.
    for (const manifest of ["study_manifest.json", "phaseE/training_manifest.json"]) {
      const file = path.join(copy, manifest);
      writeFileSync(file, readFileSync(file, "utf8").split(dense.bundleSha256!).join(baseline.bundleSha256!));
    }
    const result = run("study", "verify", copy);
    expect(result.status).toBe(2);
    // The bundle carries the baseline job's final identity: its strict key and run id are not the dense job's.
    expect(result.stderr).toContain(`${dense.bundlePath}: identity.json strictKey differs`);
    expect(result.stderr).toContain(`${dense.bundlePath}: identity.json runId differs`);
    expect(result.stderr).not.toContain("sha256 differs");
  });

  it("refuses a directory without a study manifest (exit 2, E_MISSING_ARTIFACT)", () => {
    const result = run("study", "verify", work);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_MISSING_ARTIFACT\]: .*study_manifest\.json does not exist/);
  });
});
