/**
 * The reference study on the BullMQ executor gives the same bundles as on the local executor: the CLI
 * tests' tiny configuration (supervised and PINN jobs, one dose, one epoch) is run once with local child
 * processes and once on two `studykit worker` processes with a real redis-server, and every trained job's
 * bundle SHA-256 must be the same in both study manifests (and match its file). Training is deterministic,
 * so any difference is the executor's: a path a worker resolved differently, a config that did not travel
 * intact, a bundle promoted from the wrong staging directory.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasRedisServer, startTestRedis, type TestRedis } from "./distributed-redis.js";
import { TINY_STUDY_CONFIG } from "../packages/study/test/tiny-study-config.js";
import { skipWithout } from "../tools/test-dependencies.js";

const root = path.resolve(new URL("..", import.meta.url).pathname);
const bin = path.join(root, "packages/cli/dist/bin.js");

interface StudyManifest {
  jobs: { id: string; status: string; bundlePath: string | null; bundleSha256: string | null }[];
}

const noRedis = skipWithout({ name: "redis-server", available: hasRedisServer, install: "apt-get install -y redis-server (as root, `npm test` installs it)" });
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe.skipIf(noRedis)("the tiny study on the BullMQ executor", () => {
  let redis: TestRedis;
  const work = mkdtempSync(path.join(tmpdir(), "studykit-distributed-study-"));
  const configFile = path.join(work, "tiny.json");
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    writeFileSync(configFile, JSON.stringify(TINY_STUDY_CONFIG));
    redis = await startTestRedis();
  });
  afterAll(async () => {
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill("SIGKILL");
    await redis?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  const run = (out: string, ...flags: string[]) => {
    const result = spawnSync(process.execPath, [bin, "study", "run", "--config", configFile, "--out", out, "--json", ...flags], { encoding: "utf8", timeout: 600_000 });
    expect(result.status, `stderr:\n${result.stderr}`).toBe(0);
    return JSON.parse(readFileSync(path.join(out, "study_manifest.json"), "utf8")) as StudyManifest;
  };

  it("gives the same bundle SHA-256 for every trained job as the local executor", async () => {
    const local = run(path.join(work, "local"));
    // The test's own redis-server, so the default queue name is this study's alone.
    for (let index = 0; index < 2; index += 1) {
      const worker = spawn(process.execPath, [bin, "worker", "--redis", redis.url], { stdio: ["ignore", "ignore", "pipe"] });
      worker.stderr!.resume();
      workers.push(worker);
    }
    const distributed = await new Promise<StudyManifest>((resolve, reject) => {
      // Run asynchronously: the workers must keep running while the coordinator waits.
      const out = path.join(work, "bullmq");
      const child = spawn(process.execPath, [bin, "study", "run", "--config", configFile, "--out", out, "--json", "--executor", "bullmq", "--redis", redis.url], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(readFileSync(path.join(out, "study_manifest.json"), "utf8")) as StudyManifest) : reject(new Error(`bullmq study exited with ${code}: ${stderr}`))));
    });
    const trained = (manifest: StudyManifest) => manifest.jobs.filter((job) => job.status === "succeeded").map((job) => [job.id, job.bundleSha256] as const).sort(([a], [b]) => a.localeCompare(b));
    // Every job the tiny study plans trains (none skipped or failed), so the comparison covers them all.
    expect(local.jobs.length).toBeGreaterThanOrEqual(3);
    expect(trained(local)).toHaveLength(local.jobs.length);
    expect(trained(distributed)).toEqual(trained(local));
    for (const job of distributed.jobs.filter((record) => record.status === "succeeded")) expect(sha256(path.join(work, "bullmq", job.bundlePath!))).toBe(job.bundleSha256);
  }, 900_000);
});
