import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { StudyJob } from "../../../study/job-matrix.js";
import { checkArtifactRootWritable, mapJobPaths, mapPath, parsePathMapping } from "./path-mapping.js";

// Path segments without separators, dots-only names or "=" (which ends FROM in FROM=TO).
const segment = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,11}$/);
const absolute = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => `/${parts.join("/")}`);
const relative = fc.array(segment, { minLength: 0, maxLength: 4 }).map((parts) => parts.join("/"));

describe("parsePathMapping", () => {
  it("reads FROM=TO into two absolute paths", () => {
    fc.assert(
      fc.property(absolute, absolute, (from, to) => {
        expect(parsePathMapping(`${from}=${to}`)).toEqual({ from, to });
      }),
    );
    expect(parsePathMapping("/home/me/study/=/mnt/shared/study")).toEqual({ from: "/home/me/study", to: "/mnt/shared/study" });
  });

  it("refuses anything but two absolute paths with E_QUEUE_CONFIG naming the value", () => {
    for (const bad of ["/a", "=/b", "/a=", "a=/b", "/a=b", "", "/a:/b"]) {
      expect(() => parsePathMapping(bad)).toThrowError(expect.objectContaining({ code: "E_QUEUE_CONFIG", message: expect.stringContaining(JSON.stringify(bad)) }));
    }
  });
});

describe("mapPath", () => {
  it("moves every path under FROM to the same place under TO", () => {
    fc.assert(
      fc.property(absolute, absolute, relative, (from, to, rest) => {
        expect(mapPath(path.join(from, rest), [{ from, to }])).toBe(path.join(to, rest));
      }),
    );
  });

  it("leaves paths outside every FROM alone, including a FROM that is only a string prefix", () => {
    expect(mapPath("/data/study-2/jobs/a", [{ from: "/data/study", to: "/mnt/study" }])).toBe("/data/study-2/jobs/a");
    expect(mapPath("/elsewhere/x", [{ from: "/data", to: "/mnt" }])).toBe("/elsewhere/x");
    fc.assert(
      fc.property(absolute, absolute, absolute, (from, to, other) => {
        fc.pre(other !== from && !other.startsWith(`${from}/`));
        expect(mapPath(other, [{ from, to }])).toBe(other);
      }),
    );
  });

  it("uses the longest FROM that contains the path", () => {
    const mappings = [
      { from: "/data", to: "/mnt/data" },
      { from: "/data/study", to: "/scratch/study" },
    ];
    expect(mapPath("/data/study/jobs/n_0", mappings)).toBe("/scratch/study/jobs/n_0");
    expect(mapPath("/data/inputs/a.npz", mappings)).toBe("/mnt/data/inputs/a.npz");
    expect(mapPath("/data/study", [...mappings].reverse())).toBe("/scratch/study");
  });

  it("maps a job's artifact directory, log and inputs, nothing else", () => {
    const job: StudyJob = { id: "dose_1000/dense/gs2", params: { dose: 1000 }, config: { path: "/data/study/x" }, seeds: { seed: 1 }, inputs: { train: "/data/in/train.npz" }, artifactDir: "/data/study/jobs/dose_1000/dense/gs2", logPath: "/data/study/logs/dose_1000/dense/gs2.log" };
    const mapped = mapJobPaths(job, [{ from: "/data", to: "/mnt" }]);
    expect(mapped).toEqual({ ...job, inputs: { train: "/mnt/in/train.npz" }, artifactDir: "/mnt/study/jobs/dose_1000/dense/gs2", logPath: "/mnt/study/logs/dose_1000/dense/gs2.log" });
    expect(mapJobPaths(job, [])).toBe(job);
  });
});

describe("checkArtifactRootWritable", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "studykit-path-mapping-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("accepts a writable directory and leaves no probe file behind", () => {
    expect(() => checkArtifactRootWritable(dir, "/coordinator/root")).not.toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses a missing path or a file with E_QUEUE_ARTIFACT_ROOT naming it and the coordinator's path", () => {
    const missing = path.join(dir, "not-mounted");
    expect(() => checkArtifactRootWritable(missing, "/coordinator/root")).toThrowError(expect.objectContaining({ code: "E_QUEUE_ARTIFACT_ROOT", message: expect.stringMatching(new RegExp(`${missing}.*/coordinator/root.*--artifact-root`)) }));
    const file = path.join(dir, "a-file");
    writeFileSync(file, "");
    expect(() => checkArtifactRootWritable(file, file)).toThrowError(expect.objectContaining({ code: "E_QUEUE_ARTIFACT_ROOT", message: expect.stringContaining(`${file} is not a directory`) }));
  });
});
