import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createStudyProgress } from "./study-progress.js";
import type { JobResult } from "./job-runner.js";

const result = (status: JobResult["status"], error: JobResult["error"] = null): JobResult => ({
  status,
  error,
  startedAt: null,
  finishedAt: null,
  durationMs: 1250,
  metrics: null,
  bundlePath: null,
  bundleSha256: null,
  output: null,
  attempts: 1,
});

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

describe("createStudyProgress", () => {
  it("prints plain lines (counts, each start and finish with errors) when the stream is not a terminal", () => {
    const { stream, text } = capture();
    const progress = createStudyProgress({ stream });
    progress.begin({ total: 4, toRun: 2, reused: 1, skipped: 1 });
    progress.jobStarted("dose_1000/dense/gs2");
    progress.jobLog("dose_1000/dense/gs2", "epoch 1");
    progress.jobFinished("dose_1000/dense/gs2", result("succeeded"));
    progress.jobStarted("dose_1000/sparse/gs2");
    progress.jobFinished("dose_1000/sparse/gs2", result("failed", { code: "E_JOB_CRASHED", message: "the job's process exited with code 3\nmore" }));
    progress.notice("done");
    progress.end();
    expect(text()).toBe(
      [
        "study: 4 job(s): 2 to run, 1 reused, 1 skipped",
        "[0/2] started dose_1000/dense/gs2",
        "[1/2] succeeded dose_1000/dense/gs2 (1.3s)",
        "[1/2] started dose_1000/sparse/gs2",
        "[2/2] failed dose_1000/sparse/gs2 (1.3s) [E_JOB_CRASHED] the job's process exited with code 3",
        "study: done",
        "",
      ].join("\n"),
    );
  });

  it("on a terminal draws an overall bar with ETA and one line per running job, and prints finished jobs", async () => {
    const { stream, text } = capture();
    // A terminal as cli-progress sees one: isTTY plus its size; escape sequences are plain writes.
    Object.assign(stream, { isTTY: true, columns: 120, rows: 40 });
    const progress = createStudyProgress({ stream });
    progress.begin({ total: 3, toRun: 2, reused: 1, skipped: 0 });
    progress.jobStarted("dose_1000/dense/gs2");
    progress.jobLog("dose_1000/dense/gs2", "epoch 3/10 loss 0.25");
    // The bars redraw on cli-progress's own timer: wait for the redraw that shows the job's log line
    // (however long the machine takes), instead of sleeping a guessed interval.
    while (!text().includes("epoch 3/10 loss 0.25")) await new Promise((done) => setTimeout(done, 20));
    const live = text();
    expect(live).toContain("dose_1000/dense/gs2");
    expect(live).toContain("epoch 3/10 loss 0.25");
    expect(live).toMatch(/0\/2 jobs \| elapsed \S+ \| ETA/);
    progress.jobFinished("dose_1000/dense/gs2", result("succeeded"));
    progress.end();
    expect(text()).toContain("succeeded dose_1000/dense/gs2 (1.3s)");
    expect(text()).toContain("1 job(s) reused, 0 skipped");
  });

  it("silent mode prints nothing", () => {
    const { stream, text } = capture();
    const progress = createStudyProgress({ stream, mode: "silent" });
    progress.begin({ total: 1, toRun: 1, reused: 0, skipped: 0 });
    progress.jobFinished("a", result("succeeded"));
    progress.end();
    expect(text()).toBe("");
  });
});
