/**
 * The report's plots, written as vega-lite specifications, compiled to vega and rendered headless to SVG
 * (`vega.View#toSVG` with the `none` renderer: no browser, no canvas).
 */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** One point of a training history. */
export interface LossPoint {
  readonly job: string;
  readonly epoch: number;
  readonly series: "train" | "validation";
  readonly loss: number;
}

/** One metric value of one job. */
export interface MetricPoint {
  readonly dose: number;
  readonly view: string;
  /** `network`, or Phase F's method (`epie 50 it`). */
  readonly method: string;
  readonly metric: string;
  readonly value: number;
}

/** Renders a vega-lite spec to an SVG string. */
export async function renderVegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Loss curves of every job vs epoch, validation dashed: log loss by default; `linear` for losses that may be
 * negative (the PINN's Poisson NLL is defined up to a data constant).
 */
export function lossCurvesSpec(points: readonly LossPoint[], options: { readonly title?: string; readonly scale?: "log" | "linear" } = {}): TopLevelSpec {
  const log = (options.scale ?? "log") === "log";
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: options.title ?? "Training loss per job",
    width: 520,
    height: 300,
    data: { values: points.filter((point) => Number.isFinite(point.loss) && (!log || point.loss > 0)) as unknown as Record<string, unknown>[] },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } },
      y: { field: "loss", type: "quantitative", title: "loss", scale: log ? { type: "log", nice: false } : { zero: false } },
      color: { field: "job", type: "nominal", title: "job", legend: { labelLimit: 400 } },
      strokeDash: { field: "series", type: "nominal", title: "series" },
    },
  } as TopLevelSpec;
}

/** Small multiples: each metric against dose (log axis), one line per view. */
export function metricsVsDoseSpec(points: readonly MetricPoint[]): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Reconstruction quality vs dose (test region)",
    data: { values: points.filter((point) => Number.isFinite(point.value)) as unknown as Record<string, unknown>[] },
    facet: { field: "metric", type: "nominal", title: null },
    columns: 3,
    spec: {
      width: 200,
      height: 150,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "dose", type: "quantitative", title: "dose (photons / pattern)", scale: { type: "log" } },
        y: { field: "value", type: "quantitative", title: null, scale: { zero: false } },
        color: { field: "view", type: "nominal", title: "view" },
        strokeDash: { field: "method", type: "nominal", title: "method" },
        shape: { field: "method", type: "nominal", title: "method" },
      },
    },
    resolve: { scale: { y: "independent" } },
  } as TopLevelSpec;
}

/** One iteration of one Phase F reconstruction. */
export interface IterationPoint {
  readonly job: string;
  readonly iteration: number;
  readonly phaseMae: number;
}

/** Phase F's object phase MAE per iteration (log scale), one line per reconstruction. */
export function iterationErrorSpec(points: readonly IterationPoint[]): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Phase F: object phase MAE per iteration (test split, central windows of its positions)",
    width: 520,
    height: 300,
    data: { values: points.filter((point) => Number.isFinite(point.phaseMae) && point.phaseMae > 0) as unknown as Record<string, unknown>[] },
    mark: { type: "line" },
    encoding: {
      x: { field: "iteration", type: "quantitative", title: "iteration", axis: { tickMinStep: 1 } },
      y: { field: "phaseMae", type: "quantitative", title: "phase MAE (rad)", scale: { type: "log", nice: false } },
      color: { field: "job", type: "nominal", title: "reconstruction", legend: { labelLimit: 400 } },
    },
  } as TopLevelSpec;
}

/** One method's mean quality and wall time at one dose (over the replicates). */
export interface SpeedQualityPoint {
  /** `1e3`, … (one panel per dose). */
  readonly dose: string;
  readonly view: string;
  readonly method: string;
  /** Training + inference (network) or the iterations (Phase F), seconds. */
  readonly wallTimeSeconds: number;
  readonly phaseMae: number;
}

/**
 * The speed–quality trade-off: phase MAE against wall time (log axis), one panel per dose, a colour per
 * method and a shape per view — what a network's training buys over an iterative reconstruction.
 */
export function speedQualitySpec(points: readonly SpeedQualityPoint[]): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Phase MAE vs wall time, per dose (lower left is better)",
    data: { values: points.filter((point) => Number.isFinite(point.phaseMae) && point.wallTimeSeconds > 0) as unknown as Record<string, unknown>[] },
    facet: { field: "dose", type: "ordinal", title: "dose (photons / pattern)" },
    columns: 3,
    spec: {
      width: 200,
      height: 170,
      mark: { type: "point", filled: true, size: 70 },
      encoding: {
        x: { field: "wallTimeSeconds", type: "quantitative", title: "wall time (s)", scale: { type: "log" } },
        y: { field: "phaseMae", type: "quantitative", title: "phase MAE (rad)", scale: { zero: false } },
        color: { field: "method", type: "nominal", title: "method" },
        shape: { field: "view", type: "nominal", title: "view" },
        tooltip: [{ field: "method" }, { field: "view" }, { field: "wallTimeSeconds" }, { field: "phaseMae" }],
      },
    },
  } as TopLevelSpec;
}
