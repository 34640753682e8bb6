/**
 * `compareRuns(a, b, { mode })`: whether two runs can be compared (`@studykit/core`'s
 * `assessComparability` on their recorded identities), what differs in their identities, and — when both
 * are studies with a Phase G `comparison.json` — the metric deltas of every network job and every
 * iterative reconstruction they share (replicate 0's), and, over all of each study's replicates, every
 * (dose, view, method) cell's mean ± 95% interval in both and whether the intervals support the change.
 *
 * A run is a study output root (`study_manifest.json`), a core run root (`run-manifest.json`), or either
 * manifest file itself. Modes are core's: `strict` refuses partial identities and runs without a dataset
 * snapshot hash, and a verdict of `incomparable` becomes an `E_RUNS_INCOMPARABLE` error listing every
 * reason; `warn` returns the verdict with its reasons as warnings; `off` returns it without warnings.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import {
  CoreError,
  CoreErrorCode,
  RUN_MANIFEST_FILE,
  assessComparability,
  readRunManifest,
  type Comparability,
  type ComparabilityReason,
  type IdentityRecord,
} from "@studykit/core";
import { RunComparisonError, RunComparisonErrorCode } from "./errors.js";
import { replicateRowsOf, type ComparisonResult } from "./compare-phase.js";
import { SUMMARY_METRICS, summariseReplicates, type ReplicateCell, type SummaryMetricKey } from "./replicate-summary.js";
import type { MeanInterval } from "./replicate-statistics.js";
import { STUDY_LAYOUT } from "./study-layout.js";
import type { StudyManifest } from "./study-pipeline.js";

/** `strict`, `warn` or `off` (see the module doc). */
export type RunComparisonMode = "strict" | "warn" | "off";

/** A run as {@link compareRuns} loaded it. */
export interface LoadedRun {
  /** The manifest file read. */
  readonly manifest: string;
  readonly kind: "study" | "run";
  readonly runId: string | null;
  readonly identity: IdentityRecord;
  /** Phase G's comparison (studies that reached Phase G), else null. */
  readonly comparison: ComparisonResult | null;
  /** Every replicate's Phase G comparison, replicate 0 first (a study that reached Phase G), else empty. */
  readonly replicateComparisons: readonly ComparisonResult[];
}

/**
 * One metric of one (dose, view, method) cell over each study's replicates: mean ± 95% interval in A and B
 * (null where the study has no value), `delta = b.mean − a.mean`, and whether the intervals support it:
 * `supported` when both have an interval (n ≥ 2) and they do not overlap, `not supported` when they
 * overlap, `not assessed` when either has no interval.
 */
export interface CellDelta {
  readonly dose: number;
  readonly view: string;
  readonly method: string;
  readonly metric: SummaryMetricKey;
  readonly a: MeanInterval | null;
  readonly b: MeanInterval | null;
  readonly delta: number | null;
  readonly verdict: "supported" | "not supported" | "not assessed";
}

/** The metrics whose deltas are reported, in report order. */
export const COMPARED_METRICS = [
  "amplitudeMae",
  "phaseMae",
  "amplitudePsnr",
  "phasePsnr",
  "amplitudeSsim",
  "amplitudeMsSsim",
  "phaseSsim",
  "phaseMsSsim",
  "frcHalfBitResolutionPx",
  "frc50ResolutionPx",
] as const;

/**
 * One metric of one job or reconstruction in both runs: `delta = b − a`. A value is null where the run
 * has none (an FRC resolution not reached, MS-SSIM on a region too small, a metric an older run did not
 * record), and the delta then is null.
 */
export interface MetricDelta {
  /** `jobs` (Phase E networks) or `iterative` (Phase F reconstructions). */
  readonly section: "jobs" | "iterative";
  readonly id: string;
  readonly metric: (typeof COMPARED_METRICS)[number];
  readonly a: number | null;
  readonly b: number | null;
  readonly delta: number | null;
}

/** What differs in the identities, by part. Empty lists mean the part is the same. */
export interface IdentityDifferences {
  readonly config: readonly string[];
  readonly datasetSnapshot: readonly string[];
  readonly codeVersion: readonly string[];
  readonly runtime: readonly string[];
  readonly seeds: readonly string[];
  readonly other: readonly string[];
}

/** What {@link compareRuns} returns. */
export interface RunComparison {
  readonly mode: RunComparisonMode;
  readonly a: Omit<LoadedRun, "identity" | "comparison" | "replicateComparisons">;
  readonly b: Omit<LoadedRun, "identity" | "comparison" | "replicateComparisons">;
  readonly comparability: Comparability;
  /** The reasons that lowered the verdict (empty in `off` mode). */
  readonly warnings: readonly string[];
  readonly differences: IdentityDifferences;
  /** Null unless both runs have a Phase G comparison. */
  readonly metrics: {
    readonly deltas: readonly MetricDelta[];
    /** Jobs/reconstructions scored in one run only (or unscored in one). */
    readonly onlyInA: readonly string[];
    readonly onlyInB: readonly string[];
    /** Each shared cell over all replicates (see {@link CellDelta}); replicates scored in A and B. */
    readonly cells: readonly CellDelta[];
    readonly replicates: { readonly a: number; readonly b: number };
  } | null;
}

function manifestFileOf(target: string): string {
  if (existsSync(target) && statSync(target).isDirectory()) {
    for (const name of [STUDY_LAYOUT.studyManifest, RUN_MANIFEST_FILE]) {
      const file = path.join(target, name);
      if (existsSync(file)) return file;
    }
    throw new RunComparisonError(RunComparisonErrorCode.NotARun, `${target} holds neither ${STUDY_LAYOUT.studyManifest} nor ${RUN_MANIFEST_FILE}: pass a study's output root, a run root, or one of those manifest files`);
  }
  if (!existsSync(target)) throw new RunComparisonError(RunComparisonErrorCode.NotARun, `${target} does not exist: pass a study's output root, a run root, or its manifest file`);
  return target;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CoreError(CoreErrorCode.JsonInvalid, `${file} is not valid JSON (${(error as Error).message}); rerun the run that wrote it`);
  }
}

/** Loads a run: its identity record and, for a study, Phase G's comparison. */
export async function loadRunForComparison(target: string): Promise<LoadedRun> {
  const file = manifestFileOf(path.resolve(target));
  if (path.basename(file) === RUN_MANIFEST_FILE) {
    const manifest = await readRunManifest(path.dirname(file));
    return { manifest: file, kind: "run", runId: manifest.runId, identity: manifest.identity as IdentityRecord, comparison: null, replicateComparisons: [] };
  }
  const manifest = readJson(file) as Partial<StudyManifest> | null;
  if (manifest === null || typeof manifest !== "object" || manifest.kind !== "studykit-study" || typeof manifest.identity?.fields !== "object" || manifest.identity.fields === null) {
    throw new RunComparisonError(RunComparisonErrorCode.NotARun, `${file} is not a study manifest (kind "studykit-study" with identity.fields) nor a ${RUN_MANIFEST_FILE}: pass a study's output root or a run root`);
  }
  const root = path.dirname(file);
  const comparisonPath = manifest.phases?.G?.comparison ?? null;
  const comparisonFile = comparisonPath === null ? null : path.join(root, comparisonPath);
  const comparison = comparisonFile !== null && existsSync(comparisonFile) ? (readJson(comparisonFile) as ComparisonResult) : null;
  // Replicates 1 … R − 1 as the study manifest lists them (a replicate whose Phase G did not run is left out).
  const others = (Array.isArray(manifest.replicates) ? manifest.replicates : [])
    .map((replicate) => (replicate.phases?.G ? path.join(root, replicate.phases.G) : null))
    .filter((other): other is string => other !== null && existsSync(other))
    .map((other) => readJson(other) as ComparisonResult);
  return { manifest: file, kind: "study", runId: manifest.runId ?? null, identity: manifest.identity.fields as IdentityRecord, comparison, replicateComparisons: comparison === null ? [] : [comparison, ...others] };
}

function differencesOf(details: readonly ComparabilityReason[]): IdentityDifferences {
  const parts = { config: [] as string[], datasetSnapshot: [] as string[], codeVersion: [] as string[], runtime: [] as string[], seeds: [] as string[], other: [] as string[] };
  for (const detail of details) {
    if (detail.kind !== "differs" && detail.kind !== "replicate" && !(detail.kind === "missing" && detail.field.startsWith("codeVersion"))) continue;
    const field = detail.field;
    const part = field.startsWith("config") ? parts.config : field === "datasetSnapshotHash" ? parts.datasetSnapshot : field.startsWith("codeVersion") ? parts.codeVersion : field.startsWith("runtime") ? parts.runtime : field === "seeds" ? parts.seeds : parts.other;
    part.push(detail.message);
  }
  return parts;
}

function metricDeltas(a: ComparisonResult, b: ComparisonResult): Pick<NonNullable<RunComparison["metrics"]>, "deltas" | "onlyInA" | "onlyInB"> {
  const deltas: MetricDelta[] = [];
  const onlyInA: string[] = [];
  const onlyInB: string[] = [];
  const sections = [
    ["jobs", a.jobs.map((job) => [job.jobId, job.metrics] as const), b.jobs.map((job) => [job.jobId, job.metrics] as const)],
    ["iterative", (a.iterative ?? []).map((record) => [record.id, record.metrics] as const), (b.iterative ?? []).map((record) => [record.id, record.metrics] as const)],
  ] as const;
  for (const [section, rowsA, rowsB] of sections) {
    const scoredA = new Map(rowsA.filter(([, metrics]) => metrics !== null));
    const scoredB = new Map(rowsB.filter(([, metrics]) => metrics !== null));
    for (const [id, metricsA] of scoredA) {
      const metricsB = scoredB.get(id);
      if (!metricsB) {
        onlyInA.push(`${section}: ${id}`);
        continue;
      }
      for (const metric of COMPARED_METRICS) {
        const valueA = metricsA![metric] ?? null;
        const valueB = metricsB[metric] ?? null;
        deltas.push({ section, id, metric, a: valueA, b: valueB, delta: valueA === null || valueB === null ? null : valueB - valueA });
      }
    }
    for (const id of scoredB.keys()) if (!scoredA.has(id)) onlyInB.push(`${section}: ${id}`);
  }
  return { deltas, onlyInA, onlyInB };
}

/**
 * Every (dose, view, method) cell both sets of Phase G comparisons (one per replicate) score, per summary
 * metric: each side's mean ± 95% interval over its replicates, the change of the means, and the verdict
 * (see {@link CellDelta}).
 */
export function replicateCellDeltas(a: readonly ComparisonResult[], b: readonly ComparisonResult[]): CellDelta[] {
  const cellsOf = (results: readonly ComparisonResult[]): Map<string, ReplicateCell> =>
    new Map(summariseReplicates(results.flatMap((result) => replicateRowsOf(result)), results.length).map((cell) => [JSON.stringify([cell.dose, cell.view, cell.method]), cell]));
  const cellsA = cellsOf(a);
  const cellsB = cellsOf(b);
  const deltas: CellDelta[] = [];
  for (const [key, cellA] of cellsA) {
    const cellB = cellsB.get(key);
    if (!cellB) continue;
    for (const { key: metric } of SUMMARY_METRICS) {
      const valueA = cellA.metrics[metric];
      const valueB = cellB.metrics[metric];
      const intervals = valueA?.low != null && valueA.high != null && valueB?.low != null && valueB.high != null;
      const verdict = !intervals ? "not assessed" : valueA.high! < valueB.low! || valueB.high! < valueA.low! ? "supported" : "not supported";
      deltas.push({ dose: cellA.dose, view: cellA.view, method: cellA.method, metric, a: valueA, b: valueB, delta: valueA && valueB ? valueB.mean - valueA.mean : null, verdict });
    }
  }
  return deltas;
}

/**
 * Compares two runs (see the module doc). Throws `E_RUNS_INCOMPARABLE` in strict mode when the verdict is
 * `incomparable`, and core's `E_IDENTITY_NOT_FINAL` / `E_SNAPSHOT_REQUIRED` when strict mode lacks evidence.
 */
export async function compareRuns(a: string, b: string, options: { mode?: RunComparisonMode } = {}): Promise<RunComparison> {
  const mode = options.mode ?? "strict";
  if (mode !== "strict" && mode !== "warn" && mode !== "off") {
    throw new RunComparisonError(RunComparisonErrorCode.Mode, `comparison mode must be strict, warn or off, got ${JSON.stringify(mode)}`);
  }
  const runA = await loadRunForComparison(a);
  const runB = await loadRunForComparison(b);
  const warnings: string[] = [];
  const comparability = assessComparability(runA.identity, runB.identity, { mode, onWarning: () => {} });
  if (mode === "strict" && !comparability.comparable) {
    const reasons = comparability.details.filter((detail) => detail.effect === "incomparable").map((detail) => `\n  - ${detail.message}`).join("");
    throw new RunComparisonError(RunComparisonErrorCode.Incomparable, `runs ${runA.runId ?? runA.manifest} and ${runB.runId ?? runB.manifest} are not comparable in strict mode:${reasons}\n(use --mode warn to see the differences and deltas anyway)`);
  }
  if (mode === "warn") for (const detail of comparability.details) if (detail.effect !== "stable") warnings.push(detail.message);
  const summary = (run: LoadedRun) => ({ manifest: run.manifest, kind: run.kind, runId: run.runId });
  return {
    mode,
    a: summary(runA),
    b: summary(runB),
    comparability,
    warnings,
    differences: differencesOf(comparability.details),
    metrics:
      runA.comparison && runB.comparison
        ? { ...metricDeltas(runA.comparison, runB.comparison), cells: replicateCellDeltas(runA.replicateComparisons, runB.replicateComparisons), replicates: { a: runA.replicateComparisons.length, b: runB.replicateComparisons.length } }
        : null,
  };
}
