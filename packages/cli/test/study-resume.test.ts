/**
 * A study killed (SIGKILL, no chance to clean up) during Phase E, through the real CLI: the study manifest
 * it leaves lists every planned phase and job, and running the same command again completes the study,
 * reusing the jobs that had finished instead of training them again. Until then, `study verify` says the
 * study has not finished rather than listing mismatches.
 */
import { spawn, type ChildProcess } from "node:child_process";
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
  stages: { name: string; status: string; output: string }[];
  jobs: { id: string; status: string; bundleSha256: string | null }[];
}

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
    const byId = new Map(final.jobs.map((job) => [job.id, job]));
    expect([...byId.keys()].sort()).toEqual(planned);
    for (const job of finished) {
      // Reused, not retrained: same bundle bytes, and the status says so.
      expect(byId.get(job.id)!.status, job.id).toBe("reused");
      expect(byId.get(job.id)!.bundleSha256, job.id).toBe(job.result.bundleSha256);
    }
    for (const id of planned.filter((id) => !finished.some((job) => job.id === id))) expect(byId.get(id)!.status, id).toBe("succeeded");
  });
});
