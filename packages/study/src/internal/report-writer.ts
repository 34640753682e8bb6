/**
 * Phase G's report: `report/report.md` (images and plots as files beside it) and a self-contained
 * `report/report.html` (plots inlined as SVG, images as PNG data URIs) that can be mailed or archived on
 * its own. Both hold the metrics table per dose × view × method (the networks and Phase F's iterative
 * reconstruction side by side, with each method's wall time), the loss curves, Phase F's error per
 * iteration, metric-vs-dose plots, ground truth vs reconstruction images with difference maps, and an
 * appendix defining every metric (metric-definitions.ts). An FRC resolution that was not reached is printed as "not reached".
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "@studykit/core";
import type { ComparisonMetrics, ScoredRow } from "../compare-phase.js";
import type { TrainingHistoryEntry } from "../study-job.js";
import { METRIC_DEFINITIONS } from "./metric-definitions.js";
import { iterationErrorSpec, lossCurvesSpec, metricsVsDoseSpec, renderVegaLiteSvg, speedQualitySpec, type IterationPoint, type LossPoint, type MetricPoint, type SpeedQualityPoint } from "./report-plots.js";
import { SUMMARY_METRICS, compareCells, hasEveryReplicate, rankCells, type ReplicateCell } from "../replicate-summary.js";
import { formatMeanInterval } from "../replicate-statistics.js";

/** Scores of one model as the report shows them (the report needs no FRC curve or pixel count). */
export type ReportMetrics = Pick<
  ComparisonMetrics,
  | "amplitudeMae"
  | "phaseMae"
  | "amplitudePsnr"
  | "phasePsnr"
  | "amplitudeSsim"
  | "amplitudeMsSsim"
  | "phaseSsim"
  | "phaseMsSsim"
  | "frcHalfBitResolutionPx"
  | "frc50ResolutionPx"
> & {
  /**
   * Why an FRC resolution is null: `never-above` (below the threshold from the first ring: nothing
   * resolved) or `never-below` (above it up to the 2 px sampling limit). Absent: printed as plain "not reached".
   */
  readonly frc?: { readonly halfBit: { readonly status: string }; readonly fixed: { readonly status: string } };
};

/** One row of the report: a training job of the matrix, or a Phase F reconstruction. */
export interface ReportJobRow extends ScoredRow<ReportMetrics> {
  readonly jobId: string;
  /** Null for an iterative reconstruction. */
  readonly gridsize: number | null;
  /** `network gs1`, `network gs2`, `epie 50 it`, ... */
  readonly method: string;
  /** SHA-256 of the bundle (network) or of `reconstruction.npz` (Phase F). */
  readonly bundleSha256: string | null;
  readonly trainingSamples: number | null;
  readonly history: readonly TrainingHistoryEntry[];
  /** Phase F's errors per iteration (empty for a network). */
  readonly iterationHistory: readonly { readonly iteration: number; readonly phaseMae: number; readonly fourierError: number }[];
}

/** Everything the report shows. */
export interface StudyReportData {
  readonly title: string;
  readonly runId: string;
  readonly preset: string;
  readonly summary: readonly (readonly [string, string])[];
  readonly groundTruth: { readonly amplitude: string; readonly phase: string };
  /**
   * Half-widths of the symmetric colour scales of the difference maps (amplitude; phase in rad), shared
   * by every row; absent or null: no difference maps.
   */
  readonly differenceScale?: { readonly amplitude: number; readonly phase: number } | null;
  readonly rows: readonly ReportJobRow[];
  readonly notes: readonly string[];
  /** The cells over all replicates and the findings written from them (absent: neither section). */
  readonly replicates?: {
    readonly count: number;
    /** The replicates scored, with their seeds. */
    readonly scored: readonly { readonly replicate: number; readonly seed: number }[];
    readonly cells: readonly ReplicateCell[];
    readonly findings: readonly string[];
  };
}

/**
 * The replicate table: one row per (dose, view, method), each summary metric as mean ± 95% interval.
 * Within a dose and view the best mean of a metric is marked `best`, and a mean whose interval the best's
 * overlaps (a difference the replicates do not support) is marked `≈ best`.
 */
function replicateTable(cells: readonly ReplicateCell[]): { header: string[]; rows: string[][] } {
  const header = ["dose", "view", "method", "replicates scored", ...SUMMARY_METRICS.map((metric) => metric.label), "wall time (s)"];
  const sorted = [...cells].sort((a, b) => a.dose - b.dose || a.view.localeCompare(b.view) || (a.family === b.family ? a.method.localeCompare(b.method) : a.family === "network" ? -1 : 1));
  const rows = sorted.map((cell) => {
    const peers = cells.filter((other) => other.dose === cell.dose && other.view === cell.view);
    const metricCells = SUMMARY_METRICS.map((metric) => {
      const interval = cell.metrics[metric.key];
      const text = formatMeanInterval(interval, metric.digits, metric.key === "frcHalfBitResolutionPx" ? "not reached" : "—");
      const ranked = rankCells(peers, metric.key);
      // A cell without the value in every replicate it scored (an FRC that did not cross: finer than 2 px or
      // nothing resolved) cannot be ranked, so that metric of that dose and view gets no marks.
      if (interval === null || ranked.length < 2 || !peers.every((peer) => hasEveryReplicate(peer, metric.key))) return text;
      if (ranked[0] === cell) return `${text} best`;
      const support = compareCells(ranked[0]!, cell, metric.key).support;
      return support === "unsupported" || support === "tie" ? `${text} ≈ best` : text;
    });
    const wall = cell.wallTimeMs === null ? "—" : formatMeanInterval({ ...cell.wallTimeMs, mean: cell.wallTimeMs.mean / 1000, halfWidth: cell.wallTimeMs.halfWidth === null ? null : cell.wallTimeMs.halfWidth / 1000 }, cell.wallTimeMs.mean < 10_000 ? 2 : 1);
    return [formatDose(cell.dose), cell.view, cell.method, `${cell.scored} of ${cell.replicates}`, ...metricCells, wall];
  });
  return { header, rows };
}

/** The caption of the difference maps: what is subtracted, the alignment, and the colour scales. */
function differenceCaption(scale: { readonly amplitude: number; readonly phase: number }): string {
  return (
    `Difference maps: reconstruction − ground truth, on diverging colour scales symmetric about 0 (blue below the truth, near-white equal, red above), shared by every row: ` +
    `amplitude −${scale.amplitude} to +${scale.amplitude}; phase −${scale.phase} to +${scale.phase} rad, after removing the reconstruction's global phase offset (the alignment the metrics use) and wrapping to (−π, π]. ` +
    "Each half-width is the 99th percentile of |difference| over all maps' scored pixels, rounded up to two significant digits; larger differences saturate."
  );
}

function replicateIntro(replicates: NonNullable<StudyReportData["replicates"]>): string {
  const seeds = replicates.scored.map((entry) => `r${entry.replicate}: ${entry.seed}`).join(", ");
  return replicates.count === 1
    ? `One replicate (seed ${seeds.replace(/^r0: /, "")}): every value is n=1, no interval, and no difference is assessed. Run with more replicates (\`replicates\` in the configuration, \`--replicates R\`) for intervals.`
    : `${replicates.count} replicates (seeds ${seeds}): each re-draws the photon noise, the gridsize-2 group sampling and the network initialisation and shuffling; the object and scan positions are fixed. Values are the mean ± the half-width of the two-sided 95% confidence interval (Student t, n − 1 degrees of freedom). \"best\" marks the best mean of a dose and view; \"≈ best\" a mean whose interval overlaps the best's, a difference the replicates do not support; a metric some replicate of the dose and view lacks (an FRC not reached) is not marked.`;
}

/** Paths written, relative to the report directory. */
export interface ReportFiles {
  readonly markdown: string;
  readonly html: string;
  readonly plots: readonly string[];
  readonly images: readonly string[];
}

/** `missing`: how a null value is printed (an FRC that did not cross, an MS-SSIM the region was too small for). */
const METRIC_COLUMNS: readonly { key: Exclude<keyof ReportMetrics, "frc">; label: string; digits: number; better: "lower" | "higher"; missing: string }[] = [
  { key: "amplitudeMae", label: "amplitude MAE", digits: 4, better: "lower", missing: "—" },
  { key: "phaseMae", label: "phase MAE (rad)", digits: 4, better: "lower", missing: "—" },
  { key: "amplitudePsnr", label: "amplitude PSNR (dB)", digits: 2, better: "higher", missing: "—" },
  { key: "phasePsnr", label: "phase PSNR (dB)", digits: 2, better: "higher", missing: "—" },
  { key: "amplitudeSsim", label: "amplitude SSIM", digits: 3, better: "higher", missing: "—" },
  { key: "amplitudeMsSsim", label: "amplitude MS-SSIM", digits: 3, better: "higher", missing: "n/a" },
  { key: "phaseSsim", label: "phase SSIM", digits: 3, better: "higher", missing: "—" },
  { key: "phaseMsSsim", label: "phase MS-SSIM", digits: 3, better: "higher", missing: "n/a" },
  { key: "frcHalfBitResolutionPx", label: "FRC half-bit resolution (px)", digits: 2, better: "lower", missing: "not reached" },
  { key: "frc50ResolutionPx", label: "FRC 0.5 resolution (px)", digits: 2, better: "lower", missing: "not reached" },
];

function formatMetric(metrics: ReportMetrics | null, column: (typeof METRIC_COLUMNS)[number]): string {
  if (!metrics) return "—";
  const value = metrics[column.key];
  if (value !== null && value !== undefined) return value.toFixed(column.digits);
  // A curve above the threshold up to the sampling limit resolves finer than 2 px: say so, unlike one that resolves nothing.
  const crossing = column.key === "frcHalfBitResolutionPx" ? metrics.frc?.halfBit : column.key === "frc50ResolutionPx" ? metrics.frc?.fixed : undefined;
  return crossing?.status === "never-below" ? `${column.missing} (< 2 px)` : column.missing;
}

function formatDose(dose: number): string {
  return dose >= 1000 && Number.isInteger(Math.log10(dose)) ? `1e${Math.log10(dose)}` : String(dose);
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function tableRows(data: StudyReportData): string[][] {
  return data.rows.map((row) => [
    formatDose(row.dose),
    row.view,
    row.method,
    row.status,
    ...METRIC_COLUMNS.map((column) => formatMetric(row.metrics, column)),
    row.wallTimeMs === null ? "—" : (row.wallTimeMs / 1000).toFixed(row.wallTimeMs < 10_000 ? 2 : 1),
    row.inferencePatternsPerSecond === null || row.inferencePatternsPerSecond === undefined ? "—" : row.inferencePatternsPerSecond.toFixed(0),
    row.trainingSamples === null ? "—" : String(row.trainingSamples),
    row.bundleSha256 ? row.bundleSha256.slice(0, 12) : "—",
  ]);
}

const TABLE_HEADER = ["dose", "view", "method", "status", ...METRIC_COLUMNS.map((column) => column.label), "wall time (s)", "inference (test patterns/s)", "training samples", "SHA-256 (bundle / reconstruction)"];

/** Writes the report (plots rendered here; `images` maps file names to PNG bytes). */
export async function writeStudyReport(reportDir: string, data: StudyReportData, images: ReadonlyMap<string, Buffer>): Promise<ReportFiles> {
  mkdirSync(path.join(reportDir, "images"), { recursive: true });
  mkdirSync(path.join(reportDir, "plots"), { recursive: true });
  const imageFiles: string[] = [];
  for (const [name, bytes] of images) {
    writeFileAtomicSync(path.join(reportDir, "images", name), bytes);
    imageFiles.push(`images/${name}`);
  }

  // PINN rows train on the Poisson NLL (negative, linear axis), the others on an MAE (log axis).
  const isPinn = (row: ReportJobRow): boolean => row.method.startsWith("PINN");
  const lossPointsOf = (rows: readonly ReportJobRow[]): LossPoint[] => rows.flatMap((row) =>
    row.history.flatMap((entry) => [
      { job: row.jobId, epoch: entry.epoch, series: "train" as const, loss: entry.loss },
      ...(entry.validationLoss === null ? [] : [{ job: row.jobId, epoch: entry.epoch, series: "validation" as const, loss: entry.validationLoss }]),
    ]),
  );
  const lossPoints = lossPointsOf(data.rows.filter((row) => !isPinn(row)));
  const pinnLossPoints = lossPointsOf(data.rows.filter(isPinn));
  const metricPoints: MetricPoint[] = data.rows.flatMap((row) =>
    row.metrics && row.status !== "reference"
      ? METRIC_COLUMNS.flatMap((column) => {
          const value = row.metrics![column.key];
          return value === null || value === undefined ? [] : [{ dose: row.dose, view: row.view, method: row.method, metric: column.label, value }];
        })
      : [],
  );
  const iterationPoints: IterationPoint[] = data.rows.flatMap((row) => row.iterationHistory.map((entry) => ({ job: row.jobId, iteration: entry.iteration, phaseMae: entry.phaseMae })));
  const plots: { file: string; title: string; svg: string }[] = [];
  if (lossPoints.length > 0) plots.push({ file: "plots/loss-curves.svg", title: "Loss curves", svg: await renderVegaLiteSvg(lossCurvesSpec(lossPoints)) });
  if (pinnLossPoints.length > 0) plots.push({ file: "plots/pinn-loss-curves.svg", title: "PINN loss curves (Poisson NLL)", svg: await renderVegaLiteSvg(lossCurvesSpec(pinnLossPoints, { title: "PINN training loss (Poisson NLL, up to a constant)", scale: "linear" })) });
  if (iterationPoints.length > 0) plots.push({ file: "plots/iterative-error.svg", title: "Phase F: phase MAE per iteration", svg: await renderVegaLiteSvg(iterationErrorSpec(iterationPoints)) });
  if (metricPoints.length > 0) plots.push({ file: "plots/metrics-vs-dose.svg", title: "Metrics vs dose", svg: await renderVegaLiteSvg(metricsVsDoseSpec(metricPoints)) });
  const speedPoints: SpeedQualityPoint[] = (data.replicates?.cells ?? []).flatMap((cell) => {
    const quality = cell.metrics.phaseMae;
    return quality === null || cell.wallTimeMs === null || !(cell.wallTimeMs.mean > 0) ? [] : [{ dose: formatDose(cell.dose), view: cell.view, method: cell.method, wallTimeSeconds: cell.wallTimeMs.mean / 1000, phaseMae: quality.mean }];
  });
  if (speedPoints.length > 0) plots.push({ file: "plots/speed-quality.svg", title: "Speed vs quality: phase MAE against wall time, per dose", svg: await renderVegaLiteSvg(speedQualitySpec(speedPoints)) });
  for (const plot of plots) writeFileAtomicSync(path.join(reportDir, plot.file), plot.svg);

  const rows = tableRows(data);
  const imageRows = data.rows.filter((row) => row.images !== null);

  // Markdown.
  const md: string[] = [`# ${data.title}`, "", `Run id: \`${data.runId}\` · preset: \`${data.preset}\``, ""];
  for (const [key, value] of data.summary) md.push(`- **${key}:** ${value}`);
  const replicateRows = data.replicates ? replicateTable(data.replicates.cells) : null;
  if (data.replicates) {
    md.push("", "## Findings", "", `Generated from the measured numbers below: per dose and view, the method with the best phase and amplitude MAE, its margin over the runner-up, and whether the replicates' 95% intervals support it. ${replicateIntro(data.replicates)}`, "");
    for (const finding of data.replicates.findings) md.push(`- ${finding}`);
    md.push("", "## Replicates: mean ± 95% confidence interval", "", replicateIntro(data.replicates), "");
    md.push(`| ${replicateRows!.header.join(" | ")} |`, `| ${replicateRows!.header.map(() => "---").join(" | ")} |`);
    for (const row of replicateRows!.rows) md.push(`| ${row.join(" | ")} |`);
  }
  md.push("", data.replicates && data.replicates.count > 1 ? "## Metrics on the held-out test region (replicate 0)" : "## Metrics on the held-out test region", "", "Lower is better for MAE and FRC resolution; higher is better for PSNR, SSIM and MS-SSIM. Phase metrics remove the global phase offset. FRC \"not reached\": the curve never crosses the threshold: it is below it from the first ring (nothing resolved), or, marked \"(< 2 px)\", above it up to the 2 px sampling limit (see the appendix).", "");
  md.push(`| ${TABLE_HEADER.join(" | ")} |`, `| ${TABLE_HEADER.map(() => "---").join(" | ")} |`);
  for (const row of rows) md.push(`| ${row.join(" | ")} |`);
  const skipped = data.rows.filter((row) => row.note !== null);
  if (skipped.length > 0) {
    md.push("", "### Skipped and failed jobs", "");
    for (const row of skipped) md.push(`- \`${row.jobId}\` (${row.status}): ${row.note}`);
  }
  md.push("", "## Plots", "");
  for (const plot of plots) md.push(`![${plot.title}](${plot.file})`, "");
  const differences = data.differenceScale ?? null;
  md.push("## Ground truth vs reconstructions (test region)", "");
  if (differences) md.push(differenceCaption(differences), "");
  md.push(differences ? "| model | amplitude | phase | amplitude − truth | phase − truth |" : "| model | amplitude | phase |", differences ? "| --- | --- | --- | --- | --- |" : "| --- | --- | --- |");
  md.push(`| ground truth | ![ground truth amplitude](images/${data.groundTruth.amplitude}) | ![ground truth phase](images/${data.groundTruth.phase}) |${differences ? " — | — |" : ""}`);
  const markdownImage = (alt: string, file: string | undefined): string => (file ? `![${alt}](images/${file})` : "—");
  for (const row of imageRows) {
    const images = row.images!;
    const differenceCells = differences ? ` ${markdownImage(`${row.jobId} amplitude difference`, images.amplitudeDifference)} | ${markdownImage(`${row.jobId} phase difference`, images.phaseDifference)} |` : "";
    md.push(`| ${row.jobId} | ![${row.jobId} amplitude](images/${images.amplitude}) | ![${row.jobId} phase](images/${images.phase}) |${differenceCells}`);
  }
  if (data.notes.length > 0) {
    md.push("", "## Notes", "");
    for (const note of data.notes) md.push(`- ${note}`);
  }
  md.push("", "## Appendix: metric definitions", "");
  for (const metric of METRIC_DEFINITIONS) md.push(`- **${metric.name}.** ${metric.definition}`);
  md.push("");
  writeFileAtomicSync(path.join(reportDir, "report.md"), md.join("\n"));

  // Self-contained HTML.
  const dataUri = (name: string): string => {
    const bytes = images.get(name);
    return bytes ? `data:image/png;base64,${bytes.toString("base64")}` : "";
  };
  const html: string[] = [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(data.title)}</title>`,
    "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}table{border-collapse:collapse;margin:1em 0}" +
      "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}td.text{text-align:left}" +
      "img{image-rendering:pixelated;max-width:360px}code{background:#f3f3f3;padding:1px 4px}figure{margin:1em 0}</style>",
    "</head><body>",
    `<h1>${escapeHtml(data.title)}</h1>`,
    `<p>Run id: <code>${escapeHtml(data.runId)}</code> · preset: <code>${escapeHtml(data.preset)}</code></p>`,
    "<ul>",
    ...data.summary.map(([key, value]) => `<li><b>${escapeHtml(key)}:</b> ${escapeHtml(value)}</li>`),
    "</ul>",
    ...(data.replicates
      ? [
          "<h2>Findings</h2>",
          `<p>Generated from the measured numbers below: per dose and view, the method with the best phase and amplitude MAE, its margin over the runner-up, and whether the replicates' 95% intervals support it. ${escapeHtml(replicateIntro(data.replicates))}</p>`,
          "<ul>",
          ...data.replicates.findings.map((finding) => `<li>${escapeHtml(finding)}</li>`),
          "</ul>",
          "<h2>Replicates: mean ± 95% confidence interval</h2>",
          `<p>${escapeHtml(replicateIntro(data.replicates))}</p>`,
          "<table><thead><tr>",
          ...replicateRows!.header.map((label) => `<th>${escapeHtml(label)}</th>`),
          "</tr></thead><tbody>",
          ...replicateRows!.rows.map((row) => `<tr>${row.map((cell, index) => `<td${index >= 1 && index <= 2 ? ' class="text"' : ""}>${escapeHtml(cell)}</td>`).join("")}</tr>`),
          "</tbody></table>",
        ]
      : []),
    `<h2>Metrics on the held-out test region${data.replicates && data.replicates.count > 1 ? " (replicate 0)" : ""}</h2>`,
    "<p>Lower is better for MAE and FRC resolution; higher is better for PSNR, SSIM and MS-SSIM. Phase metrics remove the global phase offset. FRC \"not reached\": the curve never crosses the threshold: it is below it from the first ring (nothing resolved), or, marked \"(< 2 px)\", above it up to the 2 px sampling limit (see the appendix).</p>",
    "<table><thead><tr>",
    ...TABLE_HEADER.map((label) => `<th>${escapeHtml(label)}</th>`),
    "</tr></thead><tbody>",
    ...rows.map((row) => `<tr>${row.map((cell, index) => `<td${index >= 1 && index <= 3 ? ' class="text"' : ""}>${escapeHtml(cell)}</td>`).join("")}</tr>`),
    "</tbody></table>",
  ];
  if (skipped.length > 0) {
    html.push("<h3>Skipped and failed jobs</h3><ul>");
    for (const row of skipped) html.push(`<li><code>${escapeHtml(row.jobId)}</code> (${escapeHtml(row.status)}): ${escapeHtml(row.note ?? "")}</li>`);
    html.push("</ul>");
  }
  html.push("<h2>Plots</h2>");
  for (const plot of plots) html.push(`<figure>${plot.svg}<figcaption>${escapeHtml(plot.title)}</figcaption></figure>`);
  html.push("<h2>Ground truth vs reconstructions (test region)</h2>");
  if (differences) html.push(`<p>${escapeHtml(differenceCaption(differences))}</p>`);
  html.push(`<table><thead><tr><th>model</th><th>amplitude</th><th>phase</th>${differences ? "<th>amplitude − truth</th><th>phase − truth</th>" : ""}</tr></thead><tbody>`);
  html.push(`<tr><td class="text">ground truth</td><td><img alt="ground truth amplitude" src="${dataUri(data.groundTruth.amplitude)}"></td><td><img alt="ground truth phase" src="${dataUri(data.groundTruth.phase)}"></td>${differences ? "<td>—</td><td>—</td>" : ""}</tr>`);
  const htmlImage = (alt: string, file: string | undefined): string => (file ? `<img alt="${escapeHtml(alt)}" src="${dataUri(file)}">` : "—");
  for (const row of imageRows) {
    const images = row.images!;
    const differenceCells = differences ? `<td>${htmlImage(`${row.jobId} amplitude difference`, images.amplitudeDifference)}</td><td>${htmlImage(`${row.jobId} phase difference`, images.phaseDifference)}</td>` : "";
    html.push(`<tr><td class="text">${escapeHtml(row.jobId)}</td><td>${htmlImage(`${row.jobId} amplitude`, images.amplitude)}</td><td>${htmlImage(`${row.jobId} phase`, images.phase)}</td>${differenceCells}</tr>`);
  }
  html.push("</tbody></table>");
  if (data.notes.length > 0) {
    html.push("<h2>Notes</h2><ul>");
    for (const note of data.notes) html.push(`<li>${escapeHtml(note)}</li>`);
    html.push("</ul>");
  }
  html.push("<h2>Appendix: metric definitions</h2><dl>");
  for (const metric of METRIC_DEFINITIONS) html.push(`<dt><b>${escapeHtml(metric.name)}</b></dt><dd>${escapeHtml(metric.definition)}</dd>`);
  html.push("</dl>");
  html.push("</body></html>", "");
  writeFileAtomicSync(path.join(reportDir, "report.html"), html.join("\n"));
  return { markdown: "report.md", html: "report.html", plots: plots.map((plot) => plot.file), images: imageFiles };
}
