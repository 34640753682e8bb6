/**
 * Chaos test of the BullMQ executor, loopback only: 200 short stub jobs on 6 `studykit worker` processes
 * while a random busy worker is SIGKILLed (and replaced) every ten completed jobs, the coordinator is
 * SIGKILLed once and restarted after more jobs finished behind its back, and Redis (append-only file, fsync
 * always) is restarted once. Afterwards every job must appear exactly once in the manifest, every bundle
 * must exist and have the recorded SHA-256 (checked against a hash computed here from what the stub
 * writes), and no job may have run to completion twice, except where the worker that first completed it
 * was killed by the test before it took another job (a kill after the runner finished but before the worker
 * put the artifacts in place and recorded the completion is a legitimate rerun; a delivery the worker did
 * record is answered from that record, and a worker takes its next job only once the queue recorded the last).
 *
 * The kills and phases are triggered by how many jobs completed, never by elapsed time, and nothing is
 * asserted about timing. It took 105-122 s on this 2-core machine while other test runs loaded it (1-min
 * load 12-17); the waits allow for a slower one.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readTrainingManifest, SeededRandom } from "@studykit/core";
import { hasRedisServer, startTestRedis, type TestRedis } from "./distributed-redis.js";
import { skipWithout } from "../tools/test-dependencies.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const CLI = path.join(REPO, "packages/cli/dist/bin.js");
const COORDINATOR = fileURLToPath(new URL("./distributed-coordinator.mjs", import.meta.url));

const JOBS = 200;
const WORKERS = 6;
const JOB_DELAY_MS = 150;
/** A worker is killed each time this many more jobs completed (every second or two on an idle machine). */
const KILL_EVERY_COMPLETIONS = 10;
/** Completed jobs (ledger lines) when the coordinator is killed, and how many more finish before it restarts. */
const COORDINATOR_KILL_AT = 50;
const FINISHED_WHILE_DOWN = 20;
/** Completed jobs when Redis is restarted. */
const REDIS_RESTART_AT = 130;

const noRedis = skipWithout({ name: "redis-server", available: hasRedisServer, install: "apt-get install -y redis-server (as root, `npm test` installs it)" });

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => line.split(" ")) : []);
const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const exited = (child: ChildProcess) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((done) => child.once("exit", () => done())));

describe.skipIf(noRedis)("bullmq executor under chaos", () => {
  let redis: TestRedis;
  let root: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    root = mkdtempSync(path.join(tmpdir(), "studykit-chaos-"));
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await Promise.all(children.map(exited));
    await redis?.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it("200 jobs, workers killed, the coordinator killed and restarted, Redis restarted: every job once, every bundle verified", async () => {
    const queueName = `chaos-${process.pid}`;
    const seed = Date.now() % 1_000_000;
    // Seeded, so a failing run's kill order can be replayed from the seed it prints.
    const random = new SeededRandom(seed);
    const ledger = path.join(root, "ledger.txt");
    const calls = path.join(root, "calls.txt");
    const completed = () => new Set(lines(ledger).map(([id]) => id)).size;
    const events: string[] = [`seed ${seed}`];
    let coordinator: { child: ChildProcess; output: () => string } | null = null;
    const until = async (condition: () => boolean, what: string, timeoutMs = 300_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!condition()) {
        // A coordinator that ended on its own (not killed by the test) cannot make progress: say why.
        if (coordinator && coordinator.child.exitCode !== null) throw new Error(`the coordinator exited with ${coordinator.child.exitCode} while waiting for ${what}: ${coordinator.output()}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events: ${events.join("; ")}`);
        await sleep(50);
      }
    };

    const live = new Set<ChildProcess>();
    const killedWorkers = new Set<string>();
    const startWorker = (): ChildProcess => {
      // A long lock so a live worker on a loaded machine keeps its jobs; a killed worker's job comes back
      // after it (plus one stalled-job check).
      const child = spawn(process.execPath, [CLI, "worker", "--redis", redis.url, "--queue", queueName, "--lock-duration", "10000", "--stalled-interval", "2000", "--max-stalled", "50"], { stdio: ["ignore", "ignore", "pipe"] });
      child.stderr!.resume();
      children.push(child);
      live.add(child);
      return child;
    };
    const startCoordinator = (): { child: ChildProcess; output: () => string } => {
      const child = spawn(process.execPath, [COORDINATOR, redis.url, queueName, root, String(JOBS), String(JOB_DELAY_MS)], { stdio: ["ignore", "ignore", "pipe"] });
      let output = "";
      child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      children.push(child);
      coordinator = { child, output: () => output };
      return coordinator;
    };

    for (let index = 0; index < WORKERS; index += 1) startWorker();
    const first = startCoordinator();

    // A random worker SIGKILLed (and replaced) every KILL_EVERY_COMPLETIONS completed jobs until the study
    // is over: paced by progress, not by the clock, so a slow machine gets the same chaos per job.
    let chaos = true;
    const killer = (async () => {
      let nextKill = KILL_EVERY_COMPLETIONS;
      while (chaos) {
        await sleep(100);
        if (!chaos) break;
        if (completed() < nextKill) continue;
        nextKill += KILL_EVERY_COMPLETIONS;
        // A worker with a job in hand (started, not completed), so the kill interrupts work.
        const finishedIds = new Set(lines(ledger).map(([id]) => id));
        const busy = new Set(lines(calls).filter(([id]) => !finishedIds.has(id)).map(([, , worker]) => worker));
        const victims = [...live].filter((child) => busy.has(String(child.pid)));
        const pool = victims.length > 0 ? victims : [...live];
        const victim = pool[random.nextInt(pool.length)]!;
        live.delete(victim);
        killedWorkers.add(String(victim.pid));
        victim.kill("SIGKILL");
        events.push(`worker ${victim.pid} killed at ${completed()} completed`);
        startWorker();
      }
    })();

    try {
      await until(() => completed() >= COORDINATOR_KILL_AT, `${COORDINATOR_KILL_AT} jobs to complete`);
      coordinator = null;
      first.child.kill("SIGKILL");
      await exited(first.child);
      const atKill = completed();
      events.push(`coordinator killed at ${atKill} completed`);
      // Workers go on without a coordinator: these jobs complete in the queue but not in the manifest.
      await until(() => completed() >= atKill + FINISHED_WHILE_DOWN, "jobs to complete while the coordinator is down");
      const recordedBeforeRestart = (await readTrainingManifest(path.join(root, "out/training_manifest.json"))).jobs.filter((record) => record.result.status === "succeeded").length;
      events.push(`coordinator restarted at ${completed()} completed, ${recordedBeforeRestart} recorded`);
      const second = startCoordinator();

      await until(() => completed() >= REDIS_RESTART_AT, `${REDIS_RESTART_AT} jobs to complete`);
      await redis.stop();
      await redis.start();
      events.push(`redis restarted at ${completed()} completed`);

      await exited(second.child);
      chaos = false;
      await killer;
      expect(second.child.exitCode, `second coordinator: ${second.output()}; events: ${events.join("; ")}`).toBe(0);
      // The restart had something to resume: jobs the queue completed that the first coordinator never recorded.
      expect(recordedBeforeRestart).toBeLessThan(atKill + FINISHED_WHILE_DOWN);
    } finally {
      chaos = false;
      await killer;
    }
    expect(killedWorkers.size, events.join("; ")).toBeGreaterThanOrEqual(3);

    const manifest = await readTrainingManifest(path.join(root, "out/training_manifest.json"));
    const expectedIds = Array.from({ length: JOBS }, (_, index) => `n_${index}`).sort();
    expect(manifest.state).toBe("completed");
    // Every job exactly once in the manifest, succeeded (or reused from the first coordinator's records).
    expect(manifest.jobs.map((record) => record.id).sort()).toEqual(expectedIds);
    expect(manifest.counts.succeeded + manifest.counts.reused).toBe(JOBS);
    // Every bundle exists and has the recorded SHA-256, which is the hash of what the stub wrote.
    for (const record of manifest.jobs) {
      const bundle = path.join(root, "out", record.artifactDir, "model.bundle");
      expect(existsSync(bundle), bundle).toBe(true);
      expect(record.result.bundleSha256, record.id).toBe(sha256(`bundle of ${record.id}\n`));
      expect(sha256(readFileSync(bundle)), record.id).toBe(record.result.bundleSha256);
    }
    expect(readdirSync(path.join(root, "out/jobs")).filter((name) => name.includes(".staging-") || name.includes(".replaced-"))).toEqual([]);

    // No job ran to completion twice. A job whose runner finished on a worker that the test killed before
    // that worker took another job may rightly run again: the queue may never have heard of the first
    // completion. Any other second completion is a job run again after it completed: a rerun by the
    // restarted coordinator, or a lost lock.
    const log = lines(path.join(root, "events.txt"));
    const ranTwice: string[] = [];
    const doneAt = new Map<string, number[]>();
    log.forEach(([kind, id], index) => kind === "done" && doneAt.set(id!, [...(doneAt.get(id!) ?? []), index]));
    expect([...doneAt.keys()].sort()).toEqual(expectedIds);
    for (const [id, indices] of doneAt) {
      for (const index of indices.slice(0, -1)) {
        const worker = log[index]![2]!;
        const tookAnother = log.slice(index + 1).some(([kind, , other]) => kind === "start" && other === worker);
        if (!killedWorkers.has(worker) || tookAnother) ranTwice.push(`${id} completed by worker ${worker}${killedWorkers.has(worker) ? " (killed later, after it took another job)" : ""} and again`);
      }
    }
    expect(ranTwice, events.join("; ")).toEqual([]);
    // The kills hit running jobs, which ran again elsewhere (the chaos reached the jobs, not only idle workers).
    const started = new Map<string, number>();
    for (const [id] of lines(calls)) started.set(id!, (started.get(id!) ?? 0) + 1);
    expect([...started.values()].some((count) => count > 1), events.join("; ")).toBe(true);
  }, 900_000);
});
