import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JobResult } from "../../../study/job-runner.js";
import { completionRecordPath, readCompletionRecord, writeCompletionRecord } from "./completion-record.js";

// SHA-256 of the bytes "bundle\n" (sha256sum).
const BUNDLE_SHA = "ef17b7d320f2acc023f2018dab381827ba22f9d01b6c4c97894e1bbfe4928313";

describe("completion records", () => {
  let root: string;
  let artifactDir: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), "studykit-completion-"));
    artifactDir = path.join(root, "jobs/a");
    mkdirSync(artifactDir, { recursive: true });
    writeFileSync(path.join(artifactDir, "model.bundle"), "bundle\n");
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const result = (): JobResult => ({ status: "succeeded", error: null, startedAt: "2026-12-06T00:00:00.000Z", finishedAt: "2026-12-06T00:00:01.000Z", durationMs: 1000, metrics: { loss: 0.25 }, bundlePath: "model.bundle", bundleSha256: BUNDLE_SHA, output: null, attempts: 1 });

  it("gives back the recorded result for the same delivery only, while the bundle is unchanged", async () => {
    const file = completionRecordPath(root, "study-1/jobs/a");
    expect(path.dirname(file)).toBe(path.join(root, ".studykit-queue"));
    expect(await readCompletionRecord(file, "study-1/jobs/a", "e1", artifactDir)).toBeNull();
    writeCompletionRecord(file, { queueId: "study-1/jobs/a", enqueueId: "e1", worker: "host/1", result: result() });
    expect(await readCompletionRecord(file, "study-1/jobs/a", "e1", artifactDir)).toEqual({ result: result(), worker: "host/1" });
    // another enqueueing of the job (a forced rerun) is not answered by the record
    expect(await readCompletionRecord(file, "study-1/jobs/a", "e2", artifactDir)).toBeNull();
    // a bundle changed since, or gone, makes the record void
    writeFileSync(path.join(artifactDir, "model.bundle"), "bundle!\n");
    expect(await readCompletionRecord(file, "study-1/jobs/a", "e1", artifactDir)).toBeNull();
    rmSync(path.join(artifactDir, "model.bundle"));
    expect(await readCompletionRecord(file, "study-1/jobs/a", "e1", artifactDir)).toBeNull();
  });

  it("ignores an unreadable record instead of failing the job", async () => {
    const file = completionRecordPath(root, "q");
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "{ not json");
    expect(await readCompletionRecord(file, "q", "e1", artifactDir)).toBeNull();
    // different queue ids get different files
    expect(completionRecordPath(root, "q")).not.toBe(completionRecordPath(root, "q2"));
  });
});
