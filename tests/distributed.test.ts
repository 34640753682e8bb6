/**
 * The BullMQ executor end to end: a real redis-server, real `studykit worker` processes, the coordinator in
 * this process. Each test uses its own queue.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildJobMatrix, createBullmqExecutor, readQueueStatus, readTrainingManifest, runStudy, runWorker, silentProgress, type QueueStatus, type StudyProgress, type TrainingManifest } from "@studykit/core";
import { freePort, hasRedisServer, startTestRedis, type TestRedis } from "./distributed-redis.js";
import { skipWithout } from "../tools/test-dependencies.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const CLI = path.join(REPO, "packages/cli/dist/bin.js");
const STUB = fileURLToPath(new URL("./distributed-stub-runner.mjs", import.meta.url));
const COORDINATOR = fileURLToPath(new URL("./distributed-coordinator.mjs", import.meta.url));
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

function startWorker(concurrency = 2, extra: readonly string[] = []): { child: ChildProcess; output: () => string } {
  // A short lock by default, so a killed worker's jobs come back quickly; a later `--lock-duration` wins.
  const child = spawn(process.execPath, [CLI, "worker", "--redis", redis.url, "--queue", queueName, "--concurrency", String(concurrency), "--lock-duration", "2000", "--stalled-interval", "1000", ...extra], { stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  workers.push(child);
  return { child, output: () => output };
}

async function startWorkers(count: number, extra: readonly string[] = []): Promise<{ child: ChildProcess; output: () => string }[]> {
  const started = Array.from({ length: count }, () => startWorker(2, extra));
  for (const worker of started) await until(() => worker.output().includes("ready"), "a worker to be ready");
  return started;
}

function matrix(count: number, config: Record<string, unknown>, dir = root) {
  return buildJobMatrix(
    { axes: { n: Array.from({ length: count }, (_, index) => index) }, inputs: () => ({}), config: (params) => ({ ...params, calls: path.join(dir, "calls.txt"), ledger: path.join(dir, "ledger.txt"), ...config }) },
    { inputRoot: path.join(dir, "in"), artifactRoot: path.join(dir, "out") },
  );
}

const exited = (child: ChildProcess) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((done) => child.once("exit", () => done())));

// The study of `count` stub jobs in a coordinator process of its own (so it can be SIGKILLed); job n_K is
// held until the file <hold>/n_K exists.
function startCoordinator(count: number, hold: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [COORDINATOR, redis.url, queueName, root, String(count), "20", hold], { stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  workers.push(child);
  return { child, output: () => output };
}

function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.once("exit", (code) => done({ code, stdout, stderr })));
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

  it("a job the queue hands out again after it completed is answered from the worker's record, not run again; --force runs it anew", async () => {
    const [worker] = await startWorkers(1);
    const run = (force: boolean) => runStudy(matrix(2, { delayMs: 20 }), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: redis.url, queueName }), progress: "silent", codeVersion, force });
    await run(false);
    const calls = path.join(root, "calls.txt");
    expect(lines(calls)).toHaveLength(2);
    // What a lost completion looks like to the queue: the completed job is waiting again (a worker killed
    // after its artifacts were in place, or Redis restarting before the completion reached it).
    const { Queue } = await import("bullmq");
    const queue = new Queue(queueName, { connection: { host: "127.0.0.1", port: redis.port } });
    try {
      const [job] = await queue.getJobs(["completed"], 0, 0);
      const first = job!.returnvalue as { bundleSha256: string; finishedAt: string };
      await job!.retry("completed");
      const deadline = Date.now() + 30_000;
      while ((await queue.getJobState(job!.id!)) !== "completed") {
        if (Date.now() > deadline) throw new Error(`job ${job!.id} did not complete again: ${worker!.output()}`);
        await new Promise((done) => setTimeout(done, 25));
      }
      expect(lines(calls)).toHaveLength(2);
      expect((await queue.getJob(job!.id!))!.returnvalue).toEqual(first);
      expect(worker!.output()).toContain(`job ${job!.id} already completed by`);
    } finally {
      await queue.close();
    }
    // A forced rerun enqueues the jobs anew: the records of the earlier deliveries do not stand in for it.
    const forced = await run(true);
    expect(forced.counts).toMatchObject({ succeeded: 2, reused: 0 });
    expect(lines(calls)).toHaveLength(4);
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

  it("Redis that does not come back within the outage time fails the study with E_QUEUE_UNAVAILABLE, manifest intact; a rerun resumes without running a job twice", async () => {
    // A lock longer than the outage: the worker keeps its running jobs while Redis is away.
    await startWorkers(1, ["--lock-duration", "60000"]);
    const executor = createBullmqExecutor({ redisUrl: redis.url, queueName, outageTimeoutMs: 1500 });
    // Held jobs: the study cannot finish before Redis goes away.
    const release = path.join(root, "release");
    const study = runStudy(matrix(6, { delayMs: 50, release }), { module: STUB }, { executor, progress: "silent", codeVersion });
    const settled = study.then(
      () => null,
      (error: unknown) => error,
    );
    await until(() => lines(path.join(root, "calls.txt")).length >= 2, "jobs to start");
    await redis.stop();
    try {
      const error = await settled;
      expect(error).toMatchObject({ code: "E_QUEUE_UNAVAILABLE", message: expect.stringContaining(redis.url) });
      const manifest = await readTrainingManifest(path.join(root, "out/training_manifest.json"));
      expect(manifest.state).toBe("failed");
    } finally {
      await redis.start();
    }
    // The rerun follows the two jobs still running on the worker and leaves the queued ones in place.
    const rerun = runStudy(matrix(6, { delayMs: 50, release }), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: redis.url, queueName }), progress: "silent", codeVersion });
    writeFileSync(release, "");
    const result = await rerun;
    expectCompleteStudy(await readTrainingManifest(result.manifestPath), 6);
    const calls = lines(path.join(root, "calls.txt")).map(([id]) => id).sort();
    expect(calls).toEqual(["n_0", "n_1", "n_2", "n_3", "n_4", "n_5"]);
    expect(lines(path.join(root, "ledger.txt")).map(([id]) => id).sort()).toEqual(calls);
  });

  it("a coordinator killed and restarted takes the jobs completed meanwhile as they are and follows the running ones: every job runs once", async () => {
    await startWorkers(1, ["--lock-duration", "60000"]);
    const hold = path.join(root, "hold");
    mkdirSync(hold);
    const calls = path.join(root, "calls.txt");
    const ledger = path.join(root, "ledger.txt");
    const first = startCoordinator(4, hold);
    await until(() => lines(calls).length >= 2, "two jobs to start");
    first.child.kill("SIGKILL");
    await exited(first.child);
    // With no coordinator: the two running jobs complete, and the worker starts the other two.
    const firstTwo = lines(calls).map(([id]) => id!);
    for (const id of firstTwo) writeFileSync(path.join(hold, id), "");
    await until(() => lines(ledger).length >= 2 && lines(calls).length >= 4, "the first jobs to complete and the others to start");
    const second = startCoordinator(4, hold);
    const lastTwo = lines(calls).map(([id]) => id!).filter((id) => !firstTwo.includes(id));
    // The new coordinator follows the running jobs (it marks them running in its manifest) before they may finish.
    const manifestPath = path.join(root, "out/training_manifest.json");
    const followed = async () => {
      try {
        const manifest = await readTrainingManifest(manifestPath);
        return lastTwo.every((id) => manifest.jobs.find((record) => record.id === id)?.result.status === "running");
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 30_000;
    while (!(await followed())) {
      if (Date.now() > deadline || second.child.exitCode !== null) throw new Error(`the restarted coordinator did not follow ${lastTwo.join(", ")}: ${second.output()}`);
      await new Promise((done) => setTimeout(done, 25));
    }
    for (const id of lastTwo) writeFileSync(path.join(hold, id), "");
    await exited(second.child);
    expect(second.child.exitCode, second.output()).toBe(0);
    expectCompleteStudy(await readTrainingManifest(manifestPath), 4);
    expect(lines(calls).map(([id]) => id).sort()).toEqual(["n_0", "n_1", "n_2", "n_3"]);
    expect(lines(ledger).map(([id]) => id).sort()).toEqual(["n_0", "n_1", "n_2", "n_3"]);
  });

  it("two studies with the same job ids share one queue; cancelling one leaves the other alone", async () => {
    await startWorkers(2);
    const dirA = path.join(root, "a");
    const dirB = path.join(root, "b");
    // Study A's jobs are held and A is cancelled once one of them runs; B's run through.
    const cancelA = new AbortController();
    const studyA = runStudy(matrix(4, { delayMs: 50, release: path.join(root, "never-released") }, dirA), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: redis.url, queueName }), progress: "silent", signal: cancelA.signal, codeVersion });
    await until(() => lines(path.join(dirA, "calls.txt")).length >= 1, "a job of study A to start");
    const studyB = runStudy(matrix(4, { delayMs: 50 }, dirB), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: redis.url, queueName }), progress: "silent", codeVersion });
    cancelA.abort();
    const [a, b] = await Promise.all([studyA, studyB]);
    expect(a.cancelled).toBe(true);
    expect(lines(path.join(dirA, "ledger.txt"))).toEqual([]);
    expect(b.manifest.state).toBe("completed");
    expect(b.manifest.jobs.map((record) => [record.id, record.result.status])).toEqual(["n_0", "n_1", "n_2", "n_3"].map((id) => [id, "succeeded"]));
    for (const record of b.manifest.jobs) expect(record.result.bundleSha256).toBe(sha256(path.join(dirB, "out", record.artifactDir, "model.bundle")));
    expect(lines(path.join(dirB, "ledger.txt")).map(([id]) => id).sort()).toEqual(["n_0", "n_1", "n_2", "n_3"]);
  });

  it("a worker that sees the artifact root elsewhere (--artifact-root) writes the coordinator's files; each bundle is verified on arrival", async () => {
    mkdirSync(path.join(root, "out"));
    const mounted = path.join(root, "mounted-out");
    symlinkSync(path.join(root, "out"), mounted);
    await startWorkers(1, ["--artifact-root", mounted]);
    const result = await runStudy(matrix(3, { delayMs: 20 }), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: redis.url, queueName }), progress: "silent", codeVersion });
    expectCompleteStudy(await readTrainingManifest(result.manifestPath), 3);
    // The runner worked under the worker's path, not the coordinator's.
    for (const [, , , artifactDir] of lines(path.join(root, "calls.txt"))) expect(artifactDir!.startsWith(path.join(mounted, "jobs") + path.sep)).toBe(true);
  });

  it("a worker that cannot see the artifact root fails its first job with E_QUEUE_ARTIFACT_ROOT naming the path, and stops", async () => {
    const missing = path.join(root, "not-mounted");
    const [worker] = await startWorkers(1, ["--artifact-root", missing]);
    const result = await runStudy(matrix(1, { delayMs: 20 }), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: redis.url, queueName }), progress: "silent", codeVersion });
    expect(result.manifest.jobs[0]!.result.error).toMatchObject({ code: "E_QUEUE_ARTIFACT_ROOT", message: expect.stringContaining(missing) });
    await exited(worker!.child);
    expect(worker!.child.exitCode).toBe(2);
    expect(worker!.output()).toContain("error[E_QUEUE_ARTIFACT_ROOT]");
    expect(lines(path.join(root, "calls.txt"))).toEqual([]);
  });

  it("a bundle the coordinator cannot find (the worker wrote to another file system) fails the job with E_QUEUE_BUNDLE_MISMATCH", async () => {
    const elsewhere = path.join(root, "not-shared");
    mkdirSync(elsewhere);
    await startWorkers(1, ["--artifact-root", elsewhere]);
    const result = await runStudy(matrix(2, { delayMs: 20 }), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: redis.url, queueName }), progress: "silent", codeVersion });
    expect(result.manifest.state).toBe("failed");
    for (const record of result.manifest.jobs) {
      expect(record.result.error).toMatchObject({ code: "E_QUEUE_BUNDLE_MISMATCH", message: expect.stringContaining(path.join(root, "out", record.artifactDir, "model.bundle")) });
      expect(existsSync(path.join(elsewhere, record.artifactDir, "model.bundle"))).toBe(true);
    }
  });

  it("studykit queue status shows the study, its jobs by state, the worker with its jobs, and stalled jobs once the worker is killed", async () => {
    const [victim] = await startWorkers(1);
    const release = path.join(root, "release");
    const study = runStudy(matrix(3, { delayMs: 20, release }), { module: STUB }, { executor: createBullmqExecutor({ redisUrl: redis.url, queueName }), progress: "silent", codeVersion });
    await until(() => lines(path.join(root, "calls.txt")).length >= 2, "two jobs to start");
    const shown = await cli(["queue", "status", "--redis", redis.url, "--queue", queueName, "--json"]);
    expect(shown.code, shown.stderr).toBe(0);
    const status = JSON.parse(shown.stdout) as QueueStatus;
    expect(status.studies).toHaveLength(1);
    const [studyStatus] = status.studies;
    expect(studyStatus).toMatchObject({ artifactRoot: path.join(root, "out"), state: "running", coordinatorLost: false, jobs: { active: 2, waiting: 1, completed: 0 } });
    expect(status.workers).toHaveLength(1);
    expect(status.workers[0]).toMatchObject({ pid: victim!.child.pid, concurrency: 2, lost: false });
    const running = lines(path.join(root, "calls.txt")).map(([id]) => `${studyStatus!.runId}/${id}`).sort();
    expect(status.workers[0]!.jobs.map((job) => job.id).sort()).toEqual(running);
    expect(status.stalled).toEqual([]);

    // Killed with no other worker to take its jobs over: they stay active with expired locks.
    victim!.child.kill("SIGKILL");
    await exited(victim!.child);
    let stalled: QueueStatus["stalled"] = [];
    const poll = setInterval(() => void readQueueStatus({ redisUrl: redis.url, queueName }).then((value) => (stalled = value.stalled)), 200);
    try {
      await until(() => stalled.length === 2, "the killed worker's jobs to show as stalled");
    } finally {
      clearInterval(poll);
    }
    expect(stalled.map((job) => job.id).sort()).toEqual(running);
    const text = await cli(["queue", "status", "--redis", redis.url, "--queue", queueName]);
    expect(text.stdout).toContain(`stalled jobs (2): `);
    expect(text.stdout).toContain(studyStatus!.runId);

    writeFileSync(release, "");
    await startWorkers(1);
    expectCompleteStudy(await readTrainingManifest((await study).manifestPath), 3);
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
