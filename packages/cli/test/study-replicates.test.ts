/**
 * Replicates through the real CLI on the tiny study: `--replicates 2` runs every job and reconstruction
 * twice with re-drawn noise, groups and training seeds (object and positions fixed), one job identity per
 * replicate, and a report with mean ± 95% intervals and findings; replicate 0 reproduces the study with one
 * replicate exactly, which `studykit study compare` shows (and refuses in strict mode, since the
 * configurations differ in `replicates`).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadNpz } from "@studykit/data";
import { TINY_STUDY_CONFIG } from "../../study/test/tiny-study-config.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), "studykit-cli-replicates-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: work, env: { ...process.env, STUDYKIT_DEBUG: "" }, timeout: 240_000 });
const configFile = path.join(work, "tiny.json");
writeFileSync(configFile, JSON.stringify(TINY_STUDY_CONFIG));

interface TrainingJob {
  id: string;
  seeds: Record<string, number>;
  identity: { strictKey: string } | null;
  config: { seed: number };
}
const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));

describe("studykit study run --replicates", { timeout: 300_000 }, () => {
  let two: string;
  let one: string;
  beforeAll(() => {
    two = path.join(work, "two");
    one = path.join(work, "one");
    for (const [out, replicates] of [[two, "2"], [one, "1"]] as const) {
      const result = run("study", "run", "--config", configFile, "--out", out, "--replicates", replicates);
      expect(result.status, result.stderr).toBe(0);
    }
  }, 300_000);

  it("records each replicate with its own seed, root and phase manifests", () => {
    const manifest = readJson(path.join(two, "study_manifest.json"));
    expect(manifest.config.replicates).toBe(2);
    expect(manifest.replicates).toHaveLength(1);
    const [second] = manifest.replicates;
    expect(second.replicate).toBe(1);
    expect(second.root).toBe("replicates/r1");
    expect(second.seed).not.toBe(manifest.config.seed);
    for (const file of [second.phases.C, second.phases.D, second.phases.E, second.phases.F, second.phases.G]) expect(existsSync(path.join(two, file)), file).toBe(true);
    expect(second.jobs.length).toBe(manifest.jobs.length);
    for (const job of second.jobs) expect(existsSync(path.join(two, job.bundlePath)), job.bundlePath).toBe(true);
    // A study with one replicate has no replicate list and no replicates/ directory.
    expect(readJson(path.join(one, "study_manifest.json")).replicates).toEqual([]);
    expect(existsSync(path.join(one, "replicates"))).toBe(false);
  });

  it("gives every job one identity per replicate: same ids, different seeds and strict keys", () => {
    const first = readJson(path.join(two, "phaseE", "training_manifest.json")).jobs as TrainingJob[];
    const second = readJson(path.join(two, "replicates", "r1", "phaseE", "training_manifest.json")).jobs as TrainingJob[];
    const seed = readJson(path.join(two, "study_manifest.json")).replicates[0].seed as number;
    expect(second.map((job) => job.id)).toEqual(first.map((job) => job.id));
    for (const [index, job] of second.entries()) {
      expect(job.seeds).toEqual({ seed });
      expect(job.config.seed).toBe(seed);
      expect(job.identity!.strictKey).not.toBe(first[index]!.identity!.strictKey);
    }
  });

  it("re-draws the photon noise and the groups but keeps the object and the scan positions", () => {
    const a = loadNpz(path.join(two, "phaseC", "dose_1000", "patched_train.npz"));
    const b = loadNpz(path.join(two, "replicates", "r1", "phaseC", "dose_1000", "patched_train.npz"));
    for (const key of ["objectGuess", "probeGuess", "xcoords", "ycoords", "Y"]) expect(Array.from(b[key]!.data as Float64Array), key).toEqual(Array.from(a[key]!.data as Float64Array));
    const noiseA = a["diffraction"]!.data as Float32Array;
    const noiseB = b["diffraction"]!.data as Float32Array;
    let differing = 0;
    for (let index = 0; index < noiseA.length; index++) if (noiseA[index] !== noiseB[index]) differing += 1;
    // Poisson counts near 1000 photons per pattern: most bright pixels change between realisations.
    expect(differing / noiseA.length).toBeGreaterThan(0.1);
    const groupsA = readJson(path.join(two, "phaseD", "dose_1000", "dense", "dense_groups.json"));
    const groupsB = readJson(path.join(two, "replicates", "r1", "phaseD", "dose_1000", "dense", "dense_groups.json"));
    expect(groupsB.seed).not.toBe(groupsA.seed);
    expect(groupsB.groups).not.toEqual(groupsA.groups);
  });

  it("reports every cell as mean ± 95% interval over 2 replicates, with findings; one replicate says n=1, no interval", () => {
    const report = readFileSync(path.join(two, "report", "report.md"), "utf8");
    expect(report).toContain("## Findings");
    expect(report).toContain("## Replicates: mean ± 95% confidence interval");
    expect(report).toMatch(/\| 1e3 \| baseline \| supervised gs1 \| 2 of 2 \| \d\.\d{4} ± \d\.\d{4} \(n=2\)/);
    expect(report).toMatch(/^- dose 1e3, dense: .* (do not overlap|overlap)/m);
    expect(existsSync(path.join(two, "report", "plots", "speed-quality.svg"))).toBe(true);
    const single = readFileSync(path.join(one, "report", "report.md"), "utf8");
    expect(single).toContain("(n=1, no interval)");
    expect(single).not.toMatch(/± \d+\.\d+ \(n=/);
    expect(single).toMatch(/^- dose 1e3, baseline: .*n=1, no interval, so the difference is not assessed/m);
  });

  it("study compare: strict refuses (replicates differ); warn shows replicate 0 reproduces the one-replicate study exactly", () => {
    const strict = run("study", "compare", one, two);
    expect(strict.status).toBe(2);
    expect(strict.stderr).toMatch(/error\[E_RUNS_INCOMPARABLE\]/);
    expect(strict.stderr).toContain("config.replicates");
    const warn = run("study", "compare", one, two, "--mode", "warn", "--json");
    expect(warn.status, warn.stderr).toBe(0);
    expect(warn.stderr).toContain("warning: ");
    const comparison = JSON.parse(warn.stdout) as { metrics: { deltas: { section: string; delta: number | null; a: number | null; b: number | null }[]; onlyInA: string[]; onlyInB: string[] } };
    expect(comparison.metrics.deltas.length).toBeGreaterThanOrEqual(5 * 10);
    for (const delta of comparison.metrics.deltas) {
      if (delta.a === null) expect(delta.b).toBeNull();
      else expect(delta.delta).toBe(0);
    }
    expect(comparison.metrics.onlyInA).toEqual([]);
    expect(comparison.metrics.onlyInB).toEqual([]);
    const text = run("study", "compare", one, two, "--mode", "off");
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain("metric deltas (B − A):");
    expect(text.stderr).toBe("");
    // Over all replicates: A has one (no interval), so no cell's change is assessed.
    const cells = (JSON.parse(warn.stdout) as { metrics: { replicates: { a: number; b: number }; cells: { method: string; verdict: string; b: { n: number } | null }[] } }).metrics;
    expect(cells.replicates).toEqual({ a: 1, b: 2 });
    expect(cells.cells.length).toBeGreaterThanOrEqual(5 * 5);
    for (const cell of cells.cells) expect(cell.verdict, cell.method).toBe("not assessed");
    expect(text.stdout).toContain("replicate cells (mean ± 95% interval over A's 1 and B's 2 replicates; B − A):");
    // The two-replicate study against itself: every cell's interval overlaps its own, so nothing is supported.
    const same = JSON.parse(run("study", "compare", two, two, "--mode", "off", "--json").stdout) as { metrics: { cells: { verdict: string; delta: number | null; a: { n: number } | null }[] } };
    for (const cell of same.metrics.cells) {
      if (cell.a !== null && cell.a.n === 2) expect(cell.verdict).toBe("not supported");
      if (cell.delta !== null) expect(cell.delta).toBe(0);
    }
    expect(same.metrics.cells.some((cell) => cell.verdict === "not supported")).toBe(true);
  });

  it("records each replicate's phases as stages of the study's run manifest", () => {
    const manifest = readJson(path.join(two, "run-manifest.json"));
    expect(Object.keys(manifest.stages)).toEqual(["C", "D", "E", "C-r1", "D-r1", "E-r1", "F", "F-r1", "G"]);
    expect(manifest.stages["D-r1"].dependsOn).toEqual(["C-r1"]);
    expect(manifest.stages["C-r1"].artifacts.manifest.path).toBe("replicates/r1/phaseC/phase_manifest.json");
    expect(manifest.stages.G.artifacts["comparison-r1"].path).toBe("replicates/r1/phaseG/comparison.json");
    expect(manifest.runId).toBe(readJson(path.join(two, "study_manifest.json")).runId);
    for (const [name, stage] of Object.entries(manifest.stages as Record<string, { status: string }>)) expect(stage.status, name).toBe("succeeded");
  });

  it("study plan plans every replicate: the same job ids, each replicate's own identities", () => {
    const result = run("study", "plan", "--config", configFile, "--out", two, "--replicates", "2", "--json");
    expect(result.status, result.stderr).toBe(0);
    const planned = JSON.parse(result.stdout) as { jobs: { id: string; action: string; runId: string }[]; replicates: { replicate: number; seed: number; jobs: { id: string; action: string; runId: string }[] }[] };
    const manifest = readJson(path.join(two, "study_manifest.json"));
    expect(planned.replicates.map((entry) => [entry.replicate, entry.seed])).toEqual([
      [0, manifest.config.seed],
      [1, manifest.replicates[0].seed],
    ]);
    const [first, second] = planned.replicates;
    expect(second!.jobs.map((job) => job.id)).toEqual(first!.jobs.map((job) => job.id));
    // Everything was trained: every job of both replicates would be reused, under the run ids the study recorded.
    for (const job of [...first!.jobs, ...second!.jobs]) expect(job.action, job.id).toBe("reuse");
    expect(second!.jobs.map((job) => job.runId)).toEqual(manifest.replicates[0].jobs.map((job: { runId: string }) => job.runId));
    expect(planned.jobs).toEqual(first!.jobs);
    // Planning leaves the finished study as it was: verify still passes.
    expect(run("study", "verify", two).status).toBe(0);
    const text = run("study", "plan", "--config", configFile, "--out", two, "--replicates", "2");
    expect(text.stdout).toMatch(/^replicate 0 \(seed \d+\):\n/);
    expect(text.stdout).toMatch(/\nreplicate 1 \(seed \d+\):\n/);
  });

  it("rejects --replicates 0 with E_STUDY_CONFIG naming the flag (exit 2)", () => {
    const result = run("study", "plan", "--config", configFile, "--out", path.join(work, "bad"), "--replicates", "0");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/error\[E_STUDY_CONFIG\].*--replicates 0/s);
    expect(result.stderr).toContain("replicates");
  });

  it("study verify checks every replicate's files and names a changed replicate file (exit 2)", () => {
    const clean = run("study", "verify", two, "--json");
    expect(clean.status, clean.stderr).toBe(0);
    const report = JSON.parse(clean.stdout) as { ok: boolean; filesHashed: number; notChecked: string[] };
    const single = JSON.parse(run("study", "verify", one, "--json").stdout) as { filesHashed: number };
    // Replicate 1 re-hashes its own datasets, job inputs, bundles and reconstructions: twice the files of one
    // replicate, besides the files each run manifest's stages recorded (phase manifests, comparisons, report).
    const stageFiles = (root: string) => Object.values(readJson(path.join(root, "run-manifest.json")).stages as Record<string, { artifacts: Record<string, { sha256: string | null }> }>).flatMap((stage) => Object.values(stage.artifacts)).filter((artifact) => artifact.sha256 !== null).length;
    expect(stageFiles(one)).toBe(7);
    expect(stageFiles(two)).toBe(12);
    expect(report.filesHashed - stageFiles(two)).toBe(2 * (single.filesHashed - stageFiles(one)));
    // A reconstruction of replicate 1, one byte changed: the problem names it relative to the study root.
    const second = readJson(path.join(two, "study_manifest.json")).replicates[0] as { reconstructions: { file: string | null; sha256: string | null }[] };
    const record = second.reconstructions.find((entry) => entry.file !== null)!;
    expect(record.file!.startsWith("replicates/r1/phaseF/")).toBe(true);
    const file = path.join(two, record.file!);
    const original = readFileSync(file);
    const bytes = Buffer.from(original);
    bytes[bytes.length >> 1] ^= 0x01;
    writeFileSync(file, bytes);
    try {
      const result = run("study", "verify", two, "--json");
      expect(result.status).toBe(2);
      const problems = (JSON.parse(result.stdout) as { problems: { kind: string; file: string; expected: string | null }[] }).problems;
      expect(problems).toEqual([expect.objectContaining({ kind: "hash-mismatch", file: record.file, expected: record.sha256 })]);
    } finally {
      writeFileSync(file, original);
    }
  });

  it("a study rerun with more replicates keeps replicate 0's stage records: its data and jobs are reused", () => {
    const grown = path.join(work, "grown");
    cpSync(one, grown, { recursive: true });
    const result = run("study", "run", "--config", configFile, "--out", grown, "--replicates", "2");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain("study: run-manifest.json records stages C, D, E, F, G; starting a run of stages C, D, E, C-r1, D-r1, E-r1, F, F-r1, G that keeps the records of C, D, E, F");
    expect(result.stderr).toMatch(/\[replicate 0 of 0–1, seed \d+\] phase C: datasets are current \(1 doses\), not resimulated/);
    expect(result.stderr).toMatch(/\[replicate 0 of 0–1, seed \d+\] phase D: views are current, not rebuilt/);
    const manifest = readJson(path.join(grown, "study_manifest.json"));
    for (const job of manifest.jobs) expect(job.status, job.id).toBe("reused");
    // The same study as the one run with 2 replicates from the start.
    expect(manifest.runId).toBe(readJson(path.join(two, "study_manifest.json")).runId);
  });
});
