import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRecord, queueJobId, splitQueueJobId } from "./queue-registry.js";

describe("queue job ids", () => {
  it("split back into the study run id and the job id, whatever slashes the job id has", () => {
    const runId = fc.stringMatching(/^[a-z0-9-]{1,24}$/);
    const jobId = fc.array(fc.stringMatching(/^[A-Za-z0-9_.-]{1,10}$/), { minLength: 1, maxLength: 4 }).map((parts) => parts.join("/"));
    fc.assert(
      fc.property(runId, jobId, (study, job) => {
        expect(splitQueueJobId(queueJobId(study, job))).toEqual({ studyRunId: study, jobId: job });
      }),
    );
    // A job enqueued before ids were namespaced belongs to no study.
    expect(splitQueueJobId("n_0")).toEqual({ studyRunId: "", jobId: "n_0" });
  });
});

describe("parseRecord", () => {
  it("keeps a record with a heartbeat and drops anything else", () => {
    expect(parseRecord('{"id":"w","heartbeatAt":"2026-01-01T00:00:00.000Z"}')).toEqual({ id: "w", heartbeatAt: "2026-01-01T00:00:00.000Z" });
    for (const bad of [null, undefined, "", "not json", "42", "null", '{"id":"w"}', '{"heartbeatAt":5}']) expect(parseRecord(bad)).toBeNull();
  });
});
