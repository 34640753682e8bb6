// Stub training runner for the distributed-executor tests: real file I/O, no training. Appends
// "<job id> <job pid> <worker pid>" to `config.calls` when called and to `config.ledger` once its bundle is
// written; sleeps `config.delayMs` (cancellable) in between. `config.mode`: "fail" (deterministic error) or
// "crash-once" (exits on the first attempt, using marker files in `config.markers`).
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export async function runJob({ config, job, log, signal }) {
  appendFileSync(config.calls, `${job.id} ${process.pid} ${process.ppid}\n`);
  log(`stub: ${job.id} working`);
  await sleep(config.delayMs ?? 100, undefined, { signal });
  // "crash-once": the job's process dies on its first attempt (a transient failure), then succeeds.
  const crashMarker = join(config.markers ?? "", `${job.id.replace(/\//g, "_")}.crashed`);
  if (config.mode === "crash-once" && !existsSync(crashMarker)) {
    writeFileSync(crashMarker, "");
    process.exit(5);
  }
  if (config.mode === "fail") throw Object.assign(new Error(`deterministic failure of ${job.id}`), { code: "E_STUB_FAILURE" });
  writeFileSync(join(job.artifactDir, "model.bundle"), `bundle of ${job.id}\n`);
  appendFileSync(config.ledger, `${job.id} ${process.pid} ${process.ppid}\n`);
  return { metrics: { loss: 0.25 }, bundlePath: "model.bundle" };
}
