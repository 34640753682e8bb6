/**
 * The BullMQ executor end to end: a real redis-server, real `studykit worker` processes, the coordinator in
 * this process. Each test uses its own queue.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildJobMatrix, createBullmqExecutor, readTrainingManifest, runStudy, runWorker, silentProgress, type StudyProgress, type TrainingManifest } from "@studykit/core";
import { freePort, hasRedisServer, startTestRedis, type TestRedis } from "./distributed-redis.js";
import { skipWithout } from "../tools/test-dependencies.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const CLI = path.join(REPO, "packages/cli/dist/bin.js");
const STUB = fileURLToPath(new URL("./distributed-stub-runner.mjs", import.meta.url));
const codeVersion = { packages: { "@studykit/core": "test" }, git: null };

// Under CI a missing redis-server is a failure (ensure-system-deps installs it); elsewhere the tests skip.
const noRedis = skipWithout({ name: "redis-server", available: hasRedisServer, install: "apt-get install -y redis-server (as root, `npm test` installs it)" });

let redis: TestRedis;
let root: string;
let workers: ChildProcess[] = [];
let queueCount = 0;
let queueName: string;

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => line.split(" ")) : []);
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const until = async (condition: () => boolean, what: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
};

function startWorker(concurrency = 2): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [CLI, "worker", "--redis", redis.url, "--queue", queueName, "--concurrency", String(concurrency), "--lock-duration", "2000", "--stalled-interval", "1000"], { stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  workers.push(child);
  return { child, output: () => output };
}

async function startWorkers(count: number): Promise<{ child: ChildProcess; output: () => string }[]> {
  const started = Array.from({ length: count }, () => startWorker());
  for (const worker of started) await until(() => worker.output().includes("ready"), "a worker to be ready");
  return started;
}

function matrix(count: number, config: Record<string, unknown>) {
  return buildJobMatrix(
    { axes: { n: Array.from({ length: count }, (_, index) => index) }, inputs: () => ({}), config: (params) => ({ ...params, calls: path.join(root, "calls.txt"), ledger: path.join(root, "ledger.txt"), ...config }) },
    { inputRoot: path.join(root, "in"), artifactRoot: path.join(root, "out") },
  );
}

// Every job once in the manifest, succeeded, with an intact bundle; no staging directory left behind.
function expectCompleteStudy(manifest: TrainingManifest, count: number): void {
  expect(manifest.state).toBe("completed");
  expect(manifest.executor).toBe("bullmq");
  expect(manifest.jobs.map((record) => record.id).sort()).toEqual(Array.from({ length: count }, (_, index) => `n_${index}`).sort());
  for (const record of manifest.jobs) {
    expect(record.result.status).toBe("succeeded");
    expect(record.result.bundleSha256).toBe(sha256(path.join(root, "out", record.artifactDir, "model.bundle")));
  }
  expect(readdirSync(path.join(root, "out/jobs")).filter((name) => name.includes(".staging-") || name.includes(".replaced-"))).toEqual([]);
}

describe.skipIf(noRedis)("bullmq executor", () => {
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.dispose();
  });
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), "studykit-distributed-"));
    queueCount += 1;
    queueName = `test-${process.pid}-${queueCount}`;
  });
  afterEach(async () => {
    for (const child of workers) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await Promise.all(workers.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((done) => child.once("exit", done)) : null)));
    workers = [];
    rmSync(root, { recursive: true, force: true });
  });

  it("runs 12 jobs across 2 worker processes, each recorded exactly once; a second run reuses them", async () => {
    await startWorkers(2);
    const executor = createBullmqExecutor({ redisUrl: redis.url, queueName });
    // Every job waits until 3 jobs have started: one worker holds at most 2 (concurrency 2), so the third
    // start is the other worker's, whichever worker is faster. Both workers take jobs, by contract.
    const spread = { delayMs: 50, barrier: 3 };
    const result = await runStudy(matrix(12, spread), { module: STUB }, { executor, progress: "silent", codeVersion });
    expectCompleteStudy(await readTrainingManifest(result.manifestPath), 12);
    const completions = lines(path.join(root, "ledger.txt"));
    expect(completions.map(([id]) => id).sort()).toEqual(result.manifest.jobs.map((record) => record.id).sort());
    // both workers ran jobs (the job process's parent is the worker)
    expect(new Set(completions.map(([, , worker]) => worker)).size).toBe(2);

    const again = await runStudy(matrix(12, spread), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: redis.url, queueName }), progress: "silent", codeVersion });
    expect(again.counts).toMatchObject({ reused: 12, succeeded: 0 });
    expect(lines(path.join(root, "calls.txt"))).toHaveLength(12);
  });

  it("a deterministic failure is not retried and its error lands in the manifest", async () => {
    await startWorkers(1);
    const result = await runStudy(matrix(2, { delayMs: 50, mode: "fail" }), { module: STUB }, { executor: "bullmq", bullmq: { redisUrl: redis.url, queueName, attempts: 3, backoffMs: 100 }, progress: "silent", codeVersion });
    expect(result.counts).toMatchObject({ failed: 2 });
    for (const record of result.manifest.jobs) expect(record.result.error).toMatchObject({ code: "E_STUB_FAILURE", message: expect.stringContaining(`deterministic failure of ${record.id}`) });
    expect(lines(path.join(root, "calls.txt"))).toHaveLength(2);
  });

  it("a job whose process dies is retried with backoff and succeeds on its second attempt", async () => {
    await startWorkers(1);
    const result = await runStudy(matrix(2, { delayMs: 50, mode: "crash-once", markers: root }), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: redis.url, queueName, attempts: 3, backoffMs: 200 }), progress: "silent", codeVersion });
    expectCompleteStudy(await readTrainingManifest(result.manifestPath), 2);
    for (const record of result.manifest.jobs) expect(record.result.attempts).toBe(2);
    expect(lines(path.join(root, "calls.txt"))).toHaveLength(4);
  });

  it("a worker killed with SIGKILL mid-job: its job is picked up by the other worker, the study completes, every job exactly once", async () => {
    const [victim] = await startWorkers(2);
    const executor = createBullmqExecutor({ redisUrl: redis.url, queueName });
    // Jobs are held until `release` exists, written after the kill: the victim cannot finish a job first.
    const release = path.join(root, "release");
    const study = runStudy(matrix(12, { delayMs: 50, release }), { module: STUB }, { executor, progress: "silent", codeVersion });
    const calls = path.join(root, "calls.txt");
    await until(() => lines(calls).some(([, , worker]) => worker === String(victim!.child.pid)), "the victim to start a job");
    victim!.child.kill("SIGKILL");
    await new Promise((done) => (victim!.child.exitCode === null && victim!.child.signalCode === null ? victim!.child.once("exit", done) : done(null)));
    const killedJobs = lines(calls).filter(([, , worker]) => worker === String(victim!.child.pid)).map(([id]) => id);
    writeFileSync(release, "");
    const result = await study;
    const manifest = await readTrainingManifest(result.manifestPath);
    expectCompleteStudy(manifest, 12);
    // the killed worker's unfinished jobs ran again elsewhere and were recorded once
    const finishedByVictim = new Set(lines(path.join(root, "ledger.txt")).filter(([, , worker]) => worker === String(victim!.child.pid)).map(([id]) => id));
    expect(finishedByVictim.size).toBe(0);
    const interrupted = killedJobs.filter((id) => !finishedByVictim.has(id));
    expect(interrupted.length).toBeGreaterThan(0);
    for (const id of interrupted) expect(lines(calls).filter(([called]) => called === id).length).toBeGreaterThanOrEqual(2);
  });

  it("cancel reaches jobs running on workers; a later run completes every job exactly once", async () => {
    await startWorkers(2);
    // n_0 finishes and triggers the cancel while the others are held until `release`, written only before
    // the later run: some jobs are running or queued when the cancel comes, whatever the machine's speed.
    const release = path.join(root, "release");
    const staggered = () =>
      buildJobMatrix(
        { axes: { n: [0, 1, 2, 3, 4, 5] }, inputs: () => ({}), config: (params) => ({ ...params, calls: path.join(root, "calls.txt"), ledger: path.join(root, "ledger.txt"), delayMs: 50, ...(params["n"] === 0 ? {} : { release }) }) },
        { inputRoot: path.join(root, "in"), artifactRoot: path.join(root, "out") },
      );
    const controller = new AbortController();
    const progress: StudyProgress = { ...silentProgress(), jobFinished: () => controller.abort() };
    const cancelled = await runStudy(staggered(), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: redis.url, queueName }), progress, signal: controller.signal, codeVersion });
    expect(cancelled.cancelled).toBe(true);
    expect(cancelled.manifest.state).toBe("cancelled");
    expect(cancelled.manifest.jobs.some((record) => record.result.error?.code === "E_CANCELLED")).toBe(true);
    expect(lines(path.join(root, "ledger.txt")).map(([id]) => id)).toEqual(["n_0"]);
    writeFileSync(release, "");
    const resumed = await runStudy(staggered(), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: redis.url, queueName }), progress: "silent", codeVersion });
    expect(resumed.manifest.state).toBe("completed");
    expect(resumed.counts.succeeded + resumed.counts.reused).toBe(6);
    expect(lines(path.join(root, "ledger.txt")).map(([id]) => id).sort()).toEqual(["n_0", "n_1", "n_2", "n_3", "n_4", "n_5"]);
  });

  it("Redis stopped and restarted mid-study: the coordinator reports the outage and the study completes", async () => {
    await startWorkers(2);
    const notices: string[] = [];
    const progress: StudyProgress = { ...silentProgress(), notice: (message) => notices.push(message) };
    const executor = createBullmqExecutor({ redisUrl: redis.url, queueName, outageTimeoutMs: 30_000 });
    // Jobs are held until `release`, written once Redis is back: the outage falls mid-study for certain.
    const release = path.join(root, "release");
    const study = runStudy(matrix(12, { delayMs: 50, release }), { module: STUB }, { executor, progress, codeVersion });
    await until(() => lines(path.join(root, "calls.txt")).length >= 2, "jobs to start");
    await redis.stop();
    await until(() => notices.some((notice) => notice.includes("unreachable")), "the outage to be reported");
    await redis.start();
    writeFileSync(release, "");
    const result = await study;
    expect(notices.find((notice) => notice.includes("unreachable"))).toContain(redis.url);
    expect(notices.some((notice) => notice.includes("reachable again"))).toBe(true);
    expectCompleteStudy(await readTrainingManifest(result.manifestPath), 12);
  });

  it("Redis that does not come back within the outage time fails the study with E_QUEUE_UNAVAILABLE, manifest intact", async () => {
    await startWorkers(1);
    const executor = createBullmqExecutor({ redisUrl: redis.url, queueName, outageTimeoutMs: 1500 });
    // Held jobs (no release is written): the study cannot finish before Redis goes away.
    const study = runStudy(matrix(6, { delayMs: 50, release: path.join(root, "never-released") }), { module: STUB }, { executor, progress: "silent", codeVersion });
    const settled = study.then(
      () => null,
      (error: unknown) => error,
    );
    await until(() => lines(path.join(root, "calls.txt")).length >= 1, "a job to start");
    await redis.stop();
    try {
      const error = await settled;
      expect(error).toMatchObject({ code: "E_QUEUE_UNAVAILABLE", message: expect.stringContaining(redis.url) });
      const manifest = await readTrainingManifest(path.join(root, "out/training_manifest.json"));
      expect(manifest.state).toBe("failed");
    } finally {
      await redis.start();
    }
  });

  it("no Redis at the URL: E_QUEUE_UNAVAILABLE naming the URL after the connect timeout, for the coordinator and the worker", async () => {
    await expect(runStudy(matrix(1, {}), { module: STUB }, { executor: "bullmq", progress: "silent", codeVersion })).rejects.toMatchObject({ code: "E_QUEUE_CONFIG" });
    const url = `redis://127.0.0.1:${await freePort()}`;
    await expect(runStudy(matrix(1, {}), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: url, connectTimeoutMs: 1000 }), progress: "silent", codeVersion })).rejects.toMatchObject({
      code: "E_QUEUE_UNAVAILABLE",
      message: expect.stringContaining(url),
    });
    await expect(runWorker({ redisUrl: url, connectTimeoutMs: 1000 })).rejects.toMatchObject({ code: "E_QUEUE_UNAVAILABLE", message: expect.stringContaining(url) });
    const cli = spawn(process.execPath, [CLI, "worker", "--redis", url], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    cli.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((done) => cli.once("exit", done));
    expect(code).toBe(2);
    expect(stderr).toContain(`error[E_QUEUE_UNAVAILABLE]`);
    expect(stderr).toContain(url);
  });
});
