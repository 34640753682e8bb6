import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { renderFieldPng } from "./report-images.js";
import { writeStudyReport, type ReportJobRow } from "./report-writer.js";
import { summariseReplicates, writeFindings, type ReplicateRow } from "../replicate-summary.js";

const dir = mkdtempSync(path.join(tmpdir(), "studykit-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const metrics = { amplitudeMae: 0.1, phaseMae: 0.2, amplitudePsnr: 20, phasePsnr: 18, amplitudeSsim: 0.8, amplitudeMsSsim: 0.85, phaseSsim: 0.7, phaseMsSsim: 0.75, frcHalfBitResolutionPx: 3.5, frc50ResolutionPx: 4 };
const rows: ReportJobRow[] = [
  { jobId: "dose_1000/baseline/gs1", dose: 1000, view: "baseline", gridsize: 1, method: "network gs1", status: "succeeded", note: null, metrics, bundleSha256: "ab".repeat(32), trainingSamples: 10, history: [{ epoch: 1, loss: 1, validationLoss: 1.2 }, { epoch: 2, loss: 0.5, validationLoss: 0.7 }], iterationHistory: [], images: { amplitude: "a.png", phase: "p.png" }, wallTimeMs: 65_400, inferencePatternsPerSecond: 1234.4 },
  {
    jobId: "phaseF/dose_1000/baseline/test",
    dose: 1000,
    view: "baseline",
    gridsize: null,
    method: "epie 50 it",
    status: "succeeded",
    note: null,
    metrics: { ...metrics, phaseMae: 0.15 },
    bundleSha256: "cd".repeat(32),
    trainingSamples: null,
    history: [],
    iterationHistory: [{ iteration: 1, phaseMae: 0.4, fourierError: 0.2 }, { iteration: 2, phaseMae: 0.15, fourierError: 0.1 }],
    images: { amplitude: "a.png", phase: "p.png" },
    wallTimeMs: 4_321,
  },
  {
    jobId: "phaseF/dose_100000/baseline/test",
    dose: 100000,
    view: "baseline",
    gridsize: null,
    method: "epie 50 it",
    status: "succeeded",
    note: null,
    metrics: { ...metrics, phaseMae: 0.15, frcHalfBitResolutionPx: null, frc50ResolutionPx: null, frc: { halfBit: { status: "never-below" }, fixed: { status: "never-below" } } },
    bundleSha256: null,
    trainingSamples: null,
    history: [],
    iterationHistory: [],
    images: null,
    wallTimeMs: 1_000,
  },
  // The constant mean image: its FRC crosses neither threshold, and MS-SSIM is absent in this row.
  { jobId: "mean predictor", dose: 1000, view: "test region", gridsize: null, method: "mean (reference)", status: "reference", note: null, metrics: { ...metrics, amplitudeMsSsim: null, phaseMsSsim: null, frcHalfBitResolutionPx: null, frc50ResolutionPx: null, frc: { halfBit: { status: "never-above" }, fixed: { status: "never-above" } } }, bundleSha256: null, trainingSamples: null, history: [], iterationHistory: [], images: null, wallTimeMs: null },
  { jobId: "dose_1000/sparse/gs2", dose: 1000, view: "sparse", gridsize: 2, method: "network gs2", status: "skipped", note: "overlap view sparse rejected <by> the spacing threshold", metrics: null, bundleSha256: null, trainingSamples: null, history: [], iterationHistory: [], images: null, wallTimeMs: null },
];

describe("report", () => {
  it("writes report.md with the metrics table and a self-contained report.html", async () => {
    const field = Float64Array.from({ length: 12 * 10 }, (_, index) => index);
    const png = renderFieldPng(field, 12, 10, { min: 0, max: 119, scheme: "viridis", scale: 2 });
    const images = new Map([["a.png", png], ["p.png", png], ["gt-a.png", png], ["gt-p.png", png]]);
    const files = await writeStudyReport(dir, { title: "T", runId: "run-1", preset: "quick", summary: [["object", "x"]], groundTruth: { amplitude: "gt-a.png", phase: "gt-p.png" }, rows, notes: [] }, images);
    expect(files.plots).toEqual(["plots/loss-curves.svg", "plots/iterative-error.svg", "plots/metrics-vs-dose.svg"]);
    const md = readFileSync(path.join(dir, "report.md"), "utf8");
    expect(md).toContain("| amplitude SSIM | amplitude MS-SSIM | phase SSIM | phase MS-SSIM | FRC half-bit resolution (px) | FRC 0.5 resolution (px) |");
    expect(md).toContain("| 1e3 | baseline | network gs1 | succeeded | 0.1000 | 0.2000 | 20.00 | 18.00 | 0.800 | 0.850 | 0.700 | 0.750 | 3.50 | 4.00 | 65.4 | 1234 | 10 | abababababab |");
    // Phase F sits in the same table, with its own wall time and the reconstruction's SHA-256.
    expect(md).toContain("| 1e3 | baseline | epie 50 it | succeeded | 0.1000 | 0.1500 | 20.00 | 18.00 | 0.800 | 0.850 | 0.700 | 0.750 | 3.50 | 4.00 | 4.32 | — | — | cdcdcdcdcdcd |");
    // An FRC that never crosses is "not reached", never a number.
    expect(md).toContain("| 1e3 | test region | mean (reference) | reference | 0.1000 | 0.2000 | 20.00 | 18.00 | 0.800 | n/a | 0.700 | n/a | not reached | not reached | — | — | — | — |");
    // A curve above both thresholds up to Nyquist resolves finer than 2 px, which is not the mean's "nothing".
    expect(md).toContain("| 1e5 | baseline | epie 50 it | succeeded | 0.1000 | 0.1500 | 20.00 | 18.00 | 0.800 | 0.850 | 0.700 | 0.750 | not reached (< 2 px) | not reached (< 2 px) | 1.00 | — | — | — |");
    // The appendix defines every metric the table shows.
    const start = md.indexOf("## Appendix: metric definitions");
    expect(start).toBeGreaterThan(0);
    const appendix = md.slice(start);
    for (const name of ["Mean absolute error", "Peak signal-to-noise ratio", "SSIM", "MS-SSIM", "Fourier ring correlation"]) expect(appendix).toContain(name);
    expect(appendix).toContain("half-bit curve of van Heel & Schatz (2005)");
    expect(md).toContain("`dose_1000/sparse/gs2` (skipped): overlap view sparse rejected <by> the spacing threshold");
    const html = readFileSync(path.join(dir, "report.html"), "utf8");
    // Self-contained: images inline, plots inline, no relative references.
    expect(html.match(/src="data:image\/png;base64,/g)).toHaveLength(6);
    expect(html).not.toMatch(/src="(images|plots)\//);
    expect(html.match(/<svg/g)!.length).toBeGreaterThanOrEqual(2);
    expect(html).toContain("rejected &lt;by&gt; the spacing threshold");
    expect(html).toContain("<td>not reached</td><td>not reached</td>");
    expect(html).toContain("<h2>Appendix: metric definitions</h2>");
    expect(html).toContain("Multi-scale structural similarity, MS-SSIM (amplitude, phase)");
  });

  it("plots the PINN's Poisson NLL, negative as it is, on its own linear axis", async () => {
    const pinnDir = path.join(dir, "pinn");
    const pinnRow: ReportJobRow = { ...rows[0]!, jobId: "dose_1000/dense/pinn-gs2", view: "dense", gridsize: 2, method: "PINN gs2", history: [{ epoch: 1, loss: -0.05, validationLoss: -0.04 }, { epoch: 2, loss: -0.17, validationLoss: -0.16 }], images: null };
    const files = await writeStudyReport(pinnDir, { title: "T", runId: "run-1", preset: "quick", summary: [], groundTruth: { amplitude: "gt-a.png", phase: "gt-p.png" }, rows: [rows[0]!, pinnRow], notes: [] }, new Map());
    expect(files.plots).toContain("plots/pinn-loss-curves.svg");
    const pinnPlot = readFileSync(path.join(pinnDir, "plots/pinn-loss-curves.svg"), "utf8");
    expect(pinnPlot).toContain("dose_1000/dense/pinn-gs2");
    expect(pinnPlot).toMatch(/−0\.1|-0\.1/);
    // The supervised plot keeps its log axis and holds no PINN job.
    expect(readFileSync(path.join(pinnDir, "plots/loss-curves.svg"), "utf8")).not.toContain("pinn-gs2");
  });

  it("renders PNGs pngjs decodes, with the colour scale and the mask applied", () => {
    const field = Float64Array.from([0, 1, 2, 3]);
    const png = PNG.sync.read(renderFieldPng(field, 2, 2, { min: 0, max: 3, scheme: "greys", scale: 3, mask: [1, 1, 1, 0] }));
    expect([png.width, png.height]).toEqual([6, 6]);
    const pixel = (x: number, y: number) => Array.from(png.data.subarray(4 * (y * 6 + x), 4 * (y * 6 + x) + 4));
    // greys runs dark (low) to light (high); the masked pixel is neutral grey.
    expect(pixel(0, 0)[0]!).toBeLessThan(pixel(5, 0)[0]!);
    expect(pixel(5, 5)).toEqual([230, 230, 230, 255]);
    expect(pixel(0, 0)[3]).toBe(255);
  });

  it("with replicates, writes the findings, the mean ± interval table with best / ≈ best marks, and the speed–quality plot", async () => {
    const replicateDir = mkdtempSync(path.join(tmpdir(), "studykit-report-replicates-"));
    try {
      const row = (replicate: number, method: string, phaseMae: number, wallTimeMs: number): ReplicateRow => ({
        replicate,
        dose: 1000,
        view: "baseline",
        method,
        family: method.startsWith("epie") ? "iterative" : "network",
        // ePIE's FRC never crosses (finer than 2 px); the network's crosses at 5 px.
        metrics: { phaseMae, amplitudeMae: 0.1, amplitudeSsim: 0.5, phaseSsim: 0.5, frcHalfBitResolutionPx: method.startsWith("epie") ? null : 5 },
        wallTimeMs,
      });
      const cells = summariseReplicates(
        [row(0, "supervised gs1", 0.26, 60_000), row(1, "supervised gs1", 0.27, 62_000), row(2, "supervised gs1", 0.25, 61_000), row(0, "epie 50 it", 0.15, 400), row(1, "epie 50 it", 0.151, 410), row(2, "epie 50 it", 0.149, 390)],
        3,
      );
      const findings = writeFindings(cells).map((finding) => finding.text);
      const files = await writeStudyReport(
        replicateDir,
        { title: "T", runId: "run-1", preset: "quick", summary: [], groundTruth: { amplitude: "a.png", phase: "p.png" }, rows: rows.slice(0, 2), notes: [], replicates: { count: 3, scored: [{ replicate: 0, seed: 1 }, { replicate: 1, seed: 2 }, { replicate: 2, seed: 3 }], cells, findings } },
        new Map(),
      );
      expect(files.plots).toContain("plots/speed-quality.svg");
      const svg = readFileSync(path.join(replicateDir, "plots", "speed-quality.svg"), "utf8");
      expect(svg).toContain("wall time (s)");
      const md = readFileSync(path.join(replicateDir, "report.md"), "utf8");
      expect(md).toContain("## Findings");
      // 0.15 ± t(0.975, 2)·0.001/√3 = 0.0025 (table t = 4.3027); 0.26 ± 4.3027·0.01/√3 = 0.0248.
      expect(md).toContain("- dose 1e3, baseline: epie 50 it has the best phase MAE, 0.1500 ± 0.0025 (n=3), 0.1100 (42%) lower than supervised gs1 (0.2600 ± 0.0248 (n=3)); the 95% intervals do not overlap, so the replicates support the difference.");
      expect(md).toContain("| 1e3 | baseline | epie 50 it | 3 of 3 | 0.1500 ± 0.0025 (n=3) best |");
      // Equal amplitude MAE in both cells: the runner-up is marked as not distinguishable from the best.
      expect(md).toMatch(/\| 1e3 \| baseline \| supervised gs1 \| 3 of 3 \| 0\.2600 ± 0\.0248 \(n=3\) \| 0\.1000 ± 0\.0000 \(n=3\) ≈ best \|/);
      expect(md).toContain("seeds r0: 1, r1: 2, r2: 3");
      // ePIE's FRC is "not reached" in every replicate, so the network's 5 px cannot be called best.
      expect(md).toContain("| 0.500 ± 0.000 (n=3) best | not reached |");
      expect(md).toContain("| 5.00 ± 0.00 (n=3) |");
      expect(md).not.toContain("5.00 ± 0.00 (n=3) best");
      expect(md).toContain("## Metrics on the held-out test region (replicate 0)");
      const html = readFileSync(path.join(replicateDir, "report.html"), "utf8");
      expect(html).toContain("<h2>Findings</h2>");
      expect(html).toContain("0.1500 ± 0.0025 (n=3) best");
    } finally {
      rmSync(replicateDir, { recursive: true, force: true });
    }
  });
});
