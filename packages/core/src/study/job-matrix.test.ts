import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildJobMatrix, type JobMatrixSpec } from "./job-matrix.js";
import { compileJobIdGlob } from "../internal/study/job-id-glob.js";

// The reference study's shape: dose × view, gridsize derived from the view, inputs from phases C and D.
const ptychoSpec: JobMatrixSpec = {
  axes: { dose: [1e3, 1e4, 1e5], view: ["baseline", "dense", "sparse"] },
  rules: [(params) => ({ gridsize: params["view"] === "baseline" ? 1 : 2 })],
  id: (params) => `dose_${params["dose"]}/${params["view"]}/gs${params["gridsize"]}`,
  inputs: (params) => ({
    train: params["view"] === "baseline" ? `phaseC/dose_${params["dose"]}/patched_train.npz` : `phaseD/dose_${params["dose"]}/${params["view"]}/${params["view"]}_train.npz`,
  }),
  explainMissing: (params) => `overlap view ${params["view"]} was rejected by the spacing threshold, so its files were never written`,
};

let root: string;
let inputRoot: string;
let artifactRoot: string;

function touch(relative: string): void {
  const file = path.join(inputRoot, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, relative);
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "studykit-matrix-"));
  inputRoot = path.join(root, "in");
  artifactRoot = path.join(root, "out");
  for (const dose of [1000, 10000, 100000]) {
    touch(`phaseC/dose_${dose}/patched_train.npz`);
    touch(`phaseD/dose_${dose}/dense/dense_train.npz`);
    // sparse exists only at the highest dose: the spacing threshold rejected it elsewhere
    if (dose === 100000) touch(`phaseD/dose_${dose}/sparse/sparse_train.npz`);
  }
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("buildJobMatrix", () => {
  it("expands axes in order with derived parameters, deterministic ids and paths", () => {
    const matrix = buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot, strict: false });
    expect(matrix.totalJobs).toBe(9);
    expect(matrix.jobs.map((job) => job.id)).toEqual([
      "dose_1000/baseline/gs1",
      "dose_1000/dense/gs2",
      "dose_10000/baseline/gs1",
      "dose_10000/dense/gs2",
      "dose_100000/baseline/gs1",
      "dose_100000/dense/gs2",
      "dose_100000/sparse/gs2",
    ]);
    const dense = matrix.jobs[1]!;
    expect(dense.params).toEqual({ dose: 1000, view: "dense", gridsize: 2 });
    expect(dense.inputs).toEqual({ train: path.join(inputRoot, "phaseD/dose_1000/dense/dense_train.npz") });
    expect(dense.artifactDir).toBe(path.join(artifactRoot, "jobs/dose_1000/dense/gs2"));
    expect(dense.logPath).toBe(path.join(artifactRoot, "logs/dose_1000/dense/gs2.log"));
    // a second build gives the same jobs
    expect(buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot }).jobs).toEqual(matrix.jobs);
  });

  it("allow-missing turns missing inputs into skip events with the reason and the missing paths", () => {
    const matrix = buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot, strict: false });
    expect(matrix.skipped).toEqual([
      {
        jobId: "dose_1000/sparse/gs2",
        params: { dose: 1000, view: "sparse", gridsize: 2 },
        reason: "overlap view sparse was rejected by the spacing threshold, so its files were never written",
        missingPaths: [path.join(inputRoot, "phaseD/dose_1000/sparse/sparse_train.npz")],
      },
      {
        jobId: "dose_10000/sparse/gs2",
        params: { dose: 10000, view: "sparse", gridsize: 2 },
        reason: "overlap view sparse was rejected by the spacing threshold, so its files were never written",
        missingPaths: [path.join(inputRoot, "phaseD/dose_10000/sparse/sparse_train.npz")],
      },
    ]);
  });

  it("strict mode throws E_MISSING_INPUT listing every missing path", () => {
    let caught: unknown;
    try {
      buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot, strict: true });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: "E_MISSING_INPUT" });
    const error = caught as Error & { missingPaths: string[]; jobIds: string[] };
    expect(error.missingPaths).toEqual([path.join(inputRoot, "phaseD/dose_1000/sparse/sparse_train.npz"), path.join(inputRoot, "phaseD/dose_10000/sparse/sparse_train.npz")]);
    expect(error.jobIds).toEqual(["dose_1000/sparse/gs2", "dose_10000/sparse/gs2"]);
    for (const missing of error.missingPaths) expect(error.message).toContain(missing);
  });

  it("strict mode passes when filters leave out the jobs with missing inputs", () => {
    const matrix = buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot, strict: true, filters: { view: ["baseline", "dense"] } });
    expect(matrix.jobs).toHaveLength(6);
    expect(matrix.skipped).toEqual([]);
  });

  it("filters by dose (numerically: '1e3' is 1000), view, gridsize and job-id glob without changing ids", () => {
    const all = buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot });
    const byDose = buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot, filters: { dose: ["1e3"] } });
    expect(byDose.jobs.map((job) => job.id)).toEqual(["dose_1000/baseline/gs1", "dose_1000/dense/gs2"]);
    expect(byDose.skipped.map((event) => event.jobId)).toEqual(["dose_1000/sparse/gs2"]);
    expect(byDose.jobs).toEqual(all.jobs.filter((job) => job.params["dose"] === 1000));
    const byGrid = buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot, filters: { gridsize: [1] } });
    expect(byGrid.jobs.map((job) => job.id)).toEqual(["dose_1000/baseline/gs1", "dose_10000/baseline/gs1", "dose_100000/baseline/gs1"]);
    const byView = buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot, filters: { view: ["sparse"], dose: [1e5, 1e4] } });
    expect(byView.jobs.map((job) => job.id)).toEqual(["dose_100000/sparse/gs2"]);
    expect(byView.skipped.map((event) => event.jobId)).toEqual(["dose_10000/sparse/gs2"]);
    const byGlob = buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot, filters: { jobId: "dose_10*/dense/*" } });
    expect(byGlob.jobs.map((job) => job.id)).toEqual(["dose_1000/dense/gs2", "dose_10000/dense/gs2", "dose_100000/dense/gs2"]);
    const deep = buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot, filters: { jobId: ["**/gs1", "dose_100000/sparse/*"] } });
    expect(deep.jobs.map((job) => job.id)).toEqual(["dose_1000/baseline/gs1", "dose_10000/baseline/gs1", "dose_100000/baseline/gs1", "dose_100000/sparse/gs2"]);
    expect(deep.filters).toEqual({ params: {}, jobId: ["**/gs1", "dose_100000/sparse/*"] });
  });

  it("rejects filters that match nothing, naming the value and the values jobs take", () => {
    expect(() => buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot, filters: { dose: [5], view: ["dens"] } })).toThrowError(
      expect.objectContaining({ code: "E_FILTER_NO_MATCH", message: expect.stringMatching(/dose=5 matches no job \(values: 1000, 10000, 100000\)[\s\S]*view="dens" matches no job/) }),
    );
    expect(() => buildJobMatrix(ptychoSpec, { inputRoot, artifactRoot, filters: { params: { lr: [1] } } })).toThrowError(expect.objectContaining({ code: "E_FILTER_NO_MATCH", message: expect.stringContaining('no job has a parameter "lr"') }));
  });

  it("supports gridsize as its own axis with declarative rules that exclude combinations", () => {
    const matrix = buildJobMatrix(
      {
        axes: { view: ["baseline", "dense"], gridsize: [1, 2] },
        rules: [{ when: { view: "baseline", gridsize: 2 }, exclude: true }, { when: { view: "dense" }, set: { overlap: true } }],
        inputs: () => ({}),
      },
      { inputRoot, artifactRoot },
    );
    expect(matrix.jobs.map((job) => [job.id, job.params])).toEqual([
      ["view_baseline/gridsize_1", { view: "baseline", gridsize: 1 }],
      ["view_dense/gridsize_1", { view: "dense", gridsize: 1, overlap: true }],
      ["view_dense/gridsize_2", { view: "dense", gridsize: 2, overlap: true }],
    ]);
  });

  it("reports every spec problem at once: duplicate ids, unsafe ids, empty axes", () => {
    expect(() => buildJobMatrix({ axes: { a: [1, 2], b: [] }, inputs: () => ({}) }, { inputRoot, artifactRoot })).toThrowError(expect.objectContaining({ code: "E_JOB_MATRIX_SPEC", message: expect.stringContaining('axis "b" has no values') }));
    let caught: unknown;
    try {
      buildJobMatrix({ axes: { a: [1, 2, 3] }, id: (params) => (params["a"] === 3 ? "../escape" : "same"), inputs: () => ({}) }, { inputRoot, artifactRoot });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: "E_JOB_MATRIX_SPEC" });
    expect((caught as { details: string[] }).details).toHaveLength(2);
    expect((caught as Error).message).toMatch(/duplicate job id "same"/);
    expect((caught as Error).message).toMatch(/invalid segment ".."/);
  });
});

describe("job-id globs", () => {
  it("* and ? stay within a segment, ** spans segments", () => {
    const glob = compileJobIdGlob("dose_*/dense/gs?");
    expect(glob.test("dose_1000/dense/gs2")).toBe(true);
    expect(glob.test("dose_1000/x/dense/gs2")).toBe(false);
    expect(compileJobIdGlob("**").test("a/b/c")).toBe(true);
    expect(compileJobIdGlob("a/**/c").test("a/c")).toBe(true);
    expect(compileJobIdGlob("a/**/c").test("a/x/y/c")).toBe(true);
    expect(compileJobIdGlob("gs[12]").test("gs2")).toBe(true);
    expect(compileJobIdGlob("gs[!12]").test("gs2")).toBe(false);
  });

  it("a glob without wildcards matches exactly that id (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._=+-]{0,8}$/), { minLength: 1, maxLength: 4 }), fc.stringMatching(/^[A-Za-z0-9._=+-]{0,12}$/), (segments, other) => {
        const id = segments.join("/");
        const glob = compileJobIdGlob(id);
        expect(glob.test(id)).toBe(true);
        if (other !== id) expect(glob.test(other)).toBe(false);
      }),
    );
  });
});
