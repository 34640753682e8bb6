/**
 * The per-epoch metrics files a run keeps beside its checkpoint: `metrics.jsonl` (one JSON object per
 * epoch) and `metrics.csv` (the same fields as columns). Both are rewritten whole after every epoch from
 * the checkpointed list, so a resumed run never duplicates a line.
 */
import type { EpochMetrics } from "../train.js";

const CSV_COLUMNS = ["epoch", "loss", "valLoss", "learningRate", "samplesPerSecond", "seconds", "engine", "backend"] as const;

/** `metrics.jsonl`: one line per epoch. */
export function metricsJsonl(metrics: readonly EpochMetrics[]): string {
  return metrics.map((m) => JSON.stringify(m)).join("\n") + "\n";
}

/** `metrics.csv`: a header row, then one row per epoch (an empty cell for a missing validation loss). */
export function metricsCsv(metrics: readonly EpochMetrics[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? "" : String(v));
  return [CSV_COLUMNS.join(","), ...metrics.map((m) => CSV_COLUMNS.map((c) => cell(m[c])).join(","))].join("\n") + "\n";
}
