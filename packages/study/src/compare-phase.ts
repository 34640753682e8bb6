/**
 * Phase G — compare: every trained model reconstructs the held-out test region of its dose (ONNX Runtime
 * inference on the bundle's `model.onnx` when ONNX Runtime loads, the TF.js model otherwise), the
 * predicted patches are stitched by averaging overlaps, and the result is scored against the ground truth
 * (amplitude/phase MAE, PSNR, SSIM and MS-SSIM, and the apodised FRC's resolution at the half-bit and 0.5
 * thresholds, null when the curve does not cross: "not reached"). Phase F's iterative reconstructions of the test split (one per
 * dose × view, from that view's test positions) are scored by the same function on the same region — the
 * pixels under the central stitch windows of all test positions — with the same global phase alignment, so
 * the networks and the classical baseline share one table, one set of plots and one image scale. Each row
 * carries its method's wall time: training plus test-region inference for a network, the iterations for
 * Phase F. Writes `phaseG/comparison.json` and the report.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { writeJsonAtomicSync, type TrainingManifest } from "@studykit/core";
import { loadDataset, loadNpz } from "@studykit/data";
import { createInferenceSession, loadBundle, loadBundleModel } from "@studykit/trainer";
import type { StudyConfig } from "./study-config.js";
import type { ComplexImage } from "@studykit/ptycho";
import type { ScanPosition } from "@studykit/ptycho";
import type { PhaseCManifest } from "./simulate-phase.js";
import type { PhaseDManifest } from "./overlap-phase.js";
import type { PhaseFManifest, PhaseFRecord } from "./iterative-phase.js";
import type { FrcAnalysis, FrcCurve } from "./internal/fourier-ring-correlation.js";
import { globalPhaseOffset, scoreReconstruction, scoreResolution, type Box, type ReconstructionMetrics } from "./reconstruction-metrics.js";
import { reconstructTestRegion, type Predictor, type TestSet } from "./internal/reconstruct.js";
import { differenceMaps, renderDifferencePng, renderFieldPng, symmetricScaleLimit, type DifferenceMaps } from "./internal/report-images.js";
import { writeStudyReport, type ReportJobRow } from "./internal/report-writer.js";
import type { ResolvedRuntime } from "./runtime-selection.js";
import { PatchStitcher } from "./internal/stitch.js";
import { STUDY_LAYOUT, doseDirectory } from "./study-layout.js";
import { SUMMARY_METRICS, summariseReplicates, writeFindings, type ReplicateRow } from "./replicate-summary.js";
import type { StudyJobConfig } from "./study-job.js";

/**
 * The scores of one reconstruction in `comparison.json` and the report: {@link ReconstructionMetrics}'
 * MAE, PSNR and SSIM, with the old Hann-window FRC (which gave a constant image a finite resolution)
 * replaced by {@link scoreResolution}'s apodised FRC and MS-SSIM.
 */
export interface ComparisonMetrics extends Omit<ReconstructionMetrics, "frc50Frequency" | "frc50ResolutionPx" | "frcCurve"> {
  /** FRC resolution at the half-bit threshold, px; null when not reached (see `frc.halfBit.status`). */
  readonly frcHalfBitResolutionPx: number | null;
  /** FRC resolution at the fixed 0.5 threshold, px; null when not reached (see `frc.fixed.status`). */
  readonly frc50ResolutionPx: number | null;
  /** MS-SSIM of the amplitude; null when the region is too small (`msSsimSkipped` says why). */
  readonly amplitudeMsSsim: number | null;
  /** MS-SSIM of the phase (data range 2π); null when the region is too small. */
  readonly phaseMsSsim: number | null;
  readonly msSsimSkipped: string | null;
  /**
   * The FRC curve, both crossings with their status, and the apodisation used. A ring where either image
   * has no power has correlation null (NaN in {@link FrcCurve}; JSON has no NaN).
   */
  readonly frc: Omit<FrcAnalysis, "curve"> & { readonly curve: Omit<FrcCurve, "correlation"> & { readonly correlation: (number | null)[] } };
}

/** Scores `reconstruction` against `truth` on the covered pixels of `box` (see {@link ComparisonMetrics}). */
export function scoreForComparison(truth: ComplexImage, reconstruction: ComplexImage, coverage: ArrayLike<number>, box: Box): ComparisonMetrics {
  const { frc50Frequency: _frequency, frc50ResolutionPx: _resolution, frcCurve: _curve, ...basic } = scoreReconstruction(truth, reconstruction, coverage, box);
  const resolution = scoreResolution(truth, reconstruction, coverage, box);
  return {
    ...basic,
    frcHalfBitResolutionPx: resolution.frc.halfBit.resolutionPx,
    frc50ResolutionPx: resolution.frc.fixed.resolutionPx,
    amplitudeMsSsim: resolution.amplitudeMsSsim?.value ?? null,
    phaseMsSsim: resolution.phaseMsSsim?.value ?? null,
    msSsimSkipped: resolution.msSsimSkipped ?? null,
    frc: { ...resolution.frc, curve: { ...resolution.frc.curve, correlation: resolution.frc.curve.correlation.map((value) => (Number.isNaN(value) ? null : value)) } },
  };
}

/** An FRC resolution for a log line: `4.2 px`, or `not reached`. */
function formatResolution(value: number | null): string {
  return value === null ? "not reached" : `${value.toFixed(1)} px`;
}

/** A log line's scores. */
function describeMetrics(metrics: ComparisonMetrics): string {
  const msSsim = metrics.amplitudeMsSsim === null ? "n/a" : metrics.amplitudeMsSsim.toFixed(3);
  return `amplitude MAE ${metrics.amplitudeMae.toFixed(4)}, phase MAE ${metrics.phaseMae.toFixed(4)}, SSIM ${metrics.amplitudeSsim.toFixed(3)}, MS-SSIM ${msSsim}, FRC half-bit ${formatResolution(metrics.frcHalfBitResolutionPx)}, 0.5 ${formatResolution(metrics.frc50ResolutionPx)}`;
}

/**
 * What every scored row holds — in `comparison.json` (a network job, a Phase F reconstruction) and in the
 * report's table: where it sits in the matrix, how it ended, its scores, images and time.
 */
export interface ScoredRow<Metrics = ComparisonMetrics> {
  readonly dose: number;
  readonly view: string;
  readonly status: string;
  /** Skip reason or error message. */
  readonly note: string | null;
  readonly metrics: Metrics | null;
  /**
   * PNG images of the reconstructed amplitude and phase, and their difference maps (reconstruction −
   * ground truth, phase after the global offset removal; older comparisons lack them).
   */
  readonly images: { readonly amplitude: string; readonly phase: string; readonly amplitudeDifference?: string; readonly phaseDifference?: string } | null;
  /** Training + inference (network) or the iterations (Phase F), ms; null when it did not run. */
  readonly wallTimeMs: number | null;
  /**
   * A network's inference throughput: test patterns predicted and stitched per second (the session
   * already open; absent for Phase F, a skipped job, or a comparison written before it was recorded).
   */
  readonly inferencePatternsPerSecond?: number | null;
}

/** One model's comparison. */
export interface JobComparison extends ScoredRow {
  readonly jobId: string;
  /** `supervised` or `pinn`. */
  readonly trainingMethod: string;
  readonly gridsize: number;
  readonly inference: { readonly engine: string; readonly provider: string } | null;
}

/** One Phase F test-split reconstruction, scored as the networks are. */
export interface IterativeComparison extends ScoredRow {
  /** Phase F's job id, `dose_1000/dense/test`. */
  readonly id: string;
  /** `epie 50 it`, ... */
  readonly method: string;
  /** Positions the view's test split holds (what the reconstruction saw). */
  readonly positions: number;
  readonly sha256: string | null;
}

/** `phaseG/comparison.json`. */
export interface ComparisonResult {
  readonly runId: string;
  /** The replicate scored (0 for the study root; absent in studies from before replicates). */
  readonly replicate?: number;
  /** Its seed (noise, groups, training). */
  readonly seed?: number;
  readonly testRegion: { readonly top: number; readonly left: number; readonly bottom: number; readonly right: number; readonly pixels: number };
  readonly jobs: readonly JobComparison[];
  /** Phase F's test-split reconstructions (empty when Phase F did not run). */
  readonly iterative: readonly IterativeComparison[];
  /**
   * The referee's floor: a constant object (the region's mean amplitude, its circular-mean phase), scored
   * by the same function on the same region. A model whose phase MAE is near this one's has learnt nothing.
   */
  readonly meanPredictor: ComparisonMetrics;
}

/** The label of a network's row: `supervised gs1`, `PINN gs2`. */
export function networkMethodLabel(method: string, gridsize: number): string {
  return `${method === "pinn" ? "PINN" : method} gs${gridsize}`;
}

/** A constant image: the mean amplitude and circular-mean phase of `truth` where `mask` is set. */
export function meanPredictorImage(truth: ComplexImage, mask: ArrayLike<number>): ComplexImage {
  let amplitude = 0;
  let re = 0;
  let im = 0;
  let count = 0;
  for (let index = 0; index < mask.length; index++) {
    if (!mask[index]) continue;
    const tr = truth.data[2 * index]!;
    const ti = truth.data[2 * index + 1]!;
    const magnitude = Math.hypot(tr, ti);
    amplitude += magnitude;
    if (magnitude > 0) {
      re += tr / magnitude;
      im += ti / magnitude;
    }
    count += 1;
  }
  const meanAmplitude = count > 0 ? amplitude / count : 0;
  const meanPhase = Math.atan2(im, re);
  const data = new Float64Array(2 * truth.height * truth.width);
  for (let index = 0; index < truth.height * truth.width; index++) {
    data[2 * index] = meanAmplitude * Math.cos(meanPhase);
    data[2 * index + 1] = meanAmplitude * Math.sin(meanPhase);
  }
  return { height: truth.height, width: truth.width, data };
}

/** One replicate's scored networks and Phase F reconstructions as rows of the replicate summary. */
export function replicateRowsOf(result: ComparisonResult): ReplicateRow[] {
  const replicate = result.replicate ?? 0;
  const metricsOf = (metrics: ComparisonMetrics | null): ReplicateRow["metrics"] =>
    metrics === null ? null : (Object.fromEntries(SUMMARY_METRICS.map(({ key }) => [key, metrics[key] ?? null])) as ReplicateRow["metrics"]);
  return [
    ...result.jobs.filter((job) => job.status !== "skipped").map((job) => ({ replicate, dose: job.dose, view: job.view, method: networkMethodLabel(job.trainingMethod, job.gridsize), family: "network" as const, metrics: metricsOf(job.metrics), wallTimeMs: job.wallTimeMs })),
    ...result.iterative.filter((entry) => entry.status !== "skipped").map((entry) => ({ replicate, dose: entry.dose, view: entry.view, method: entry.method, family: "iterative" as const, metrics: metricsOf(entry.metrics), wallTimeMs: entry.wallTimeMs })),
  ];
}

/** Options of {@link compareModels}. */
export interface CompareOptions {
  readonly config: StudyConfig;
  readonly root: string;
  readonly runId: string;
  readonly preset: string;
  readonly phaseC: PhaseCManifest;
  readonly phaseD: PhaseDManifest;
  readonly training: TrainingManifest;
  /** Phase F's manifest (null: no iterative rows). */
  readonly iterative?: PhaseFManifest | null;
  readonly runtime: ResolvedRuntime;
  readonly log?: (line: string) => void;
  /** Which replicate `root` holds (0: the study root). */
  readonly replicate?: number;
  /** That replicate's seed (the test groups of gridsize-2 models are sampled with it); default the study's seed. */
  readonly seed?: number;
  /**
   * The other replicates' Phase G results (replicate 0 writes the report: its tables, plots and images,
   * plus the mean ± 95% interval of every cell over all replicates and the findings). Ignored with
   * `writeReport: false`.
   */
  readonly otherReplicates?: readonly ComparisonResult[];
  /** Write the report (default true); replicates other than 0 only write their `comparison.json`. */
  readonly writeReport?: boolean;
}

function loadTestSet(file: string): TestSet {
  const dataset = loadDataset(file, { schema: "ptycho" });
  const diffraction = dataset.arrays["diff3d"]!;
  const objectGuess = dataset.arrays["objectGuess"]!;
  const xs = dataset.arrays["xcoords"]!.data as ArrayLike<number>;
  const ys = dataset.arrays["ycoords"]!.data as ArrayLike<number>;
  const positions: ScanPosition[] = Array.from({ length: xs.length }, (_, index) => ({ x: Number(xs[index]), y: Number(ys[index]) }));
  const object: ComplexImage = { height: objectGuess.shape[0]!, width: objectGuess.shape[1]!, data: Float64Array.from(objectGuess.data as Float64Array) };
  return { size: diffraction.shape[1]!, diffraction: Float32Array.from(diffraction.data as Float32Array), positions, object };
}

/** A predictor for a bundle: ONNX Runtime when it loads (and the bundle has an ONNX export), else TF.js. */
async function openPredictor(bundlePath: string, sha: string | null, runtime: ResolvedRuntime): Promise<{ predictor: Predictor; engine: string; provider: string; release: () => Promise<void> }> {
  const bundle = await loadBundle(bundlePath, sha ? { expectSha256: sha } : {});
  try {
    const provider = runtime.engine === "onnxruntime" && runtime.backend === "cuda" ? (["cuda", "cpu"] as const) : (["cpu"] as const);
    const session = await createInferenceSession(bundle.modelOnnx ? { modelOnnx: bundle.modelOnnx } : { description: bundle.description, weights: bundle.weights }, { executionProviders: provider });
    return { predictor: session, engine: "onnxruntime", provider: session.provider, release: () => session.release() };
  } catch (error) {
    const model = await loadBundleModel(bundlePath, sha ? { expectSha256: sha } : {});
    return { predictor: model, engine: "tfjs", provider: `${model.backend} (ONNX Runtime unavailable: ${error instanceof Error ? error.message : String(error)})`, release: () => model.dispose() };
  }
}

function cropField(values: Float64Array, width: number, box: { top: number; left: number; bottom: number; right: number }): Float64Array {
  const cropWidth = box.right - box.left;
  const out = new Float64Array((box.bottom - box.top) * cropWidth);
  for (let row = box.top; row < box.bottom; row++) out.set(values.subarray(row * width + box.left, row * width + box.right), (row - box.top) * cropWidth);
  return out;
}

/** Runs Phase G and writes the report. */
export async function compareModels(options: CompareOptions): Promise<ComparisonResult> {
  const { root, phaseC, training, config } = options;
  const log = options.log ?? (() => {});
  const comparisons: JobComparison[] = [];
  const images = new Map<string, Buffer>();
  const testSets = new Map<number, TestSet>();
  const testSet = (dose: number): TestSet => {
    let set = testSets.get(dose);
    if (!set) {
      const record = phaseC.doses.find((entry) => entry.dose === dose);
      if (!record) throw new Error(`phase C has no dose ${dose}`);
      set = loadTestSet(path.join(root, record.files.test));
      testSets.set(dose, set);
    }
    return set;
  };

  // The scored region: pixels covered by the central windows of the test positions (the same for every
  // model of a study, since it depends only on the positions).
  const firstDose = phaseC.doses[0]!.dose;
  const reference = testSet(firstDose);
  const coverageStitcher = new PatchStitcher(reference.object.height, reference.object.width, reference.size, config.compare.stitchWindow);
  const zeros = new Float32Array(reference.size * reference.size);
  for (const position of reference.positions) coverageStitcher.add(position, zeros, zeros);
  const coverage = coverageStitcher.finish();
  const box = coverage.box;
  const boxHeight = box.bottom - box.top;
  const boxWidth = box.right - box.left;
  const scale = Math.max(1, Math.min(4, Math.floor(480 / Math.max(boxHeight, boxWidth))));
  const mask = cropField(Float64Array.from(coverage.counts, (count) => (count > 0 ? 1 : 0)), reference.object.width, box);
  const truthAmplitude = new Float64Array(reference.object.height * reference.object.width);
  const truthPhase = new Float64Array(truthAmplitude.length);
  for (let index = 0; index < truthAmplitude.length; index++) {
    truthAmplitude[index] = Math.hypot(reference.object.data[2 * index]!, reference.object.data[2 * index + 1]!);
    truthPhase[index] = Math.atan2(reference.object.data[2 * index + 1]!, reference.object.data[2 * index]!);
  }
  const amplitudeCrop = cropField(truthAmplitude, reference.object.width, box);
  const phaseCrop = cropField(truthPhase, reference.object.width, box);
  const range = (values: Float64Array) => {
    let min = Infinity;
    let max = -Infinity;
    values.forEach((value, index) => {
      if (!mask[index]) return;
      min = Math.min(min, value);
      max = Math.max(max, value);
    });
    return { min, max };
  };
  const amplitudeRange = range(amplitudeCrop);
  const phaseRange = range(phaseCrop);
  images.set("ground-truth-amplitude.png", renderFieldPng(amplitudeCrop, boxHeight, boxWidth, { ...amplitudeRange, scheme: "greys", scale, mask }));
  images.set("ground-truth-phase.png", renderFieldPng(phaseCrop, boxHeight, boxWidth, { ...phaseRange, scheme: "viridis", scale, mask }));

  // Difference maps are rendered once every reconstruction is in, on one symmetric scale per quantity.
  const pendingDifferences: { files: { amplitudeDifference: string; phaseDifference: string }; maps: DifferenceMaps }[] = [];
  /**
   * Amplitude and phase PNGs of a reconstruction, on the ground truth's scales, global phase removed; the
   * names of its difference maps (rendered below).
   */
  const renderReconstruction = (name: string, truth: ComplexImage, reconstruction: ComplexImage): { amplitude: string; phase: string; amplitudeDifference: string; phaseDifference: string } => {
    const offset = globalPhaseOffset(truth, reconstruction, coverage.counts);
    const reconAmplitude = new Float64Array(truth.height * truth.width);
    const reconPhase = new Float64Array(reconAmplitude.length);
    for (let index = 0; index < reconAmplitude.length; index++) {
      reconAmplitude[index] = Math.hypot(reconstruction.data[2 * index]!, reconstruction.data[2 * index + 1]!);
      const raw = Math.atan2(reconstruction.data[2 * index + 1]!, reconstruction.data[2 * index]!) - offset;
      reconPhase[index] = raw - 2 * Math.PI * Math.round(raw / (2 * Math.PI));
    }
    const files = { amplitude: `${name}-amplitude.png`, phase: `${name}-phase.png`, amplitudeDifference: `${name}-amplitude-difference.png`, phaseDifference: `${name}-phase-difference.png` };
    images.set(files.amplitude, renderFieldPng(cropField(reconAmplitude, truth.width, box), boxHeight, boxWidth, { ...amplitudeRange, scheme: "greys", scale, mask }));
    images.set(files.phase, renderFieldPng(cropField(reconPhase, truth.width, box), boxHeight, boxWidth, { ...phaseRange, scheme: "viridis", scale, mask }));
    pendingDifferences.push({ files, maps: differenceMaps(truth, reconstruction, coverage.counts, box) });
    return files;
  };

  const historyOf = (output: unknown): ReportJobRow["history"] => {
    const history = (output as { history?: unknown } | null)?.history;
    if (!Array.isArray(history)) return [];
    return history.map((entry: { epoch?: number; loss?: number; validationLoss?: number | null }) => ({ epoch: Number(entry.epoch), loss: Number(entry.loss), validationLoss: entry.validationLoss ?? null }));
  };
  const rows: ReportJobRow[] = [];
  for (const job of training.jobs) {
    // Skipped jobs are reported from the skip events below (with their reasons).
    if (job.result.status === "skipped") continue;
    const params = job.params;
    const dose = params["dose"] as number;
    const view = params["view"] as string;
    const gridsize = params["gridsize"] as number;
    const trainingMethod = String(params["method"] ?? "supervised");
    const base = { jobId: job.id, dose, view, trainingMethod, gridsize, status: job.result.status, method: networkMethodLabel(trainingMethod, gridsize) };
    const output = job.result.output as { history?: unknown; metrics?: { trainingSamples?: number } } | null;
    const trainingSamples = typeof job.result.metrics?.["trainingSamples"] === "number" ? (job.result.metrics["trainingSamples"] as number) : null;
    if ((job.result.status !== "succeeded" && job.result.status !== "reused") || !job.result.bundlePath) {
      const note = job.result.error ? `${job.result.error.code}: ${job.result.error.message}` : `not trained (${job.result.status})`;
      comparisons.push({ ...base, note, metrics: null, inference: null, images: null, wallTimeMs: null });
      rows.push({ ...base, note, metrics: null, bundleSha256: null, trainingSamples, history: [], iterationHistory: [], images: null, wallTimeMs: null });
      continue;
    }
    const jobConfig = job.config as unknown as StudyJobConfig;
    const bundlePath = path.join(root, STUDY_LAYOUT.trainingDir, job.artifactDir, job.result.bundlePath);
    const inferenceStarted = performance.now();
    const opened = await openPredictor(bundlePath, job.result.bundleSha256, options.runtime);
    let stitched;
    let predictMs = 0;
    const set = testSet(dose);
    try {
      const predictStarted = performance.now();
      stitched = await reconstructTestRegion(opened.predictor, set, {
        gridsize: jobConfig.gridsize,
        // Jobs planned before per-pattern networks carry no flag: one network over the channels.
        perPattern: jobConfig.perPattern === true,
        candidates: config.overlap.candidates,
        seed: options.seed ?? config.seed,
        inputScale: jobConfig.inputScale,
        amplitudeScale: phaseC.object.maxAmplitude,
        stitchWindow: config.compare.stitchWindow,
      });
      predictMs = performance.now() - predictStarted;
    } finally {
      await opened.release();
    }
    const wallTimeMs = (job.result.durationMs ?? 0) + (performance.now() - inferenceStarted);
    const inferencePatternsPerSecond = predictMs > 0 ? set.positions.length / (predictMs / 1000) : null;
    const truth = set.object;
    const metrics = scoreForComparison(truth, stitched.object, coverage.counts, box);
    const jobImages = renderReconstruction(`${doseDirectory(dose)}-${view}-${trainingMethod === "supervised" ? "" : `${trainingMethod}-`}gs${gridsize}`, truth, stitched.object);
    log(`phase G: ${job.id}: ${describeMetrics(metrics)} (${opened.engine}/${opened.provider})`);
    comparisons.push({ ...base, note: null, metrics, inference: { engine: opened.engine, provider: opened.provider }, images: jobImages, wallTimeMs, inferencePatternsPerSecond });
    rows.push({ ...base, note: null, metrics, bundleSha256: job.result.bundleSha256, trainingSamples, history: historyOf(output), iterationHistory: [], images: jobImages, wallTimeMs, inferencePatternsPerSecond });
  }
  for (const event of training.skipped_views) {
    const params = event.params;
    const gridsize = params["gridsize"] as number;
    const trainingMethod = String(params["method"] ?? "supervised");
    const base = { jobId: event.jobId, dose: params["dose"] as number, view: params["view"] as string, trainingMethod, gridsize, status: "skipped", method: networkMethodLabel(trainingMethod, gridsize) };
    comparisons.push({ ...base, note: event.reason, metrics: null, inference: null, images: null, wallTimeMs: null });
    rows.push({ ...base, note: event.reason, metrics: null, bundleSha256: null, trainingSamples: null, history: [], iterationHistory: [], images: null, wallTimeMs: null });
  }

  // Phase F: the test split's reconstruction of every dose × view, on the networks' region and scales.
  const iterative: IterativeComparison[] = [];
  for (const record of (options.iterative?.records ?? []).filter((entry: PhaseFRecord) => entry.split === "test")) {
    const method = `${config.reconstruction.algorithm} ${config.reconstruction.iterations} it`;
    const base = { id: record.id, dose: record.dose, view: record.view, method, status: record.status, positions: record.positions, sha256: record.sha256 };
    const rowBase = { jobId: `phaseF/${record.id}`, dose: record.dose, view: record.view, gridsize: null, status: record.status, method, trainingSamples: null, history: [], bundleSha256: record.sha256 };
    if (record.file === null) {
      iterative.push({ ...base, note: record.reason, metrics: null, images: null, wallTimeMs: null });
      rows.push({ ...rowBase, note: record.reason, metrics: null, iterationHistory: [], images: null, wallTimeMs: null });
      continue;
    }
    const arrays = loadNpz(path.join(root, record.file));
    const objectArray = arrays["object"]!;
    const reconstructed: ComplexImage = { height: objectArray.shape[0]!, width: objectArray.shape[1]!, data: Float64Array.from(objectArray.data as Float64Array) };
    const truth = testSet(record.dose).object;
    const metrics = scoreForComparison(truth, reconstructed, coverage.counts, box);
    const recordImages = renderReconstruction(`${doseDirectory(record.dose)}-${record.view}-${config.reconstruction.algorithm}`, truth, reconstructed);
    const iterationHistory = (record.history?.phaseMae ?? []).map((phaseMae, index) => ({ iteration: index + 1, phaseMae, fourierError: record.history!.fourierError[index]! }));
    log(`phase G: phaseF/${record.id} (${method}, ${record.positions} positions): ${describeMetrics(metrics)}`);
    iterative.push({ ...base, note: null, metrics, images: recordImages, wallTimeMs: record.wallMs });
    rows.push({ ...rowBase, note: null, metrics, iterationHistory, images: recordImages, wallTimeMs: record.wallMs });
  }
  const differenceScale = {
    amplitude: symmetricScaleLimit(pendingDifferences.map((entry) => entry.maps.amplitude), mask),
    phase: symmetricScaleLimit(pendingDifferences.map((entry) => entry.maps.phase), mask),
  };
  for (const { files, maps } of pendingDifferences) {
    images.set(files.amplitudeDifference, renderDifferencePng(maps.amplitude, boxHeight, boxWidth, { limit: differenceScale.amplitude, scale, mask }));
    images.set(files.phaseDifference, renderDifferencePng(maps.phase, boxHeight, boxWidth, { limit: differenceScale.phase, scale, mask }));
  }
  // The floor every method must beat: predicting the mean, on the same region (the truth is the same object at every dose).
  const meanPredictor = scoreForComparison(reference.object, meanPredictorImage(reference.object, coverage.counts), coverage.counts, box);
  log(`phase G: predicting the mean: ${describeMetrics(meanPredictor)}`);
  for (const dose of config.doses) {
    rows.push({ jobId: "mean predictor", dose, view: "test region", gridsize: null, status: "reference", method: "mean (reference)", note: null, metrics: meanPredictor, bundleSha256: null, trainingSamples: null, history: [], iterationHistory: [], images: null, wallTimeMs: null });
  }
  // Within a dose and view: supervised, then PINN, then Phase F; the mean predictor closes each dose.
  const methodRank = (row: ReportJobRow): number => (row.status === "reference" ? 3 : row.gridsize === null ? 2 : row.method.startsWith("PINN") ? 1 : 0);
  const viewRank = (row: ReportJobRow): number => (row.status === "reference" ? config.views.length : config.views.indexOf(row.view as never));
  rows.sort((a, b) => a.dose - b.dose || viewRank(a) - viewRank(b) || methodRank(a) - methodRank(b) || (a.gridsize ?? 0) - (b.gridsize ?? 0));

  const result: ComparisonResult = { runId: options.runId, replicate: options.replicate ?? 0, seed: options.seed ?? config.seed, testRegion: { ...box, pixels: coverage.counts.reduce((sum, count) => sum + (count > 0 ? 1 : 0), 0) }, jobs: comparisons, iterative, meanPredictor };
  mkdirSync(path.join(root, STUDY_LAYOUT.comparisonDir), { recursive: true });
  writeJsonAtomicSync(path.join(root, STUDY_LAYOUT.comparisonManifest), result);
  if (options.writeReport === false) return result;

  const allReplicates = [result, ...(options.otherReplicates ?? [])].sort((a, b) => (a.replicate ?? 0) - (b.replicate ?? 0));
  const cells = summariseReplicates(allReplicates.flatMap((entry) => replicateRowsOf(entry)), config.replicates);
  const findings = writeFindings(cells, { floor: { phaseMae: meanPredictor.phaseMae, amplitudeMae: meanPredictor.amplitudeMae } });

  const viewSummary = options.phaseD.views
    .filter((record) => record.dose === firstDose)
    .map((record) => `${record.view} ${record.split}: S = ${record.spacing.toFixed(1)} px, ${record.accepted} of ${record.candidates} positions${record.status === "rejected" ? " (rejected)" : ""}`)
    .join("; ");
  const object = phaseC.object.source === "file" ? `${phaseC.object.file} (${phaseC.object.height}×${phaseC.object.width})` : `procedural ${phaseC.object.height}×${phaseC.object.width}, seed ${config.seed}`;
  await writeStudyReport(
    path.join(root, STUDY_LAYOUT.reportDir),
    {
      title: "Ptychography dose / overlap study",
      runId: options.runId,
      preset: options.preset,
      summary: [
        ["object", object],
        ["probe", `${phaseC.probe.size}×${phaseC.probe.size}`],
        ["scan positions", `${phaseC.positions.total} (${phaseC.positions.train} train, ${phaseC.positions.test} test; split at y = ${phaseC.positions.splitY.toFixed(1)})`],
        ["doses", phaseC.doses.map((record) => `${record.dose} (${record.meanPhotonCount.toFixed(0)} photons/pattern measured)`).join(", ")],
        ["overlap views", viewSummary || "none"],
        [
          "training",
          `${config.training.model} model, ${config.training.epochs} epochs${config.training.pinnEpochs !== null && config.training.pinnEpochs !== config.training.epochs ? ` (PINN: ${config.training.pinnEpochs})` : ""}, batch ${config.training.batchSize}, learning rate ${config.training.learningRate}, ` +
            `${config.training.earlyStopping ? `early stopping (patience ${config.training.earlyStopping.patience}, best weights kept)` : "no early stopping (last epoch's weights)"}, engine ${options.runtime.engine}/${options.runtime.backend}`,
        ],
        [
          "methods",
          `supervised (ground-truth patches, MAE): ${config.methods.supervised.join(", ") || "none"}; PINN (physics loss: ${config.training.pinnObjective === "amplitudeMae" ? "amplitude MAE |√I − X|" : "Poisson NLL"} through the known probe and |DFT|, no ground truth; gridsize 2 with the overlap constraint on a canvas with P = ${options.phaseD.canvasPadding} px): ${config.methods.pinn.join(", ") || "none"}`,
        ],
        ["gridsize-2 groups", `${options.phaseD.groupsWanted} per training view wanted (K = ${config.overlap.candidates} nearest, C = 4, K-choose-C oversampling); ${options.phaseD.views.filter((record) => record.dose === firstDose && record.split === "train" && record.status === "accepted").map((record) => `${record.view}: ${record.groupCount} kept, ${record.groupsRejected} rejected (member beyond P)`).join("; ") || "none"}`],
        [
          "iterative reconstruction (Phase F)",
          `${config.reconstruction.algorithm}, ${config.reconstruction.iterations} iterations, ${config.reconstruction.probeUpdateFrom === null ? "known probe" : `probe updated from iteration ${config.reconstruction.probeUpdateFrom}`}, ` +
            `${config.reconstruction.alpha === null ? "default α" : `α = ${config.reconstruction.alpha}`}, seed ${config.reconstruction.seed}; each dose × view reconstructed from that view's test positions only` +
            (options.iterative ? ` (FFT: ${options.iterative.fft})` : " (not run)"),
        ],
        ["test region", `rows ${box.top}–${box.bottom}, columns ${box.left}–${box.right} (${result.testRegion.pixels} pixels scored, central ${config.compare.stitchWindow}×${config.compare.stitchWindow} of each patch stitched)`],
        ["simulation speed", `${phaseC.timings.patternsPerSecond.toFixed(0)} patterns/s (${phaseC.probe.size}×${phaseC.probe.size})`],
      ],
      groundTruth: { amplitude: "ground-truth-amplitude.png", phase: "ground-truth-phase.png" },
      differenceScale: pendingDifferences.length > 0 ? differenceScale : null,
      rows,
      replicates: { count: config.replicates, scored: allReplicates.map((entry) => ({ replicate: entry.replicate ?? 0, seed: entry.seed ?? config.seed })), cells, findings: findings.map((finding) => finding.text) },
      notes: [
        "Amplitude images share the ground truth's grey scale; phase images share its colour scale, with each reconstruction's global phase offset removed.",
        "Grey pixels lie outside the scored test region.",
        "Phase F rows are scored on the same region as the networks (the central windows of every test position); a view's reconstruction only saw that view's test positions, so where they leave the region poorly lit it scores worse, as a network trained on that view may.",
        "Wall time: training plus test-region inference for a network; the iterations (all positions of the view's test split) for Phase F. Inference: a network's test patterns predicted and stitched per second, its session already open (Phase F has no separate inference step).",
        "PINN rows are trained without ground truth; the physics loss cannot see a global phase, which the scoring removes for every method alike (the same alignment as Phase F's).",
        "The mean (reference) row predicts one constant value (the region's mean amplitude and circular-mean phase): a method near it has learnt nothing.",
        "FRC \"not reached\": the curve never crosses the threshold — below it from the first ring (nothing resolved; always so for the constant mean row) or, marked \"(< 2 px)\", above it up to the 2 px sampling limit. Definitions of every metric are in the appendix.",
      ],
    },
    images,
  );
  return result;
}
