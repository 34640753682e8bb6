/**
 * A study killed (SIGKILL, no chance to clean up) during Phase E, through the real CLI: the study manifest
 * it leaves lists every planned phase and job, and running the same command again completes the study,
 * reusing the jobs that had finished instead of training them again. Until then, `study verify` says the
 * study has not finished rather than listing mismatches. Core's run manifest (`run-manifest.json`) records
 * each phase as a stage, and a phase reuses earlier output only through its stage's record.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { TINY_STUDY_CONFIG } from "../../study/test/tiny-study-config.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), "studykit-cli-resume-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

function startCli(args: readonly string[]): { child: ChildProcess; done: Promise<{ status: number | null; signal: NodeJS.Signals | null; output: string }> } {
  const child = spawn(process.execPath, [bin, ...args], { cwd: work, env: { ...process.env, STUDYKIT_DEBUG: "" } });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) => child.on("close", (status, signal) => resolve({ status, signal, output })));
  return { child, done };
}

interface TrainingManifest {
  state: string;
  jobs: { id: string; result: { status: string; bundleSha256: string | null } }[];
}
interface StudyManifest {
  state: string;
  runId: string | null;
  runManifest: string;
  stages: { name: string; status: string; output: string; artifacts: string[] }[];
  jobs: { id: string; status: string; bundleSha256: string | null }[];
}

/** Core's run manifest of the study (`run-manifest.json`): the contract its phases go through. */
interface RunManifest {
  runId: string | null;
  identity: { isFinal: boolean; strictKey?: string };
  stages: Record<string, { status: string; attempts: number; dependsOn: string[]; metrics: { reused?: boolean }; artifacts: Record<string, { path: string; sha256: string | null }> }>;
}
const sha256Of = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

const readJson = <T>(file: string): T | null => {
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, "utf8")) as T;
};

describe("a study killed during Phase E", { timeout: 400_000 }, () => {
  it("leaves a study manifest listing every phase and job, and a rerun completes it, reusing finished jobs", async () => {
    const config = path.join(work, "tiny.json");
    writeFileSync(config, JSON.stringify(TINY_STUDY_CONFIG));
    const out = path.join(work, "study");
    const args = ["study", "run", "--config", config, "--out", out];
    const trainingFile = path.join(out, "phaseE", "training_manifest.json");
    const studyFile = path.join(out, "study_manifest.json");

    // Kill it as soon as the training manifest records a finished job (its bundle is then in place).
    const first = startCli(args);
    let atKill: TrainingManifest | null = null;
    for (const deadline = Date.now() + 300_000; Date.now() < deadline && first.child.exitCode === null; await sleep(50)) {
      const training = readJson<TrainingManifest>(trainingFile);
      if (training?.jobs.some((job) => job.result.status === "succeeded")) {
        first.child.kill("SIGKILL");
        atKill = training;
        break;
      }
    }
    const killed = await first.done;
    expect(killed.signal, killed.output).toBe("SIGKILL");
    expect(atKill).not.toBeNull();
    const finished = atKill!.jobs.filter((job) => job.result.status === "succeeded");
    // Killed inside Phase E: some jobs had not finished.
    expect(finished.length).toBeLessThan(atKill!.jobs.length);

    const left = readJson<StudyManifest>(studyFile)!;
    expect(left.state).toBe("running");
    expect(left.runId).toBeNull();
    expect(left.stages.map((stage) => [stage.name, stage.status])).toEqual([
      ["C", "done"],
      ["D", "done"],
      ["E", "running"],
      ["F", "pending"],
      ["G", "pending"],
    ]);
    expect(left.stages.find((stage) => stage.name === "E")!.output).toBe("phaseE/training_manifest.json");
    // Every stage's artifacts were planned up front, in the study manifest and in core's run manifest.
    expect(left.runManifest).toBe("run-manifest.json");
    expect(left.stages.find((stage) => stage.name === "G")!.artifacts).toEqual(["phaseG/comparison.json", "report/report.md", "report/report.html"]);
    const runAtKill = readJson<RunManifest>(path.join(out, "run-manifest.json"))!;
    expect(runAtKill.runId).toBeNull();
    expect(runAtKill.identity.isFinal).toBe(false);
    expect(Object.entries(runAtKill.stages).map(([name, stage]) => [name, stage.status])).toEqual([
      ["C", "succeeded"],
      ["D", "succeeded"],
      ["E", "running"],
      ["F", "pending"],
      ["G", "pending"],
    ]);
    expect(runAtKill.stages.D!.dependsOn).toEqual(["C"]);
    expect(runAtKill.stages.C!.artifacts.manifest).toEqual({ path: "phaseC/phase_manifest.json", kind: "file", optional: false, sha256: sha256Of(path.join(out, "phaseC", "phase_manifest.json")), bytes: readFileSync(path.join(out, "phaseC", "phase_manifest.json")).length });
    const planned = ["dose_1000/baseline/gs1", "dose_1000/baseline/pinn-gs1", "dose_1000/dense/pinn-gs2"];
    expect(left.jobs.map((job) => job.id).sort()).toEqual(planned);
    expect(atKill!.jobs.map((job) => job.id).sort()).toEqual(planned);

    // Nothing final to verify yet: said with its own code, naming where the study stopped.
    const early = await startCli(["study", "verify", out]).done;
    expect(early.status).toBe(2);
    expect(early.output).toMatch(/^error\[E_STUDY_UNFINISHED\]: .*study_manifest\.json: the study has not finished \(phases: C done, D done, E running, F pending, G pending\)/);

    const second = await startCli(args).done;
    expect(second.status, second.output).toBe(0);
    const final = readJson<StudyManifest>(studyFile)!;
    expect(final.state).toBe("completed");
    expect(final.runId).toMatch(/^run-[0-9a-f]{32}$/);
    expect(final.stages.map((stage) => stage.status)).toEqual(["reused", "reused", "done", "done", "done"]);
    const verified = await startCli(["study", "verify", out]).done;
    expect(verified.status, verified.output).toBe(0);
    // C and D were reused because their stage records held; the run's identity is final with the study's run id.
    expect(second.output).toContain("phase C: datasets are current (1 doses), not resimulated");
    const runAfter = readJson<RunManifest>(path.join(out, "run-manifest.json"))!;
    expect(runAfter.runId).toBe(final.runId);
    expect(runAfter.identity.isFinal).toBe(true);
    expect(Object.values(runAfter.stages).map((stage) => stage.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded", "succeeded"]);
    expect(runAfter.stages.C).toMatchObject({ attempts: 2, metrics: { reused: true } });
    expect(runAfter.stages.E).toMatchObject({ attempts: 2 });
    for (const [name, stage] of Object.entries(runAfter.stages)) {
      for (const artifact of Object.values(stage.artifacts)) expect(artifact.sha256, `${name} ${artifact.path}`).toBe(sha256Of(path.join(out, artifact.path)));
    }
    const byId = new Map(final.jobs.map((job) => [job.id, job]));
    expect([...byId.keys()].sort()).toEqual(planned);
    for (const job of finished) {
      // Reused, not retrained: same bundle bytes, and the status says so.
      expect(byId.get(job.id)!.status, job.id).toBe("reused");
      expect(byId.get(job.id)!.bundleSha256, job.id).toBe(job.result.bundleSha256);
    }
    for (const id of planned.filter((id) => !finished.some((job) => job.id === id))) expect(byId.get(id)!.status, id).toBe("succeeded");

    // Reuse goes through the stage records only. A phase manifest changed after its stage recorded it (one
    // byte: its first line break made a space, the same size, the JSON still valid and current) is not
    // reused: Phase D is rebuilt.
    const phaseDFile = path.join(out, "phaseD", "phase_manifest.json");
    const phaseDText = readFileSync(phaseDFile, "utf8");
    expect(phaseDText.indexOf("\n")).toBeGreaterThan(0);
    writeFileSync(phaseDFile, phaseDText.replace("\n", " "));
    const third = await startCli(args).done;
    expect(third.status, third.output).toBe(0);
    expect(third.output).toMatch(/phase D: the run manifest's record of stage D does not hold \(phaseD\/phase_manifest\.json: SHA-256 [0-9a-f]{64} on disk, [0-9a-f]{64} recorded\)/);
    expect(third.output).toMatch(/phase D: dose 1000 dense train: \d+ of \d+ positions/);
    expect(third.output).toContain("phase C: datasets are current");
    expect(readJson<StudyManifest>(studyFile)!.runId).toBe(final.runId);
    // Without the run manifest there is no record to reuse through: Phase C simulates again (the same
    // bytes, so the jobs are reused by their identities and the run id is unchanged).
    rmSync(path.join(out, "run-manifest.json"));
    const fourth = await startCli(args).done;
    expect(fourth.status, fourth.output).toBe(0);
    expect(fourth.output).not.toContain("phase C: datasets are current");
    expect(fourth.output).toMatch(/phase C: dose 1000: \d+ patterns in/);
    const rebuilt = readJson<StudyManifest>(studyFile)!;
    expect(rebuilt.runId).toBe(final.runId);
    expect(rebuilt.jobs.every((job) => job.status === "reused")).toBe(true);
    expect(readJson<RunManifest>(path.join(out, "run-manifest.json"))!.stages.C).toMatchObject({ attempts: 1, status: "succeeded", metrics: { reused: false } });
  });
});
