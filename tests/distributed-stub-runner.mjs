// Stub training runner for the distributed-executor tests: real file I/O, no training. Appends
// "<job id> <job pid> <worker pid> <artifact dir>" to `config.calls` when called (the artifact dir as the
// runner sees it: the staging directory) and "<job id> <job pid> <worker pid>" to `config.ledger` once its bundle is
// written; sleeps `config.delayMs` (cancellable) in between. `config.mode`: "fail" (deterministic error) or
// "crash-once" (exits on the first attempt, using marker files in `config.markers`). Two holds let a test
// decide when jobs may finish instead of racing sleeps: `config.release` (the job waits until that file
// exists) and `config.barrier` (the job waits until `config.calls` holds that many calls). With
// `config.events`, "start <job id> <worker pid>" and "done <job id> <worker pid>" also go to that one file,
// in the order they happened.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export async function runJob({ config, job, log, signal }) {
  // The worker that runs this job, read before anything can kill it: a job process whose worker is SIGKILLed
  // while it finishes is reparented, and its process.ppid then names another process.
  const worker = process.ppid;
  appendFileSync(config.calls, `${job.id} ${process.pid} ${worker} ${job.artifactDir}\n`);
  if (config.events) appendFileSync(config.events, `start ${job.id} ${worker}\n`);
  log(`stub: ${job.id} working`);
  await sleep(config.delayMs ?? 100, undefined, { signal });
  await holdUntil(() => (config.release ? existsSync(config.release) : true) && (config.barrier ? callCount(config.calls) >= config.barrier : true), config.calls, signal);
  // "crash-once": the job's process dies on its first attempt (a transient failure), then succeeds.
  const crashMarker = join(config.markers ?? "", `${job.id.replace(/\//g, "_")}.crashed`);
  if (config.mode === "crash-once" && !existsSync(crashMarker)) {
    writeFileSync(crashMarker, "");
    process.exit(5);
  }
  if (config.mode === "fail") throw Object.assign(new Error(`deterministic failure of ${job.id}`), { code: "E_STUB_FAILURE" });
  writeFileSync(join(job.artifactDir, "model.bundle"), `bundle of ${job.id}\n`);
  appendFileSync(config.ledger, `${job.id} ${process.pid} ${worker}\n`);
  if (config.events) appendFileSync(config.events, `done ${job.id} ${worker}\n`);
  return { metrics: { loss: 0.25 }, bundlePath: "model.bundle" };
}

const callCount = (calls) => (existsSync(calls) ? readFileSync(calls, "utf8").split("\n").filter(Boolean).length : 0);

/** Waits (cancellably) until `ready()`; gives up when the test's temp folder is gone (an orphaned job). */
async function holdUntil(ready, calls, signal) {
  while (!ready()) {
    if (!existsSync(dirname(calls))) throw new Error(`${dirname(calls)} was removed while the job was held`);
    await sleep(20, undefined, { signal });
  }
}
