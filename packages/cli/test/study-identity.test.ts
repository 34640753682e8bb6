/**
 * Identities carried end to end, through the real CLI on a tiny study:
 * - one job followed from the plan to its bundle: the bundle's `identity.json` is the job's final identity,
 *   with the run id and strict key that `training_manifest.json` and `study_manifest.json` record;
 * - the same study written inside a git checkout and outside any gives the same run id and the same bundle
 *   bytes: the output directory's repository is recorded beside the run, never in its identity.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBundle } from "@studykit/trainer";
import { TINY_STUDY_CONFIG } from "../../study/test/tiny-study-config.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), "studykit-cli-identity-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the CLI as a child process; resolves with its exit code and output. */
function runCli(args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: work, env: { ...process.env, STUDYKIT_DEBUG: "" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

interface IdentityRecord {
  strictKey: string;
  runId: string;
  fields: Record<string, unknown>;
}
interface TrainingManifest {
  outputRepository: { commit: string; dirty: boolean } | null;
  jobs: { id: string; artifactDir: string; identity: IdentityRecord | null; result: { status: string; bundlePath: string | null; bundleSha256: string | null } }[];
}
interface StudyManifest {
  runId: string;
  jobs: { id: string; runId: string | null; strictKey: string | null; bundlePath: string | null; bundleSha256: string | null }[];
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, "utf8")) as T;

const insideRepo = path.join(work, "repo");
const outside = path.join(work, "plain");

describe("study identities through the CLI", { timeout: 300_000 }, () => {
  beforeAll(async () => {
    const config = path.join(work, "tiny.json");
    writeFileSync(config, JSON.stringify(TINY_STUDY_CONFIG));
    mkdirSync(insideRepo);
    mkdirSync(outside);
    const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=studykit-test", "-c", "user.email=test@example.invalid", ...args], { cwd: insideRepo, stdio: "ignore" });
    git("init", "-q");
    git("commit", "-q", "--allow-empty", "-m", "a checkout the study writes into");
    // Both at once, so both capture the same code version of this checkout (other commits may land later).
    const [inRepo, plain] = await Promise.all([
      runCli(["study", "run", "--config", config, "--out", path.join(insideRepo, "study")]),
      runCli(["study", "run", "--config", config, "--out", path.join(outside, "study")]),
    ]);
    expect(inRepo.status, inRepo.stderr).toBe(0);
    expect(plain.status, plain.stderr).toBe(0);
  }, 300_000);

  it("a bundle's identity.json is its job's final identity, with the run id and strict key both manifests record", async () => {
    const root = path.join(outside, "study");
    const training = readJson<TrainingManifest>(path.join(root, "phaseE", "training_manifest.json"));
    const study = readJson<StudyManifest>(path.join(root, "study_manifest.json"));
    const trained = training.jobs.filter((job) => job.result.status === "succeeded");
    expect(trained.length).toBe(3);
    for (const job of trained) {
      const bundle = await loadBundle(path.join(root, "phaseE", job.artifactDir, job.result.bundlePath!), { expectSha256: job.result.bundleSha256! });
      const identity = bundle.identity as Record<string, unknown>;
      expect(identity["isFinal"], job.id).toBe(true);
      expect(identity["runId"], job.id).toBe(job.identity!.runId);
      expect(identity["strictKey"], job.id).toBe(job.identity!.strictKey);
      // Every field, the code version captured at the study's start included, is the manifest's.
      expect(identity).toEqual({ ...job.identity!.fields, runId: job.identity!.runId });
      const record = study.jobs.find((entry) => entry.id === job.id)!;
      expect(record.runId).toBe(identity["runId"]);
      expect(record.strictKey).toBe(identity["strictKey"]);
    }
    // `study verify` now compares each bundle's strict key and run id instead of noting partial identities.
    const verified = await runCli(["study", "verify", root]);
    expect(verified.status, verified.stderr).toBe(0);
    expect(verified.stdout).not.toContain("partial identity");
  });

  it("gives the same run id and bundle hashes with --out inside a git checkout and outside any", () => {
    const inRepo = readJson<StudyManifest>(path.join(insideRepo, "study", "study_manifest.json"));
    const plain = readJson<StudyManifest>(path.join(outside, "study", "study_manifest.json"));
    expect(inRepo.runId).toMatch(/^run-[0-9a-f]{32}$/);
    expect(plain.runId).toBe(inRepo.runId);
    const hashes = (manifest: StudyManifest) => manifest.jobs.map((job) => [job.id, job.runId, job.bundleSha256]);
    expect(hashes(plain)).toEqual(hashes(inRepo));
    expect(inRepo.jobs.every((job) => job.bundleSha256 !== null)).toBe(true);
    // The output's repository is recorded beside the run (informational), and only for the one inside.
    const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: insideRepo, encoding: "utf8" }).trim();
    expect(readJson<TrainingManifest>(path.join(insideRepo, "study", "phaseE", "training_manifest.json")).outputRepository?.commit).toBe(head);
    expect(readJson<TrainingManifest>(path.join(outside, "study", "phaseE", "training_manifest.json")).outputRepository).toBeNull();
  });
});
