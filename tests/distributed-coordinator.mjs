// A study coordinator in its own process, so a test can SIGKILL it and start another in its place.
// Usage: node distributed-coordinator.mjs <redis-url> <queue-name> <root> <job-count> <delay-ms> [<hold-dir>]
// Runs the study of `job-count` stub jobs (tests/distributed-stub-runner.mjs) with the BullMQ executor into
// <root>/out and exits 0 when the study completed, 1 otherwise. With <hold-dir>, job n_K waits until the
// file <hold-dir>/n_K exists. Coordinator events go to stderr.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildJobMatrix, runStudy, silentProgress } from "@studykit/core";

const [redisUrl, queueName, root, count, delayMs, holdDir] = process.argv.slice(2);
const stub = fileURLToPath(new URL("./distributed-stub-runner.mjs", import.meta.url));

const matrix = buildJobMatrix(
  {
    axes: { n: Array.from({ length: Number(count) }, (_, index) => index) },
    inputs: () => ({}),
    config: (params) => ({ ...params, calls: path.join(root, "calls.txt"), ledger: path.join(root, "ledger.txt"), events: path.join(root, "events.txt"), delayMs: Number(delayMs), ...(holdDir ? { release: path.join(holdDir, `n_${params.n}`) } : {}) }),
  },
  { inputRoot: path.join(root, "in"), artifactRoot: path.join(root, "out") },
);

const progress = { ...silentProgress(), notice: (message) => process.stderr.write(`coordinator: ${message}\n`) };
const result = await runStudy(matrix, { module: stub }, {
  executor: "bullmq",
  // A Redis restart takes a second or two; the outage limit only has to be longer than that.
  bullmq: { redisUrl, queueName, outageTimeoutMs: 60_000, pollIntervalMs: 200 },
  progress,
  codeVersion: { packages: { "@studykit/core": "chaos-test" }, git: null },
});
process.stderr.write(`coordinator: ${result.manifest.state}: ${JSON.stringify(result.counts)}\n`);
process.exit(result.manifest.state === "completed" ? 0 : 1);
