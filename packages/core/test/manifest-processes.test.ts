// Cross-process behaviour of run manifests with real processes: concurrent writers lose no update, and a
// writer SIGKILLed at random points never leaves an unreadable manifest.
import { spawn, type ChildProcess } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createRun, readRunManifest, updateRunManifest, type RunPlan } from "@studykit/core";
import { fixture, runNode, useTempDirs } from "./helpers.js";

const tempDir = useTempDirs();
const plan: RunPlan = {
  identity: { stage: "fault", config: { x: 1 }, seeds: 1, codeVersion: { packages: {}, git: null } },
  stages: [{ name: "train", artifacts: { model: "train/model.json" } }],
};
const updater = fixture("manifest-updater.mjs");

async function startedRun() {
  const root = join(await tempDir(), "run");
  const run = await createRun(root, plan);
  await run.stage("train").begin();
  return root;
}

const running = new Set<ChildProcess>();
afterEach(() => {
  for (const child of running) child.kill("SIGKILL");
});

// Starts an updater, waits until it has completed one update, kills it after a random short delay.
function killDuringUpdates(root: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [updater, root, "kill-target", "forever"], { stdio: ["pipe", "pipe", "pipe"] });
    running.add(child);
    child.on("exit", () => running.delete(child));
    let stderr = "";
    let killed = false;
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on("data", () => {
      if (killed) return;
      killed = true;
      setTimeout(() => child.kill("SIGKILL"), Math.random() * 25);
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => (signal === "SIGKILL" ? resolve() : reject(new Error(`updater exited with ${code ?? signal} before it was killed: ${stderr}`))));
  });
}

describe("run manifest across processes", () => {
  it("three processes updating one manifest lose none of each other's updates", async () => {
    const root = await startedRun();
    await Promise.all(["a", "b", "c"].map((label) => runNode(updater, [root, label, "20"])));
    const metrics = (await readRunManifest(root)).stages.train!.metrics;
    for (const label of ["a", "b", "c"]) for (let i = 0; i < 20; i++) expect(metrics[`${label}-${i}`], `${label}-${i}`).toBe(i);
  }, 60_000);

  it("a writer SIGKILLed mid-update 200 times never leaves an unreadable manifest", async () => {
    const lanes = 4; // independent runs side by side, each with its own kill loop (keeps both cores busy)
    const killsPerLane = 50;
    const roots = await Promise.all(Array.from({ length: lanes }, startedRun));
    const lastStep = roots.map(() => 0);
    let kills = 0;
    let stop = false; // once a lane fails, the others stop too, so the failure is reported cleanly
    const outcomes = await Promise.allSettled(
      roots.map(async (root, lane) => {
        for (let i = 0; i < killsPerLane && !stop; i++) {
          await killDuringUpdates(root);
          kills++;
          // Old or new, never torn: the file parses, passes the schema, and progress never goes back.
          const raw = await readFile(join(root, "run-manifest.json"), "utf8");
          expect(() => JSON.parse(raw)).not.toThrow();
          const step = (await readRunManifest(root)).stages.train!.metrics.step as number;
          expect(step).toBeGreaterThanOrEqual(lastStep[lane]!);
          lastStep[lane] = step;
        }
      }).map((lane) => lane.catch((error: unknown) => {
        stop = true;
        throw error;
      })),
    );
    const failure = outcomes.find((outcome) => outcome.status === "rejected");
    if (failure) throw failure.reason;
    expect(kills).toBeGreaterThanOrEqual(200);
    for (const root of roots) {
      // Every killed child completed at least one update before it was killed.
      expect((await readRunManifest(root)).stages.train!.metrics.step).toBeGreaterThanOrEqual(killsPerLane);
      // The next writer takes over a lock left by a killed holder and sweeps the temp files it left.
      await updateRunManifest(root, () => {});
      expect((await readdir(root)).sort()).toEqual(["run-manifest.json", "train"]);
    }
  }, 300_000);
});
