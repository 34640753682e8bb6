import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { assessComparability } from "../identity/comparability.js";
import { buildJobMatrix, type JobMatrix, type JobMatrixSpec, type JobParams } from "./job-matrix.js";
import { silentProgress, type StudyProgress } from "./study-progress.js";
import type { IdentityRecord } from "../identity/run-identity.js";
import type { RunnerModule } from "./job-runner.js";
import { formatSkipSummary, readTrainingManifest, type TrainingManifest } from "./training-manifest.js";
import { runStudy, STUDY_LOCK_FILE, type RunStudyOptions } from "./study-coordinator.js";
import { formatPlanSummary, planStudy } from "./study-planner.js";

const FIXTURES = fileURLToPath(new URL("../../test/fixtures/", import.meta.url));
const stub: RunnerModule = { module: path.join(FIXTURES, "stub-runner.mjs") };
const codeVersion = { packages: { "@studykit/core": "test" }, git: null };

let root: string;
let inputRoot: string;
let artifactRoot: string;
let calls: string;
let ledger: string;

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []);
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const manifestPath = () => path.join(artifactRoot, "training_manifest.json");
const readManifest = () => JSON.parse(readFileSync(manifestPath(), "utf8")) as TrainingManifest;
const statusOf = (manifest: TrainingManifest) => Object.fromEntries(manifest.jobs.map((record) => [record.id, record.result.status]));

function touch(relative: string, content = relative): void {
  const file = path.join(inputRoot, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

// dose × view with gridsize derived from the view; sparse inputs exist only at dose 1e4.
function ptychoMatrix(mode: (params: JobParams) => string = () => "ok", filters = {}): JobMatrix {
  const spec: JobMatrixSpec = {
    axes: { dose: [1e3, 1e4], view: ["baseline", "dense", "sparse"] },
    rules: [(params) => ({ gridsize: params["view"] === "baseline" ? 1 : 2 })],
    id: (params) => `dose_${params["dose"]}/${params["view"]}/gs${params["gridsize"]}`,
    inputs: (params) => ({ train: params["view"] === "baseline" ? `phaseC/dose_${params["dose"]}/patched_train.npz` : `phaseD/dose_${params["dose"]}/${params["view"]}/${params["view"]}_train.npz` }),
    explainMissing: (params) => `overlap view ${params["view"]} rejected by the spacing threshold`,
    config: (params) => ({ ...params, seed: 7, mode: mode(params), calls, ledger }),
  };
  return buildJobMatrix(spec, { inputRoot, artifactRoot, filters });
}

function counterMatrix(count: number, config: Record<string, unknown>): JobMatrix {
  return buildJobMatrix({ axes: { n: Array.from({ length: count }, (_, index) => index) }, inputs: () => ({}), config: (params) => ({ ...params, calls, ledger, ...config }) }, { inputRoot, artifactRoot });
}

const quiet: RunStudyOptions = { progress: "silent", codeVersion };

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "studykit-study-"));
  inputRoot = path.join(root, "in");
  artifactRoot = path.join(root, "out");
  calls = path.join(root, "calls.txt");
  ledger = path.join(root, "ledger.txt");
  for (const dose of [1000, 10000]) {
    touch(`phaseC/dose_${dose}/patched_train.npz`);
    touch(`phaseD/dose_${dose}/dense/dense_train.npz`);
  }
  touch("phaseD/dose_10000/sparse/sparse_train.npz");
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

// These tests start real processes; on a loaded 2-core machine they need more than the default 5 s.
describe("runStudy", { timeout: 60_000 }, () => {
  it("hands each job's final identity, as the manifest records it, to a child-process runner and an in-process one", async () => {
    const result = await runStudy(ptychoMatrix(), stub, quiet);
    const ran = result.manifest.jobs.filter((record) => record.result.status === "succeeded");
    expect(ran.length).toBe(5);
    for (const record of ran) {
      const stamped = JSON.parse(readFileSync(path.join(artifactRoot, record.artifactDir, "identity.json"), "utf8"));
      expect(record.identity?.fields["isFinal"]).toBe(true);
      expect(stamped).toEqual(record.identity);
    }
    const seen = new Map<string, unknown>();
    const inProcess = await runStudy(ptychoMatrix(), ({ job }) => void seen.set(job.id, job.identity ?? null), { ...quiet, force: true });
    for (const record of inProcess.manifest.jobs.filter((job) => job.result.status === "succeeded")) expect(seen.get(record.id)).toEqual(record.identity);
    expect(seen.size).toBe(5);
  });

  it("runs every job and writes the manifest with results, identities, skip events and the skip summary", async () => {
    const matrix = ptychoMatrix();
    const result = await runStudy(matrix, stub, { ...quiet, concurrency: 2 });
    expect(result.cancelled).toBe(false);
    expect(result.failed).toBe(false);
    const manifest = await readTrainingManifest(manifestPath());
    expect(manifest).toEqual(result.manifest);
    expect(manifest.state).toBe("completed");
    expect(manifest.dryRun).toBe(false);
    expect(manifest.roots).toEqual({ artifactRoot, inputRoot });
    expect(manifest.filters).toEqual({ params: {}, jobId: [] });
    expect(Number.isNaN(Date.parse(manifest.createdAt))).toBe(false);
    expect(statusOf(manifest)).toEqual({
      "dose_1000/baseline/gs1": "succeeded",
      "dose_1000/dense/gs2": "succeeded",
      "dose_10000/baseline/gs1": "succeeded",
      "dose_10000/dense/gs2": "succeeded",
      "dose_10000/sparse/gs2": "succeeded",
      "dose_1000/sparse/gs2": "skipped",
    });
    // The seed format: dose and view at the top level, beside params.
    const skipEvent = { jobId: "dose_1000/sparse/gs2", dose: 1000, view: "sparse", params: { dose: 1000, view: "sparse", gridsize: 2 }, reason: "overlap view sparse rejected by the spacing threshold", missingPaths: ["phaseD/dose_1000/sparse/sparse_train.npz"] };
    expect(manifest.skipped_views).toEqual([skipEvent]);
    expect(manifest.skipped_count).toBe(1);
    expect(manifest.skipSummaryPath).toBe("skip_summary.json");
    const summary = JSON.parse(readFileSync(path.join(artifactRoot, manifest.skipSummaryPath), "utf8"));
    expect(summary).toMatchObject({ skipped_count: 1, skipped_views: [skipEvent] });
    expect(formatSkipSummary(manifest.skipped_views)).toBe(
      "1 job skipped:\n  - dose_1000/sparse/gs2 (dose=1000, view=sparse, gridsize=2): overlap view sparse rejected by the spacing threshold\n      missing: phaseD/dose_1000/sparse/sparse_train.npz",
    );

    const dense = manifest.jobs.find((record) => record.id === "dose_1000/dense/gs2")!;
    expect(dense.artifactDir).toBe("jobs/dose_1000/dense/gs2");
    expect(dense.inputs).toEqual({ train: "phaseD/dose_1000/dense/dense_train.npz" });
    expect(dense.inputHashes).toEqual({ train: sha256(path.join(inputRoot, "phaseD/dose_1000/dense/dense_train.npz")) });
    expect(dense.result).toMatchObject({ status: "succeeded", error: null, bundlePath: "model.bundle", metrics: { loss: 0.5, epochs: 2 } });
    expect(dense.result.bundleSha256).toBe(sha256(path.join(artifactRoot, dense.artifactDir, "model.bundle")));
    expect(dense.identity?.runId).toMatch(/^run-[0-9a-f]{32}$/);
    expect(dense.identity?.runId).toBe(`run-${dense.identity?.strictKey.slice(0, 32)}`);
    expect(dense.identity?.fields).toMatchObject({ stage: "train", isFinal: true, seeds: { seed: 7 } });
    // identities differ between jobs; each job ran exactly once
    expect(new Set(manifest.jobs.map((record) => record.identity?.strictKey)).size).toBe(6);
    expect(lines(ledger).map((line) => line.split(" ")[0]).sort()).toEqual(manifest.jobs.filter((record) => record.result.status === "succeeded").map((record) => record.id).sort());
    expect(existsSync(path.join(artifactRoot, STUDY_LOCK_FILE))).toBe(false);
  });

  it("dry run never calls the runner, writes the DRY RUN marker to every log and lists run vs reuse with reasons", async () => {
    const dry = await runStudy(ptychoMatrix(), stub, { ...quiet, dryRun: true });
    expect(lines(calls)).toEqual([]);
    expect(dry.manifest.dryRun).toBe(true);
    expect(dry.manifest.state).toBe("planned");
    for (const record of dry.manifest.jobs.filter((job) => job.plan.action === "run")) {
      expect(readFileSync(path.join(artifactRoot, record.logPath), "utf8")).toContain("DRY RUN");
      expect(existsSync(path.join(artifactRoot, record.artifactDir, "model.bundle"))).toBe(false);
    }
    expect(dry.manifest.jobs.map((record) => record.plan.action)).toEqual(["run", "run", "run", "run", "run", "skip"]);

    await runStudy(ptychoMatrix(), stub, quiet);
    const callsAfterRun = lines(calls).length;
    writeFileSync(path.join(artifactRoot, "jobs/dose_10000/dense/gs2/model.bundle"), "tampered");
    const plan = await planStudy(ptychoMatrix(), { codeVersion });
    expect(plan.counts).toEqual({ total: 6, run: 1, reuse: 4, skip: 1 });
    const text = formatPlanSummary(plan);
    expect(text).toMatch(/^6 jobs: 1 to run, 4 reused, 1 skipped/);
    expect(text).toMatch(/run\s+dose_10000\/dense\/gs2\s+bundle model.bundle no longer has its recorded SHA-256/);
    expect(text).toMatch(/reuse\s+dose_1000\/baseline\/gs1\s+identity and input hashes match/);
    expect(text).toMatch(/skip\s+dose_1000\/sparse\/gs2\s+overlap view sparse rejected/);

    const dryAgain = await runStudy(ptychoMatrix(), stub, { ...quiet, dryRun: true });
    expect(lines(calls)).toHaveLength(callsAfterRun);
    // a dry run keeps the earlier results, so the real run after it still reuses them
    expect(statusOf(dryAgain.manifest)["dose_1000/baseline/gs1"]).toBe("succeeded");
    const rerun = await runStudy(ptychoMatrix(), stub, quiet);
    expect(lines(calls)).toHaveLength(callsAfterRun + 1);
    expect(statusOf(rerun.manifest)["dose_10000/dense/gs2"]).toBe("succeeded");
  });

  it("a failing job and crashing jobs (throw, process.exit, uncaught error) do not stop the others", async () => {
    const modes: Record<string, string> = { "dose_1000/baseline/gs1": "fail", "dose_1000/dense/gs2": "exit", "dose_10000/baseline/gs1": "uncaught" };
    const result = await runStudy(ptychoMatrix((params) => modes[`dose_${params["dose"]}/${params["view"]}/gs${params["gridsize"]}`] ?? "ok"), stub, { ...quiet, concurrency: 2 });
    expect(result.failed).toBe(true);
    expect(result.manifest.state).toBe("failed");
    const byId = Object.fromEntries(result.manifest.jobs.map((record) => [record.id, record.result]));
    expect(byId["dose_1000/baseline/gs1"]?.error?.code).toBe("E_STUB_FAILURE");
    expect(byId["dose_1000/dense/gs2"]?.error?.code).toBe("E_JOB_CRASHED");
    expect(byId["dose_10000/baseline/gs1"]?.error?.code).toBe("E_JOB_CRASHED");
    expect(byId["dose_10000/dense/gs2"]?.status).toBe("succeeded");
    expect(byId["dose_10000/sparse/gs2"]?.status).toBe("succeeded");
    expect(result.counts).toEqual({ total: 6, succeeded: 2, failed: 3, skipped: 1, reused: 0, remaining: 0 });
  });

  it("fail-fast stops starting jobs after the first failure", async () => {
    const result = await runStudy(counterMatrix(4, { mode: "fail" }), stub, { ...quiet, concurrency: 1, failFast: true });
    expect(result.counts).toMatchObject({ failed: 1, remaining: 3 });
    expect(lines(calls)).toEqual(["n_0"]);
  });

  it("reuses finished jobs on a second run, reruns a job whose bundle was corrupted, reruns all with force", async () => {
    await runStudy(ptychoMatrix(), stub, quiet);
    expect(lines(calls)).toHaveLength(5);
    const second = await runStudy(ptychoMatrix(), stub, quiet);
    expect(lines(calls)).toHaveLength(5);
    expect(second.counts).toMatchObject({ reused: 5, succeeded: 0, skipped: 1 });
    const first = second.manifest.jobs.find((record) => record.id === "dose_1000/dense/gs2")!;
    expect(first.plan.reason).toMatch(/bundle SHA-256 verified/);

    const bundle = path.join(artifactRoot, "jobs/dose_1000/dense/gs2/model.bundle");
    writeFileSync(bundle, "corrupted");
    const third = await runStudy(ptychoMatrix(), stub, quiet);
    expect(lines(calls).slice(5)).toEqual(["dose_1000/dense/gs2"]);
    const rerun = third.manifest.jobs.find((record) => record.id === "dose_1000/dense/gs2")!;
    expect(rerun.result.status).toBe("succeeded");
    expect(rerun.result.bundleSha256).toBe(sha256(bundle));

    // changed input content changes the identity: that job reruns, and says why
    touch("phaseC/dose_1000/patched_train.npz", "new content");
    const fourth = await runStudy(ptychoMatrix(), stub, quiet);
    expect(lines(calls).slice(6)).toEqual(["dose_1000/baseline/gs1"]);
    expect(fourth.manifest.jobs.find((record) => record.id === "dose_1000/baseline/gs1")?.plan.reason).toMatch(/input hashes/);

    await runStudy(ptychoMatrix(), stub, { ...quiet, force: true });
    expect(lines(calls)).toHaveLength(12);
  });

  it("a filtered run keeps the other jobs' records, so a later full run reuses them", async () => {
    await runStudy(ptychoMatrix(() => "ok", { dose: [1000] }), stub, quiet);
    const filtered = readManifest();
    expect(filtered.filters).toEqual({ params: { dose: [1000] }, jobId: [] });
    expect(filtered.jobs.map((record) => record.id)).toEqual(["dose_1000/baseline/gs1", "dose_1000/dense/gs2", "dose_1000/sparse/gs2"]);
    await runStudy(ptychoMatrix(() => "ok", { dose: [10000] }), stub, quiet);
    expect(readManifest().retainedJobs.map((record) => record.id)).toEqual(["dose_1000/baseline/gs1", "dose_1000/dense/gs2", "dose_1000/sparse/gs2"]);
    const full = await runStudy(ptychoMatrix(), stub, quiet);
    expect(full.counts).toMatchObject({ reused: 5, succeeded: 0 });
    expect(lines(calls)).toHaveLength(5);
  });

  it("refuses a concurrency below 1 with E_CONCURRENCY before taking the lock", async () => {
    await expect(runStudy(ptychoMatrix(), stub, { ...quiet, concurrency: 0 })).rejects.toMatchObject({ code: "E_CONCURRENCY", message: expect.stringContaining("got 0") });
    expect(existsSync(path.join(artifactRoot, STUDY_LOCK_FILE))).toBe(false);
    expect(lines(calls)).toEqual([]);
  });

  it("a second runner on the same artifact root gets E_LOCKED naming the holder's pid and host", async () => {
    // The first study's jobs are held until the test releases them, so it still holds the lock whatever the
    // machine's speed.
    const release = path.join(artifactRoot, "..", "release-locked");
    const held = counterMatrix(2, { mode: "held", release });
    const running = runStudy(held, stub, { ...quiet, concurrency: 2 });
    while (!existsSync(path.join(artifactRoot, STUDY_LOCK_FILE))) await new Promise((done) => setTimeout(done, 10));
    await expect(runStudy(held, stub, quiet)).rejects.toMatchObject({ code: "E_LOCKED", message: expect.stringContaining(`pid ${process.pid} on host ${hostname()}`) });
    writeFileSync(release, "");
    expect((await running).counts.succeeded).toBe(2);
  });

  it("takes over the lock of a runner killed mid-study and resumes its remaining jobs", async () => {
    // n_1..n_5 are held until `release` exists: the child cannot finish before it is killed.
    const child = spawn(process.execPath, [path.join(FIXTURES, "run-study.mjs"), inputRoot, artifactRoot, ledger, "6", "400", resumeRelease()], { stdio: "ignore" });
    // kill it once its manifest records a finished job
    const recordedSuccess = () => existsSync(manifestPath()) && readManifest().jobs.some((record) => record.result.status === "succeeded");
    while (!recordedSuccess()) await new Promise((done) => setTimeout(done, 20));
    child.kill("SIGKILL");
    await new Promise((done) => child.once("exit", done));
    expect(existsSync(path.join(artifactRoot, STUDY_LOCK_FILE))).toBe(true);
    const killed = await readTrainingManifest(manifestPath());
    const finishedBefore = killed.jobs.filter((record) => record.result.status === "succeeded").map((record) => record.id);
    expect(finishedBefore.length).toBeGreaterThanOrEqual(1);

    writeFileSync(resumeRelease(), "");
    const resumed = await runStudy(buildResumeMatrix(), stub, { ...quiet, concurrency: 3 });
    expect(resumed.manifest.state).toBe("completed");
    expect(finishedBefore).toEqual(["n_0"]);
    expect(resumed.counts).toMatchObject({ succeeded: 5, reused: 1 });
    for (const id of finishedBefore) expect(statusOf(resumed.manifest)[id]).toBe("reused");
  });

  it("cancel keeps the manifest valid at every instant; a later run resumes and completes every job exactly once", async () => {
    // n_0 finishes first and triggers the cancel while the others are held (until `release`, written only
    // before the resumed run), so which jobs are cancelled does not depend on the machine's speed.
    const release = path.join(artifactRoot, "..", "release-cancel");
    const staggered = () =>
      buildJobMatrix({ axes: { n: [0, 1, 2, 3, 4, 5] }, inputs: () => ({}), config: (params) => ({ ...params, calls, ledger, ...(params["n"] === 0 ? { mode: "slow", delayMs: 50 } : { mode: "held", release }) }) }, { inputRoot, artifactRoot });
    const matrix = staggered();
    const controller = new AbortController();
    const progress: StudyProgress = { ...silentProgress(), jobFinished: () => controller.abort() };
    let reading = true;
    let reads = 0;
    const reader = (async () => {
      while (reading) {
        if (existsSync(manifestPath())) {
          JSON.parse(readFileSync(manifestPath(), "utf8"));
          reads += 1;
        }
        await new Promise((done) => setImmediate(done));
      }
    })();
    const cancelled = await runStudy(matrix, stub, { ...quiet, concurrency: 2, signal: controller.signal, progress, cancelGraceMs: 300 });
    reading = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(cancelled.cancelled).toBe(true);
    const manifest = await readTrainingManifest(manifestPath());
    expect(manifest.state).toBe("cancelled");
    const results = manifest.jobs.map((record) => record.result);
    // n_0 succeeded, n_1 (running beside it) was cancelled, n_2..n_5 never started.
    expect(statusOf(manifest)).toEqual({ n_0: "succeeded", n_1: "failed", n_2: "pending", n_3: "pending", n_4: "pending", n_5: "pending" });
    expect(manifest.jobs.find((record) => record.id === "n_1")!.result.error?.code).toBe("E_CANCELLED");
    const doneBefore = lines(ledger).length;
    expect(doneBefore).toBe(1);
    writeFileSync(release, "");

    const resumed = await runStudy(staggered(), stub, { ...quiet, concurrency: 3 });
    expect(resumed.manifest.state).toBe("completed");
    expect(resumed.counts).toMatchObject({ succeeded: 6 - doneBefore, reused: doneBefore, failed: 0, remaining: 0 });
    const completions = lines(ledger).map((line) => line.split(" ")[0]);
    expect(completions.sort()).toEqual(["n_0", "n_1", "n_2", "n_3", "n_4", "n_5"]);
  });
});

/** The file that releases the killed child's held jobs (beside the artifact root). */
const resumeRelease = () => path.join(artifactRoot, "..", "release-resume");

function buildResumeMatrix(): JobMatrix {
  // the same matrix the killed child built (run-study.mjs with a release file): n_0 slow, n_1..n_5 held
  const release = resumeRelease();
  return buildJobMatrix({ axes: { n: [0, 1, 2, 3, 4, 5] }, inputs: () => ({}), config: (params) => (params["n"] !== 0 ? { ...params, mode: "held", release, ledger } : { ...params, mode: "slow", delayMs: 400, ledger }) }, { inputRoot, artifactRoot });
}

describe("planStudy: input evidence in the identity", () => {
  it("a job with no inputs has no snapshot hash, so strict comparability refuses it; a job with inputs has one", async () => {
    const noInputs = await planStudy(counterMatrix(2, {}), { codeVersion });
    const [first, second] = noInputs.jobs.map((planned) => planned.identity.fields as unknown as IdentityRecord);
    // The hash of `{}` would be evidence of nothing: two runs on unrelated data would look equal.
    expect(first!.datasetSnapshotHash).toBeNull();
    expect(() => assessComparability(first!, second!, { mode: "strict" })).toThrow(expect.objectContaining({ code: "E_SNAPSHOT_REQUIRED" }));
    expect(assessComparability(first!, second!, { mode: "warn", onWarning: () => {} }).level).toBe("incomparable"); // configs differ (n)

    const withInputs = await planStudy(ptychoMatrix(), { codeVersion });
    const baseline = withInputs.jobs.find((planned) => planned.job.id === "dose_1000/baseline/gs1")!;
    expect(baseline.identity.fields["datasetSnapshotHash"]).toMatch(/^[0-9a-f]{64}$/);
    const record = baseline.identity.fields as unknown as IdentityRecord;
    expect(assessComparability(record, record, { mode: "strict" }).level).toBe("stable");
  });
});
