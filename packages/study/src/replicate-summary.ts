/**
 * Phase G over replicates: every (dose, view, method) cell's metrics as a mean with its 95% confidence
 * interval across the study's replicates ({@link summariseReplicates}), and the findings written from
 * them ({@link writeFindings}): in each dose × overlap-view cell, which method scores best, by how much,
 * and whether the intervals support the difference. Findings state only what was measured; with one
 * replicate they say "n=1, no interval" and leave the difference unassessed.
 */
import { differenceSupport, formatMeanInterval, meanInterval, type DifferenceSupport, type MeanInterval } from "./replicate-statistics.js";

/** The metrics summarised over replicates, with their direction and print precision. */
export const SUMMARY_METRICS = [
  { key: "phaseMae", label: "phase MAE (rad)", short: "phase MAE", better: "lower", digits: 4 },
  { key: "amplitudeMae", label: "amplitude MAE", short: "amplitude MAE", better: "lower", digits: 4 },
  { key: "amplitudeSsim", label: "amplitude SSIM", short: "amplitude SSIM", better: "higher", digits: 3 },
  { key: "phaseSsim", label: "phase SSIM", short: "phase SSIM", better: "higher", digits: 3 },
  { key: "frcHalfBitResolutionPx", label: "FRC half-bit (px)", short: "FRC half-bit resolution", better: "lower", digits: 2 },
] as const;

/** A key of {@link SUMMARY_METRICS}. */
export type SummaryMetricKey = (typeof SUMMARY_METRICS)[number]["key"];

/** The metrics the findings are written for (the study's headline errors). */
export const FINDING_METRICS: readonly SummaryMetricKey[] = ["phaseMae", "amplitudeMae"];

/** One scored reconstruction of one replicate, as the summary needs it. */
export interface ReplicateRow {
  readonly replicate: number;
  readonly dose: number;
  readonly view: string;
  /** `supervised gs1`, `PINN gs2`, `epie 50 it`. */
  readonly method: string;
  /** `network` (Phase E) or `iterative` (Phase F). */
  readonly family: "network" | "iterative";
  /** Null when the replicate did not score it (skipped, failed). */
  readonly metrics: { readonly [K in SummaryMetricKey]: number | null } | null;
  readonly wallTimeMs: number | null;
}

/** One (dose, view, method) cell over the replicates. */
export interface ReplicateCell {
  readonly dose: number;
  readonly view: string;
  readonly method: string;
  readonly family: "network" | "iterative";
  /** Replicates that scored the cell. */
  readonly scored: number;
  /** Replicates the study ran. */
  readonly replicates: number;
  readonly metrics: { readonly [K in SummaryMetricKey]: MeanInterval | null };
  readonly wallTimeMs: MeanInterval | null;
}

/**
 * Groups `rows` into (dose, view, method) cells and gives each metric's mean and 95% interval over the
 * replicates that have it (an FRC that never crossed is left out of its mean; `n` says how many remain).
 */
export function summariseReplicates(rows: readonly ReplicateRow[], replicates: number): ReplicateCell[] {
  const groups = new Map<string, ReplicateRow[]>();
  for (const row of rows) {
    const key = JSON.stringify([row.dose, row.view, row.method]);
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  const cells: ReplicateCell[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const scored = group.filter((row) => row.metrics !== null);
    const metrics = Object.fromEntries(SUMMARY_METRICS.map(({ key }) => [key, meanInterval(scored.map((row) => row.metrics![key]))])) as ReplicateCell["metrics"];
    cells.push({
      dose: first.dose,
      view: first.view,
      method: first.method,
      family: first.family,
      scored: scored.length,
      replicates,
      metrics,
      wallTimeMs: meanInterval(scored.map((row) => row.wallTimeMs)),
    });
  }
  return cells;
}

/** How two cells of one metric compare: the better one, by how much, and what the intervals say. */
export interface CellComparison {
  readonly best: ReplicateCell;
  readonly other: ReplicateCell;
  /** |mean(other) − mean(best)|. */
  readonly difference: number;
  /** `tie` also when the means agree to the printed precision. */
  readonly support: DifferenceSupport;
}

function metricOf(key: SummaryMetricKey): (typeof SUMMARY_METRICS)[number] {
  return SUMMARY_METRICS.find((metric) => metric.key === key)!;
}

/** Whether every replicate that scored `cell` has `key` (an FRC that did not cross has none). */
export function hasEveryReplicate(cell: ReplicateCell, key: SummaryMetricKey): boolean {
  return cell.scored > 0 && cell.metrics[key]?.n === cell.scored;
}

/** The cells of one (dose, view) with `key` scored, best first. */
export function rankCells(cells: readonly ReplicateCell[], key: SummaryMetricKey): ReplicateCell[] {
  const metric = metricOf(key);
  const sign = metric.better === "lower" ? 1 : -1;
  return cells.filter((cell) => cell.metrics[key] !== null).sort((a, b) => sign * (a.metrics[key]!.mean - b.metrics[key]!.mean) || a.method.localeCompare(b.method));
}

/** Compares `other` with `best` on `key` (both must have it). */
export function compareCells(best: ReplicateCell, other: ReplicateCell, key: SummaryMetricKey): CellComparison {
  const a = best.metrics[key]!;
  const b = other.metrics[key]!;
  const difference = Math.abs(b.mean - a.mean);
  // Means that print the same are a tie whatever the intervals say.
  const tie = difference < 0.5 * 10 ** -metricOf(key).digits;
  return { best, other, difference, support: tie ? "tie" : differenceSupport(a, b) };
}

function formatDose(dose: number): string {
  return dose >= 1000 && Number.isInteger(Math.log10(dose)) ? `1e${Math.log10(dose)}` : String(dose);
}

/** One finding: a (dose, view) cell and metric, and its sentence. */
export interface Finding {
  readonly dose: number;
  readonly view: string;
  readonly metric: SummaryMetricKey;
  /** The best method; null for a tie. */
  readonly winner: string | null;
  readonly support: DifferenceSupport | "single";
  readonly text: string;
}

/**
 * The findings: for each dose × view and each of `metrics`, the best method, its margin over the runner-up
 * (absolute and relative), and whether the 95% intervals support it; with `floor` (the mean predictor's
 * scores), a winner no better than the floor is called out. Sentences use only the numbers in `cells`.
 */
export function writeFindings(
  cells: readonly ReplicateCell[],
  options: { readonly metrics?: readonly SummaryMetricKey[]; readonly floor?: Partial<Record<SummaryMetricKey, number | null>> } = {},
): Finding[] {
  const metrics = options.metrics ?? FINDING_METRICS;
  const doses = [...new Set(cells.map((cell) => cell.dose))].sort((a, b) => a - b);
  const findings: Finding[] = [];
  for (const dose of doses) {
    const views = [...new Set(cells.filter((cell) => cell.dose === dose).map((cell) => cell.view))];
    for (const view of views) {
      const here = cells.filter((cell) => cell.dose === dose && cell.view === view);
      for (const key of metrics) {
        const metric = metricOf(key);
        const ranked = rankCells(here, key);
        const where = `dose ${formatDose(dose)}, ${view}`;
        const show = (cell: ReplicateCell): string => formatMeanInterval(cell.metrics[key], metric.digits);
        if (ranked.length === 0) continue;
        // A value missing in some replicate (an FRC not reached: finer than 2 px, or nothing resolved) has no
        // place in a ranking by means: say so instead of ranking the rest.
        const incomplete = here.filter((cell) => cell.scored > 0 && !hasEveryReplicate(cell, key));
        if (incomplete.length > 0) {
          findings.push({ dose, view, metric: key, winner: null, support: "not-assessed", text: `${where}: ${metric.short} is not ranked: ${incomplete.map((cell) => `${cell.method} (${cell.metrics[key]?.n ?? 0} of ${cell.scored} replicates)`).join(", ")} lack a value in some replicates.` });
          continue;
        }
        const best = ranked[0]!;
        const floor = options.floor?.[key];
        const floorNote =
          floor === null || floor === undefined
            ? ""
            : (metric.better === "lower" ? best.metrics[key]!.mean >= floor : best.metrics[key]!.mean <= floor)
              ? `; no better than predicting the mean (${floor.toFixed(metric.digits)})`
              : "";
        if (ranked.length === 1) {
          findings.push({ dose, view, metric: key, winner: best.method, support: "single", text: `${where}: only ${best.method} was scored on ${metric.short}: ${show(best)}${floorNote}.` });
          continue;
        }
        const comparison = compareCells(best, ranked[1]!, key);
        const other = comparison.other;
        const relative = other.metrics[key]!.mean !== 0 ? (100 * comparison.difference) / Math.abs(other.metrics[key]!.mean) : null;
        const direction = metric.better === "lower" ? "lower" : "higher";
        const margin = `${comparison.difference.toFixed(metric.digits)}${relative === null ? "" : ` (${relative.toFixed(0)}%)`} ${direction} than ${other.method} (${show(other)})`;
        let text: string;
        switch (comparison.support) {
          case "tie":
            text = `${where}: ${best.method} and ${other.method} tie on ${metric.short} (${show(best)} vs ${show(other)})${floorNote}.`;
            break;
          case "supported":
            text = `${where}: ${best.method} has the best ${metric.short}, ${show(best)}, ${margin}; the 95% intervals do not overlap, so the replicates support the difference${floorNote}.`;
            break;
          case "unsupported":
            text = `${where}: ${best.method} has the best ${metric.short}, ${show(best)}, ${margin}; the 95% intervals overlap, so the replicates do not support the difference${floorNote}.`;
            break;
          case "not-assessed":
            text = `${where}: ${best.method} has the best ${metric.short}, ${show(best)}, ${margin}; n=1, no interval, so the difference is not assessed${floorNote}.`;
            break;
        }
        findings.push({ dose, view, metric: key, winner: comparison.support === "tie" ? null : best.method, support: comparison.support, text });
      }
    }
  }
  return findings;
}
