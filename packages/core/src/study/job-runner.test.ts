import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StudyJob } from "./job-matrix.js";
import { DRY_RUN_MARKER, runJob, type RunnerModule } from "./job-runner.js";

const STUB = fileURLToPath(new URL("../../test/fixtures/stub-runner.mjs", import.meta.url));
const stub: RunnerModule = { module: STUB, export: "runJob" };

let root: string;

function makeJob(id: string, config: Record<string, unknown>): StudyJob {
  return {
    id,
    params: { id },
    config: { calls: path.join(root, "calls.txt"), ledger: path.join(root, "ledger.txt"), ...config } as StudyJob["config"],
    seeds: { seed: 1 },
    inputs: {},
    artifactDir: path.join(root, "jobs", id),
    logPath: path.join(root, "logs", `${id}.log`),
  };
}

const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "studykit-runner-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("runJob", { timeout: 60_000 }, () => {
  it("dry run writes the DRY RUN marker and returns the plan without calling the runner", async () => {
    const job = makeJob("a/b", { mode: "ok" });
    const plan = await runJob(job, stub, { dryRun: true });
    expect(plan).toEqual({ jobId: "a/b", params: { id: "a/b" }, inputs: {}, outputs: { artifactDir: job.artifactDir }, logPath: job.logPath, dryRun: true });
    expect(read(job.logPath)).toContain(DRY_RUN_MARKER);
    expect(existsSync(job.artifactDir)).toBe(true);
    expect(read(path.join(root, "calls.txt"))).toBe("");
  });

  it("runs the module in a child process, moves staged artifacts into place and hashes the bundle", async () => {
    // "slow" sleeps 200 ms in the job, then writes its bundle like "ok": the recorded duration covers it.
    const job = makeJob("ok", { mode: "slow", delayMs: 200 });
    const lines: string[] = [];
    const result = await runJob(job, stub, { onLog: (line) => lines.push(line) });
    expect(result).toMatchObject({ status: "succeeded", error: null, metrics: { loss: 0.5, epochs: 2 }, bundlePath: "model.bundle", output: { note: "stub" }, attempts: 1 });
    const bundle = path.join(job.artifactDir, "model.bundle");
    expect(result.bundleSha256).toBe(sha256(bundle));
    expect(existsSync(path.join(job.artifactDir, "history.json"))).toBe(true);
    // the job ran in another process, and no staging directory is left behind
    const [, pid] = read(path.join(root, "ledger.txt")).trim().split(" ");
    expect(Number(pid)).not.toBe(process.pid);
    expect(readdirSync(path.dirname(job.artifactDir))).toEqual(["ok"]);
    expect(read(job.logPath)).toMatch(/stub runner: ok wrote its bundle/);
    expect(lines).toContain("stub runner: ok wrote its bundle");
    // The duration spans the job's own 200 ms sleep (a lower bound only: no claim about speed).
    expect(result.durationMs).toBeGreaterThanOrEqual(200);
    expect(Date.parse(result.finishedAt!) - Date.parse(result.startedAt!)).toBeGreaterThanOrEqual(200);
  });

  it.each([
    ["fail", "E_STUB_FAILURE", /stub failure in fail/],
    ["exit", "E_JOB_CRASHED", /exited with code 3 before returning a result/],
    ["uncaught", "E_JOB_CRASHED", /uncaught exception in the job: uncaught stub error/],
  ])("a job that %ss is recorded as failed with its code, leaving no artifacts", async (mode, code, message) => {
    const job = makeJob(mode, { mode });
    const result = await runJob(job, stub);
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe(code);
    expect(result.error?.message).toMatch(message);
    expect(result.bundleSha256).toBeNull();
    expect(existsSync(job.artifactDir)).toBe(false);
    expect(readdirSync(path.join(root, "jobs"))).toEqual([]);
    expect(read(job.logPath)).toContain(`[${code}]`);
  });

  it("reports a missing module or export as E_RUNNER_LOAD", async () => {
    const missing = await runJob(makeJob("m", { mode: "ok" }), { module: path.join(root, "nope.mjs") });
    expect(missing.error?.code).toBe("E_RUNNER_LOAD");
    const badExport = await runJob(makeJob("e", { mode: "ok" }), { module: STUB, export: "notAFunction" });
    expect(badExport.error).toMatchObject({ code: "E_RUNNER_LOAD", message: expect.stringContaining('no function export "notAFunction"') });
  });

  it("cancelling kills a running child: failed with E_CANCELLED, no artifact, no completion", async () => {
    const controller = new AbortController();
    const job = makeJob("slow", { mode: "slow", delayMs: 20_000 });
    const pending = runJob(job, stub, { signal: controller.signal, cancelGraceMs: 500 });
    // wait until the runner has really been called
    while (!read(path.join(root, "calls.txt")).includes("slow")) await new Promise((done) => setTimeout(done, 20));
    controller.abort();
    const result = await pending;
    expect(result.error?.code).toBe("E_CANCELLED");
    expect(read(path.join(root, "ledger.txt"))).toBe("");
    expect(existsSync(job.artifactDir)).toBe(false);
  });

  it("runs an in-process function runner and refuses a bundle path outside the artifact directory", async () => {
    const ok = await runJob(makeJob("fn", {}), ({ job, config }) => ({ metrics: { seen: (config as { calls: string }).calls.length > 0 }, jobId: job.id }));
    expect(ok).toMatchObject({ status: "succeeded", metrics: { seen: true }, output: { jobId: "fn" }, bundlePath: null });
    const escape = await runJob(makeJob("esc", {}), () => ({ bundlePath: "../../etc/passwd" }));
    expect(escape.error?.code).toBe("E_PATH_ESCAPE");
    const missing = await runJob(makeJob("mis", {}), () => ({ bundlePath: "never-written.zip" }));
    expect(missing.error?.code).toBe("E_MISSING_ARTIFACT");
  });
});
