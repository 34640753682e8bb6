import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createStudyProgress } from "./progress.js";
import type { JobResult } from "./runner.js";

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

  it("silent mode prints nothing", () => {
    const { stream, text } = capture();
    const progress = createStudyProgress({ stream, mode: "silent" });
    progress.begin({ total: 1, toRun: 1, reused: 0, skipped: 0 });
    progress.jobFinished("a", result("succeeded"));
    progress.end();
    expect(text()).toBe("");
  });
});
