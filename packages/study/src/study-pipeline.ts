/**
 * The whole study, phase by phase, under one output root:
 *
 *   C  simulate      phaseC/…           (datasets per dose, phase manifest)
 *   D  overlap views phaseD/…           (dense/sparse views, groups, rejected views in the phase manifest)
 *   E  train         phaseE/…           (job matrix dose × method × view through @studykit/core's runner: training_manifest.json,
 *                                        skip events, one bundle per job with its SHA-256)
 *   F  iterative     phaseF/…           (ePIE/rPIE/mini-batch of every dose × view × split with
 *                                        @studykit/ptycho: one reconstruction.npz and identity per job)
 *   G  compare       phaseG/, report/   (test-region reconstructions of the networks and of Phase F,
 *                                        metrics, report.md / report.html)
 *
 * and `study_manifest.json` tying them together: the study's run id and identity, every job's identity
 * and bundle hash, every Phase F reconstruction's identity and SHA-256, skip events, timings, and the
 * report paths. It is written before Phase C with every phase (`stages`, `state: "running"`, no run id
 * yet), again with every planned job once the job matrix is built, as phases start and end, and finally
 * with the results; a study killed at any point is completed by running it again.
 *
 * The phases run as stages of a `@studykit/core` run (`run-manifest.json`, see `internal/study-run.ts`):
 * each finds its upstream phases' manifests only through it, and reuses earlier output only where its
 * stage record still vouches for the files.
 *
 * With `replicates: R > 1`, phases C–F run once per replicate — replicate 0 at the root, replicate r under
 * `replicates/r<r>/` with the same layout — each with its own seed for the photon noise, the group
 * sampling and the training (one job identity per replicate); Phase G scores every replicate and
 * replicate 0's report gives each cell's mean ± 95% interval over them and the findings.
 */
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  QueueError,
  QueueErrorCode,
  SKIP_SUMMARY_FILE,
  skipEventSeedFields,
  buildJobMatrix,
  createBullmqExecutor,
  createPartialIdentity,
  detectCodeVersion,
  fingerprint,
  planStudy,
  runStudy,
  stableRunId,
  writeJsonAtomicSync,
  type Executor,
  type JobFilters,
  type JobMatrix,
  type CodeVersion,
  type JobParams,
  type JsonValue,
  type StudyPlan,
  type Run,
  type StageHandle,
  type TrainingManifest,
  RUN_MANIFEST_FILE,
  resolveCompiledEntry,
} from "@studykit/core";
import { datasetSnapshotHash } from "@studykit/data";
import { sha256 } from "@studykit/native";
import { STUDY_METHODS, type StudyConfig, type StudyMethodName, type StudyViewName } from "./study-config.js";
import { codedFileSystemError } from "./internal/file-system-errors.js";
import { importPhaseData, onImportedData, type ImportedPhaseRecord } from "./internal/phase-import.js";
import { readPhaseManifestFile, type ManifestPhase } from "./internal/phase-manifest-file.js";
import { openStudyRun, plannedArtifacts, setStudyIdentity, studyRunStages, studyStageName } from "./internal/study-run.js";
import { StudyStateError, StudyStateErrorCode } from "./errors.js";

export type { ImportedPhaseRecord } from "./internal/phase-import.js";
import { compareModels, type ComparisonResult } from "./compare-phase.js";
import { PHASE_C_MANIFEST_VERSION, runPhaseC, type PhaseCManifest } from "./simulate-phase.js";
import { PHASE_F_MANIFEST_VERSION, runPhaseF, type PhaseFManifest } from "./iterative-phase.js";
import { canvasPaddingOf, findViewRecord, PHASE_D_MANIFEST_VERSION, runPhaseD, type PhaseDManifest } from "./overlap-phase.js";
import { resolveRuntime, type ResolvedRuntime } from "./runtime-selection.js";
import { STUDY_LAYOUT, doseDirectory, replicateSeed, studyJobId } from "./study-layout.js";
import { TRAIN_JOB_EXPORT, type StudyJobConfig } from "./study-job.js";

/** Format version of `study_manifest.json`. */
export const STUDY_MANIFEST_VERSION = 1;

/** Options of {@link runStudyPipeline}. */
export interface StudyPipelineOptions {
  /** The resolved configuration. */
  readonly config: StudyConfig;
  /** Preset it came from (recorded; `custom` when none). */
  readonly preset: string;
  /** Output root: every phase writes under it. */
  readonly out: string;
  /** `auto` (ONNX Runtime when it loads, else TF.js), `onnxruntime` or `tfjs`. */
  readonly engine?: string;
  /** TF.js back end (`auto`, `wasm`, `cpu`, …) or ONNX Runtime provider (`cpu`, `cuda`). */
  readonly backend?: string;
  /**
   * Training jobs at once with the local executor (default 1). Above 1, ONNX Runtime on the CPU runs each
   * job as one session of ⌊cores / concurrency⌋ threads (see `RuntimeOptions.jobsAtOnce`): a different
   * thread layout, so different identities than a run one job at a time.
   */
  readonly concurrency?: number;
  readonly dryRun?: boolean;
  readonly force?: boolean;
  readonly failFast?: boolean;
  /** Missing inputs (rejected views) throw `E_MISSING_INPUT` instead of becoming skip events. */
  readonly strict?: boolean;
  readonly filters?: JobFilters;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Core's progress display mode (`auto` on a TTY; `plain`, `none`). */
  readonly progress?: "auto" | "tty" | "plain" | "silent";
  /** Cancel cleanly on Ctrl-C (CLI). */
  readonly cancelOnSignals?: boolean;
  /** `local` (default: child processes on this machine) or `bullmq` (workers on other machines). */
  readonly executor?: "local" | "bullmq";
  /** Redis URL of the BullMQ queue (with `executor: "bullmq"`). */
  readonly redisUrl?: string;
  /**
   * Reuse an earlier study's Phase C data: its output root or its `phaseC/` directory (CLI:
   * `--phase-c-root DIR`). Checked, placed under `out`, and refused (coded errors naming the file) when
   * something is missing or it was simulated for other inputs; recorded in the study manifest. `force`
   * does not resimulate imported data (it still reruns the later phases and every job).
   */
  readonly phaseCRoot?: string;
  /** The same for Phase D's overlap views (`--phase-d-root DIR`); they must have been built from the Phase C data in use. */
  readonly phaseDRoot?: string;
  /**
   * The code version every identity of this study records (jobs, bundles, Phase F, the study). Default:
   * detected once when the study starts (see `detectCodeVersion`), so a commit landing while it runs
   * changes nothing it records. Pass your own (e.g. `detectCodeVersion({ codeRoot, packages })`) to
   * record the code of a training package built on studykit.
   */
  readonly codeVersion?: CodeVersion;
}

/** One job as the study manifest records it. */
export interface StudyManifestJob {
  readonly id: string;
  readonly dose: number;
  readonly view: string;
  readonly method: string;
  readonly gridsize: number;
  readonly status: string;
  readonly runId: string | null;
  readonly strictKey: string | null;
  readonly bundlePath: string | null;
  readonly bundleSha256: string | null;
  readonly durationMs: number | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}

/** One Phase F reconstruction as the study manifest records it. */
export interface StudyManifestReconstruction {
  readonly id: string;
  readonly dose: number;
  readonly view: string;
  readonly split: string;
  readonly status: string;
  readonly runId: string | null;
  readonly strictKey: string | null;
  readonly file: string | null;
  readonly sha256: string | null;
  readonly wallMs: number | null;
  readonly reason: string | null;
}

/** A replicate other than 0 as the study manifest records it (paths relative to the study root). */
export interface StudyManifestReplicate {
  readonly replicate: number;
  /** Its seed: photon noise, group sampling, network initialisation and shuffling. */
  readonly seed: number;
  /** Its root, `replicates/r<r>`. */
  readonly root: string;
  readonly phases: { readonly C: string; readonly D: string; readonly E: string; readonly F: string | null; readonly G: string | null };
  readonly jobs: readonly StudyManifestJob[];
  readonly reconstructions: readonly StudyManifestReconstruction[];
  readonly skipped_count: number;
}

/** Where a study stands, as `study_manifest.json` says (`running` until the last phase has written). */
export type StudyRunState = "running" | "completed" | "failed" | "cancelled" | "planned";

/** The study's phases, in the order they run. */
export const STUDY_STAGES = ["C", "D", "E", "F", "G"] as const;
/** One phase of the study. */
export type StudyStageName = (typeof STUDY_STAGES)[number];

/** A phase as the study manifest records it: planned up front, updated as the phase starts and ends. */
export interface StudyStageRecord {
  readonly name: StudyStageName;
  readonly title: string;
  /** `pending` (planned), `running`, `done`, `reused` (earlier output verified and kept), `not-run` (dry run or cancelled). */
  readonly status: "pending" | "running" | "done" | "reused" | "not-run";
  /** The phase's own manifest or main output, relative to the study root. */
  readonly output: string;
  /**
   * Every file the phase will record in the run manifest (`run-manifest.json`, the contract the phases
   * find each other's output through), for every replicate, relative to the study root.
   */
  readonly artifacts: readonly string[];
}

/** `study_manifest.json`. */
export interface StudyManifest {
  readonly formatVersion: number;
  readonly kind: "studykit-study";
  /** `running` from the moment the study starts; the final state once it ends. */
  readonly state: StudyRunState;
  /** The core run manifest of the study's stages (`run-manifest.json`), relative to the study root. */
  readonly runManifest: string;
  /** Every phase, written before Phase C starts. */
  readonly stages: readonly StudyStageRecord[];
  readonly runId: string;
  readonly identity: { readonly strictKey: string; readonly debugKey: string; readonly fields: unknown };
  readonly preset: string;
  readonly config: StudyConfig;
  readonly runtime: ResolvedRuntime;
  readonly dryRun: boolean;
  readonly phases: {
    /** `importedFrom`: where `--phase-c-root` took the data from (null when this study simulated or reused its own). */
    readonly C: { readonly manifest: string; readonly reused: boolean; readonly importedFrom: ImportedPhaseRecord | null; readonly datasetSnapshots: Readonly<Record<string, string>> };
    readonly D: { readonly manifest: string; readonly reused: boolean; readonly importedFrom: ImportedPhaseRecord | null };
    readonly E: { readonly manifest: string; readonly skipSummary: string; readonly counts: unknown };
    readonly F: { readonly manifest: string | null; readonly counts: PhaseFManifest["counts"] | null };
    readonly G: { readonly comparison: string | null };
  };
  readonly jobs: readonly StudyManifestJob[];
  /** Phase F's iterative reconstructions (empty for a dry run or a cancelled study). */
  readonly reconstructions: readonly StudyManifestReconstruction[];
  /** Replicates 1 … R − 1 (`jobs` and `reconstructions` above are replicate 0's); empty for one replicate. */
  readonly replicates: readonly StudyManifestReplicate[];
  readonly skipped_views: TrainingManifest["skipped_views"];
  readonly skipped_count: number;
  readonly timings: Readonly<Record<string, number>>;
  readonly report: { readonly markdown: string; readonly html: string } | null;
  /** Why the study stopped, when an error ended it (`state: "failed"`, written by the failing run). */
  readonly error?: { readonly code: string; readonly message: string };
}

/**
 * `study_manifest.json` while the study runs: written before Phase C with every phase, and again with every
 * planned job once the job matrix is built (before Phase E trains anything), so a study killed at any
 * point leaves a record of what it planned. The run id and identity are null until the study is final.
 */
export type StudyManifestInProgress = Omit<StudyManifest, "runId" | "identity"> & { readonly runId: null; readonly identity: null };

/** What {@link runStudyPipeline} returns. */
export interface StudyPipelineResult {
  readonly manifestPath: string;
  readonly manifest: StudyManifest;
  readonly plan: StudyPlan | null;
  readonly training: TrainingManifest | null;
  readonly iterative: PhaseFManifest | null;
  readonly comparison: ComparisonResult | null;
  /** Absolute report paths (null for a dry run). */
  readonly report: { readonly markdown: string; readonly html: string } | null;
  /** True when a job failed or the study was cancelled. */
  readonly failed: boolean;
}

const STAGE_TITLES: Readonly<Record<StudyStageName, string>> = { C: "simulate", D: "overlap views", E: "train", F: "iterative reconstruction", G: "compare and report" };
const TRAINING_MANIFEST_PATH = path.posix.join(STUDY_LAYOUT.trainingDir, "training_manifest.json");
const STAGE_OUTPUTS: Readonly<Record<StudyStageName, string>> = {
  C: STUDY_LAYOUT.phaseCManifest,
  D: STUDY_LAYOUT.phaseDManifest,
  E: TRAINING_MANIFEST_PATH,
  F: STUDY_LAYOUT.phaseFManifest,
  G: STUDY_LAYOUT.comparisonManifest,
};

/** A study manifest's record of a job of the matrix that has not run yet (or was skipped). */
function plannedJobRecord(id: string, params: JobParams, status: "pending" | "skipped"): StudyManifestJob {
  return {
    id,
    dose: params["dose"] as number,
    view: params["view"] as string,
    method: params["method"] as string,
    gridsize: params["gridsize"] as number,
    status,
    runId: null,
    strictKey: null,
    bundlePath: null,
    bundleSha256: null,
    durationMs: null,
    error: null,
  };
}

/** The training child's entry: `internal/train-job.js` in the built package, also when this runs from src/. */
function trainJobModule(): string {
  return resolveCompiledEntry(import.meta.url, path.join("internal", "train-job.js"), { packageName: "@studykit/study" });
}

/** The training view a job of the matrix trains on. */
function viewRecord(phaseD: PhaseDManifest, dose: number, view: string) {
  return findViewRecord(phaseD, dose, view, "train");
}

/** Hashes job inputs: array-content snapshot hashes for npz, SHA-256 of the bytes otherwise. */
function hashInput(file: string): string {
  return file.endsWith(".npz") || file.endsWith(".npy") ? datasetSnapshotHash(file) : sha256(readFileSync(file));
}

/** Builds the study's job matrix from the phase manifests. */
export function buildStudyMatrix(
  config: StudyConfig,
  root: string,
  phaseC: PhaseCManifest,
  phaseD: PhaseDManifest,
  runtime: ResolvedRuntime,
  options: { strict?: boolean; filters?: JobFilters; seed?: number } = {},
): JobMatrix {
  // A replicate's seed (network initialisation, shuffling, sample cap); default the study's.
  const seed = options.seed ?? config.seed;
  const scaleOf = (dose: number): number => phaseC.doses.find((record) => record.dose === dose)?.scale ?? 1;
  const inputScale = phaseC.probe.size / Math.sqrt(phaseC.meanExitEnergy);
  return buildJobMatrix(
    {
      axes: { dose: [...config.doses], method: [...STUDY_METHODS], view: [...config.views] },
      rules: [
        (params: JobParams): Record<string, JsonValue> | null => {
          const view = params["view"] as StudyViewName;
          // Only the (method, view) pairs the configuration asks for.
          if (!(config.methods[params["method"] as StudyMethodName] as readonly string[]).includes(view)) return null;
          const dose = params["dose"] as number;
          const gridsize = view === "baseline" ? 1 : 2;
          // The feature signature: which patterns are grouped into which channels.
          const featureSignature = view === "baseline" ? `all-patterns:${phaseC.positions.train}` : (viewRecord(phaseD, dose, view)?.groupsSha256 ?? null);
          // A rejected view has no groups; its job is skipped and carries no signature.
          return featureSignature === null ? { gridsize } : { gridsize, featureSignature };
        },
      ],
      id: (params) => studyJobId(params["dose"] as number, params["view"] as string, params["gridsize"] as number, params["method"] as StudyMethodName),
      inputs: (params): Record<string, string> => {
        const dose = params["dose"] as number;
        const view = params["view"] as string;
        if (view === "baseline") return { train: STUDY_LAYOUT.patched(dose, "train") };
        return { train: STUDY_LAYOUT.viewDataset(dose, view), groups: STUDY_LAYOUT.viewGroups(dose, view) };
      },
      explainMissing: (params, missing) => {
        const record = viewRecord(phaseD, params["dose"] as number, params["view"] as string);
        if (record?.status === "rejected" && record.reason) return record.reason;
        return `input file(s) not found: ${missing.map((file) => path.relative(root, file)).join(", ")} (rerun phases C and D)`;
      },
      config: (params) => {
        const dose = params["dose"] as number;
        const gridsize = params["gridsize"] as 1 | 2;
        const method = params["method"] as StudyMethodName;
        const jobConfig: StudyJobConfig = {
          study: "ptycho-dose-overlap",
          dose,
          view: params["view"] as StudyViewName,
          method,
          gridsize,
          size: phaseC.probe.size,
          channels: gridsize * gridsize,
          seed,
          model: config.training.model,
          perPattern: gridsize > 1 && config.training.perPattern,
          epochs: method === "pinn" ? (config.training.pinnEpochs ?? config.training.epochs) : config.training.epochs,
          // A per-pattern network's step sees batchSize patterns, as the gridsize-1 job's does (batchSize / C
          // groups), so it takes as many steps per epoch on as many patterns.
          batchSize: gridsize > 1 && config.training.perPattern ? Math.max(1, Math.round(config.training.batchSize / (gridsize * gridsize))) : config.training.batchSize,
          learningRate: config.training.learningRate,
          validationFraction: config.training.validationFraction,
          maxTrainSamples: config.training.maxTrainSamples,
          engine: runtime.engine,
          backend: runtime.backend,
          ...(runtime.onnxThreads ? { onnxThreads: runtime.onnxThreads } : {}),
          inputScale,
          amplitudeScale: scaleOf(dose) / phaseC.object.maxAmplitude,
          earlyStopping: config.training.earlyStopping,
          schedule: config.training.schedule,
          // Only when on: jobs without it keep the identities they had before the option existed.
          ...(config.training.augmentation === "none" ? {} : { augmentation: config.training.augmentation }),
          // Measured amplitudes X = diffraction·inputScale, and the stored diffraction is |DFT(P·O)| in
          // expectation (orthonormal DFT, object units), so I = inputScale²·|DFT(P·O)|² predicts X²; the
          // network's amplitude is O / max|O|, hence the probe times max|O|.
          physics:
            method === "pinn"
              ? {
                  objective: config.training.pinnObjective,
                  intensityScale: inputScale * inputScale,
                  probeScale: phaseC.object.maxAmplitude,
                  canvasPadding: gridsize > 1 ? canvasPaddingOf(config, phaseC.probe.size) : null,
                  overlapWeighting: gridsize > 1 ? config.overlap.weighting : null,
                }
              : null,
        };
        return jobConfig as unknown as JsonValue;
      },
      seeds: () => ({ seed }),
      artifactDir: (id) => `jobs/${id}`,
      logPath: (id) => `logs/${id}.log`,
    },
    { inputRoot: root, artifactRoot: path.join(root, STUDY_LAYOUT.trainingDir), strict: options.strict ?? false, filters: options.filters ?? {} },
  );
}

/** Training jobs this machine runs at once: the local executor's concurrency (BullMQ workers run the jobs elsewhere). */
function jobsAtOnceHere(options: StudyPipelineOptions): number {
  return (options.executor ?? "local") === "local" ? (options.concurrency ?? 1) : 1;
}

/**
 * The executor for Phase E, checked before anything runs: a BullMQ executor without a Redis URL, or with
 * a malformed one, is an error now rather than after minutes of simulation.
 */
function resolveExecutor(options: StudyPipelineOptions): "local" | Executor {
  const executor = options.executor ?? "local";
  if (executor === "local") return "local";
  if (executor !== "bullmq") throw new QueueError(QueueErrorCode.Config, `unknown executor ${JSON.stringify(executor)}: use "local" or "bullmq"`);
  if (!options.redisUrl) throw new QueueError(QueueErrorCode.Config, 'executor "bullmq" needs the Redis URL of its queue: pass redisUrl (CLI: --redis redis://HOST:PORT)');
  return createBullmqExecutor({ redisUrl: options.redisUrl });
}

/**
 * Runs phases C, D, E, F and G (see the module doc). The engine, back end and executor are resolved before
 * Phase C, so a bad choice fails at once; a file that cannot be written (an output root under a regular
 * file, a read-only directory, a full disk) is an `IoError` naming the path.
 */
export async function runStudyPipeline(options: StudyPipelineOptions): Promise<StudyPipelineResult> {
  try {
    return await runPipeline(options);
  } catch (error) {
    const coded = codedFileSystemError(error);
    recordFailure(path.resolve(options.out), coded);
    throw coded;
  }
}

/**
 * A study that stops on an error says so in its manifest (`state: "failed"` and the error), instead of
 * staying `running`. Best effort: the error being thrown matters more than this record.
 */
function recordFailure(root: string, error: unknown): void {
  const file = path.join(root, STUDY_LAYOUT.studyManifest);
  try {
    const manifest = JSON.parse(readFileSync(file, "utf8")) as StudyManifestInProgress;
    if (manifest?.kind !== "studykit-study" || manifest.state !== "running") return;
    const code = typeof (error as { code?: unknown })?.code === "string" ? (error as { code: string }).code : "E_INTERNAL";
    writeJsonAtomicSync(file, { ...manifest, state: "failed", error: { code, message: error instanceof Error ? error.message : String(error) } });
  } catch {
    // no manifest yet, or it cannot be written: the error itself still reaches the caller
  }
}

async function runPipeline(options: StudyPipelineOptions): Promise<StudyPipelineResult> {
  const log = options.log ?? (() => {});
  const root = path.resolve(options.out);
  const { config } = options;
  const timings: Record<string, number> = {};
  const addTime = (key: string, since: number): void => {
    timings[key] = (timings[key] ?? 0) + (performance.now() - since);
  };
  const started = performance.now();
  // Captured once, before anything runs: every job identity, every bundle and every Phase F record of this
  // study names this code version, even when a commit lands while the study runs.
  const codeVersion = options.codeVersion ?? detectCodeVersion();
  const runtime = await resolveRuntime(options.engine ?? "auto", options.backend ?? "auto", { jobsAtOnce: jobsAtOnceHere(options) });
  const executor = resolveExecutor(options);
  mkdirSync(root, { recursive: true });
  const manifestPath = path.join(root, STUDY_LAYOUT.studyManifest);
  const dryRun = options.dryRun ?? false;
  const force = options.force ?? false;
  const replicateCount = config.replicates;

  // The study's stages as a core run: run-manifest.json, written (or reopened with its stage records) before
  // Phase C, is how every phase finds its upstream output and decides what it may reuse.
  const runStages = studyRunStages(replicateCount);
  const studyIdentity = (objectSha256: string | null, datasetSnapshotHash: string | null) => partialStudyIdentity(config, codeVersion, runtime, objectSha256, datasetSnapshotHash);
  const run = await openStudyRun(root, runStages, studyIdentity(null, null), JSON.parse(JSON.stringify(config)) as Record<string, unknown>, log);
  const artifactsByPhase = plannedArtifacts(runStages);
  const phaseArtifacts = (phase: StudyStageName): string[] => Object.entries(artifactsByPhase).flatMap(([stage, files]) => (stage === phase || stage.startsWith(`${phase}-r`) ? files : []));

  // The study manifest is written before anything runs and rewritten as phases start and end, so a study
  // killed at any instant leaves a record of every phase and (from Phase E on) every planned job. With
  // several replicates, a stage is running from its first replicate's start to its last one's end, and the
  // jobs listed while it runs are replicate 0's.
  let stages: StudyStageRecord[] = STUDY_STAGES.map((name) => ({ name, title: STAGE_TITLES[name], status: "pending", output: STAGE_OUTPUTS[name], artifacts: phaseArtifacts(name) }));
  const inProgress: { phases: StudyManifest["phases"]; jobs: StudyManifestJob[]; skipped: TrainingManifest["skipped_views"] } = {
    phases: {
      C: { manifest: STUDY_LAYOUT.phaseCManifest, reused: false, importedFrom: null, datasetSnapshots: {} },
      D: { manifest: STUDY_LAYOUT.phaseDManifest, reused: false, importedFrom: null },
      E: { manifest: TRAINING_MANIFEST_PATH, skipSummary: path.posix.join(STUDY_LAYOUT.trainingDir, SKIP_SUMMARY_FILE), counts: null },
      F: { manifest: null, counts: null },
      G: { comparison: null },
    },
    jobs: [],
    skipped: [],
  };
  const recordStage = (name: StudyStageName, status: StudyStageRecord["status"]): void => {
    stages = stages.map((stage) => (stage.name === name ? { ...stage, status } : stage));
    const manifest: StudyManifestInProgress = {
      formatVersion: STUDY_MANIFEST_VERSION,
      kind: "studykit-study",
      state: "running",
      runManifest: RUN_MANIFEST_FILE,
      stages,
      runId: null,
      identity: null,
      preset: options.preset,
      config,
      runtime,
      dryRun,
      phases: inProgress.phases,
      jobs: inProgress.jobs,
      reconstructions: [],
      replicates: [],
      skipped_views: inProgress.skipped,
      skipped_count: inProgress.skipped.length,
      timings,
      report: null,
    };
    writeJsonAtomicSync(manifestPath, manifest);
  };
  recordStage("C", "pending");

  // Phases C, D and E of every replicate: replicate 0 at the root, the others under replicates/r<r>/, each
  // with its own noise, groups and training seeds (object and positions are the study's).
  const replicates: ReplicateRun[] = [];
  let cancelled = false;
  let failed = false;
  let plan: StudyPlan | null = null;
  let importedC: ImportedPhaseRecord | null = null;
  let importedD: ImportedPhaseRecord | null = null;
  for (let replicate = 0; replicate < replicateCount && !cancelled; replicate++) {
    const first = replicate === 0;
    const last = replicate === replicateCount - 1;
    const seed = replicateSeed(config.seed, replicate);
    const replicateRoot = path.join(root, STUDY_LAYOUT.replicateRoot(replicate));
    const replicateLog = replicateCount === 1 ? log : (line: string) => log(`[replicate ${replicate} of 0–${replicateCount - 1}, seed ${seed}] ${line}`);
    const stageE = run.stage(studyStageName("E", replicate));
    const data = await runDataStages(run, options, replicate, replicateLog, {
      start: (phase) => {
        if (first) recordStage(phase, "running");
        return performance.now();
      },
      end: (phase, reused, since) => {
        addTime(`phase${phase}_ms`, since);
        if (first) inProgress.phases = { ...inProgress.phases, [phase]: { ...inProgress.phases[phase], reused, importedFrom: phase === "C" ? importedC : importedD } };
        if (last) recordStage(phase, first && reused ? "reused" : "done");
      },
      imported: (phase, record) => (phase === "C" ? (importedC = record) : (importedD = record)),
    });
    const { phaseC, phaseD } = data;
    const stageC = run.stage(studyStageName("C", replicate));
    const stageD = run.stage(studyStageName("D", replicate));

    replicateLog(`phase E: engine ${runtime.engine} on ${runtime.backend}${runtime.fallbacks.length > 0 ? ` (${runtime.fallbacks.map((entry) => `${entry.name}: ${entry.reason}`).join("; ")})` : ""}`);
    // The job matrix from the upstream manifests as recorded (E reads C and D only through the run manifest).
    const upstream = async (stage: StageHandle) => ({
      phaseC: await upstreamPhaseManifest<PhaseCManifest>(stage, stageC.name, "C", PHASE_C_MANIFEST_VERSION),
      phaseD: await upstreamPhaseManifest<PhaseDManifest>(stage, stageD.name, "D", PHASE_D_MANIFEST_VERSION),
    });
    const inputsE = await upstream(stageE);
    const matrix = buildStudyMatrix(config, replicateRoot, inputsE.phaseC, inputsE.phaseD, runtime, { strict: options.strict ?? false, filters: options.filters ?? {}, seed });
    if (first) {
      inProgress.jobs = [...matrix.jobs.map((job) => plannedJobRecord(job.id, job.params, "pending")), ...matrix.skipped.map((event) => plannedJobRecord(event.jobId, event.params, "skipped"))];
      inProgress.skipped = matrix.skipped.map((event) => ({
        jobId: event.jobId,
        ...skipEventSeedFields(event.params),
        params: event.params,
        reason: event.reason,
        missingPaths: event.missingPaths.map((file) => path.relative(root, file).split(path.sep).join("/")),
      }));
      recordStage("E", "running");
    }
    const mark = performance.now();
    // A dry run plans the jobs and trains nothing: Phase E's stage is not begun, its record stays as it was.
    const trainAll = () =>
      runStudy(matrix, { module: trainJobModule(), export: TRAIN_JOB_EXPORT }, {
        concurrency: options.concurrency ?? 1,
        failFast: options.failFast ?? false,
        dryRun,
        force,
        inputHasher: hashInput,
        codeVersion,
        runtime: runtime.identity,
        progress: options.progress ?? "auto",
        cancelOnSignals: options.cancelOnSignals ?? false,
        executor,
      });
    const studyResult = dryRun
      ? await trainAll()
      : await inStage(stageE, trainAll, (result) => ({ counts: result.manifest.counts as unknown as JsonValue }), (result) => (result.cancelled ? { code: "E_CANCELLED", message: "the study was cancelled during Phase E; run it again to resume the remaining jobs" } : null));
    addTime("phaseE_ms", mark);
    cancelled = studyResult.cancelled;
    failed ||= studyResult.failed;
    const runRecord: ReplicateRun = { replicate, seed, root: replicateRoot, phaseC: { manifest: inputsE.phaseC, reused: phaseC.reused }, phaseD: { manifest: inputsE.phaseD, reused: phaseD.reused }, training: studyResult.manifest, iterative: null, log: replicateLog };
    replicates.push(runRecord);
    if (first) {
      plan = studyResult.plan;
      inProgress.jobs = manifestJobsOf(runRecord);
      inProgress.phases = { ...inProgress.phases, E: { ...inProgress.phases.E, counts: studyResult.manifest.counts } };
    }
  }
  const notRun = dryRun || cancelled;
  recordStage("E", notRun ? "not-run" : "done");

  if (dryRun) log("phase F: not run (dry run)");
  else if (cancelled) log("phase F: skipped, the study was cancelled");
  else {
    recordStage("F", "running");
    for (const replicateRun of replicates) {
      const mark = performance.now();
      const stageF = run.stage(studyStageName("F", replicateRun.replicate));
      const previousF = force ? null : await recordedPhaseManifest<PhaseFManifest>(stageF, "F", PHASE_F_MANIFEST_VERSION, replicateRun.log);
      replicateRun.iterative = await inStage(
        stageF,
        async () => {
          const phaseC = await upstreamPhaseManifest<PhaseCManifest>(stageF, studyStageName("C", replicateRun.replicate), "C", PHASE_C_MANIFEST_VERSION);
          const phaseD = await upstreamPhaseManifest<PhaseDManifest>(stageF, studyStageName("D", replicateRun.replicate), "D", PHASE_D_MANIFEST_VERSION);
          return runPhaseF(config, replicateRun.root, phaseC, phaseD, { log: replicateRun.log, force, codeVersion, previous: previousF });
        },
        (result) => ({ counts: result.counts as unknown as JsonValue }),
      );
      addTime("phaseF_ms", mark);
    }
    recordStage("F", "done");
  }
  if (notRun) stages = stages.map((stage) => (stage.name === "F" || stage.name === "G" ? { ...stage, status: "not-run" } : stage));
  const first = replicates[0]!;
  const training = first.training;
  const iterative = first.iterative;

  // Dataset snapshot hashes of Phase C: the study's data identity (every replicate's noise realisation).
  const datasetSnapshots: Record<string, string> = {};
  for (const replicateRun of replicates) {
    const prefix = STUDY_LAYOUT.replicateRoot(replicateRun.replicate);
    for (const record of replicateRun.phaseC.manifest.doses) {
      for (const split of ["train", "test"] as const) {
        datasetSnapshots[path.posix.join(prefix, doseDirectory(record.dose), split)] = datasetSnapshotHash(path.join(replicateRun.root, record.files[split]));
      }
    }
  }
  // The data is fixed: the run's partial identity gets its snapshot hash. The study is final once its jobs
  // and reconstructions are: their strict keys (and which were skipped) are its feature signature.
  await setStudyIdentity(run, studyIdentity(first.phaseC.manifest.object.fileSha256 ?? null, fingerprint(datasetSnapshots)));
  const signatureOf = (replicateRun: ReplicateRun) => ({
    jobs: replicateRun.training.jobs.map((job) => ({ id: job.id, strictKey: job.identity?.strictKey ?? null })),
    skipped: replicateRun.training.skipped_views.map((event) => event.jobId),
    reconstructions: (replicateRun.iterative?.records ?? []).map((record) => ({ id: record.id, strictKey: record.identity?.strictKey ?? null })),
  });
  const final = await run.finalizeIdentity(replicateCount === 1 ? signatureOf(first) : { ...signatureOf(first), replicates: replicates.slice(1).map((replicateRun) => ({ replicate: replicateRun.replicate, seed: replicateRun.seed, ...signatureOf(replicateRun) })) });
  const runId = stableRunId(final);

  let comparison: ComparisonResult | null = null;
  let report: { markdown: string; html: string } | null = null;
  if (cancelled) log("phase G: skipped, the study was cancelled (run it again to resume the remaining jobs)");
  if (!notRun) {
    recordStage("G", "running");
    const stageG = run.stage("G");
    const mark = performance.now();
    comparison = await inStage(
      stageG,
      async () => {
        const compareReplicate = async (replicateRun: ReplicateRun, extra: { writeReport: boolean; otherReplicates?: readonly ComparisonResult[] }) => {
          // Every upstream output through the run manifest (checked as recorded) before Phase G reads it.
          for (const phase of ["C", "D", "E", "F"] as const) await stageG.requireUpstream(studyStageName(phase, replicateRun.replicate));
          return compareModels({
            config,
            root: replicateRun.root,
            runId,
            preset: options.preset,
            phaseC: replicateRun.phaseC.manifest,
            phaseD: replicateRun.phaseD.manifest,
            training: replicateRun.training,
            iterative: replicateRun.iterative,
            runtime,
            log: replicateRun.log,
            replicate: replicateRun.replicate,
            seed: replicateRun.seed,
            ...extra,
          });
        };
        // The other replicates first: replicate 0 writes the report with every replicate's numbers.
        const others: ComparisonResult[] = [];
        for (const replicateRun of replicates.slice(1)) {
          const result = await compareReplicate(replicateRun, { writeReport: false });
          replicateRun.comparison = result;
          others.push(result);
        }
        return compareReplicate(first, { writeReport: true, otherReplicates: others });
      },
      () => ({}),
    );
    addTime("phaseG_ms", mark);
    stages = stages.map((stage) => (stage.name === "G" ? { ...stage, status: "done" } : stage));
    report = { markdown: path.join(root, STUDY_LAYOUT.reportMarkdown), html: path.join(root, STUDY_LAYOUT.reportHtml) };
  }
  timings["total_ms"] = performance.now() - started;
  const phaseTimes = ["C", "D", "E", "F", "G"].filter((phase) => timings[`phase${phase}_ms`] !== undefined).map((phase) => `${phase} ${(timings[`phase${phase}_ms`]! / 1000).toFixed(1)} s`);
  log(`phase times${replicateCount > 1 ? ` (${replicateCount} replicates)` : ""}: ${phaseTimes.join(", ")}; total ${(timings["total_ms"] / 1000).toFixed(1)} s`);

  const state: StudyRunState = dryRun ? "planned" : cancelled ? "cancelled" : failed ? "failed" : "completed";
  const manifest: StudyManifest = {
    formatVersion: STUDY_MANIFEST_VERSION,
    kind: "studykit-study",
    state,
    runManifest: RUN_MANIFEST_FILE,
    stages,
    runId,
    identity: { strictKey: final.strictKey, debugKey: final.debugKey, fields: final.toJSON() },
    preset: options.preset,
    config,
    runtime,
    dryRun,
    phases: {
      C: { manifest: STUDY_LAYOUT.phaseCManifest, reused: first.phaseC.reused, importedFrom: importedC, datasetSnapshots },
      D: { manifest: STUDY_LAYOUT.phaseDManifest, reused: first.phaseD.reused, importedFrom: importedD },
      E: {
        manifest: TRAINING_MANIFEST_PATH,
        skipSummary: path.posix.join(STUDY_LAYOUT.trainingDir, training.skipSummaryPath),
        counts: training.counts,
      },
      F: { manifest: iterative ? STUDY_LAYOUT.phaseFManifest : null, counts: iterative?.counts ?? null },
      G: { comparison: comparison ? STUDY_LAYOUT.comparisonManifest : null },
    },
    jobs: manifestJobsOf(first),
    reconstructions: manifestReconstructionsOf(first),
    replicates: replicates.slice(1).map((replicateRun) => {
      const prefix = STUDY_LAYOUT.replicateRoot(replicateRun.replicate);
      return {
        replicate: replicateRun.replicate,
        seed: replicateRun.seed,
        root: prefix,
        phases: {
          C: path.posix.join(prefix, STUDY_LAYOUT.phaseCManifest),
          D: path.posix.join(prefix, STUDY_LAYOUT.phaseDManifest),
          E: path.posix.join(prefix, TRAINING_MANIFEST_PATH),
          F: replicateRun.iterative ? path.posix.join(prefix, STUDY_LAYOUT.phaseFManifest) : null,
          G: replicateRun.comparison ? path.posix.join(prefix, STUDY_LAYOUT.comparisonManifest) : null,
        },
        jobs: manifestJobsOf(replicateRun),
        reconstructions: manifestReconstructionsOf(replicateRun),
        skipped_count: replicateRun.training.skipped_count,
      };
    }),
    skipped_views: training.skipped_views,
    skipped_count: training.skipped_count,
    timings,
    report: report ? { markdown: STUDY_LAYOUT.reportMarkdown, html: STUDY_LAYOUT.reportHtml } : null,
  };
  writeJsonAtomicSync(manifestPath, manifest);
  return { manifestPath, manifest, plan, training, iterative, comparison, report, failed };
}

/** What {@link runDataStages} reports as it goes (the study manifest's phase records and timings). */
interface DataStageEvents {
  start(phase: "C" | "D"): number;
  end(phase: "C" | "D", reused: boolean, since: number): void;
  imported(phase: "C" | "D", record: ImportedPhaseRecord): void;
}

/**
 * Phases C and D of one replicate as stages of the study's run: data placed from an earlier study
 * (`--phase-c-root` / `--phase-d-root`, replicate 0 only) is checked and placed first; otherwise a phase
 * reuses only what its stage record vouches for. Phase D reads Phase C's manifest through the run manifest.
 */
async function runDataStages(run: Run, options: StudyPipelineOptions, replicate: number, log: (line: string) => void, events: DataStageEvents): Promise<{ phaseC: { manifest: PhaseCManifest; reused: boolean }; phaseD: { manifest: PhaseDManifest; reused: boolean } }> {
  const { config } = options;
  const force = options.force ?? false;
  const first = replicate === 0;
  const seed = replicateSeed(config.seed, replicate);
  const replicateRoot = path.join(run.root, STUDY_LAYOUT.replicateRoot(replicate));
  const stageC = run.stage(studyStageName("C", replicate));
  const stageD = run.stage(studyStageName("D", replicate));

  let since = events.start("C");
  // Only replicate 0 takes data from an earlier study: the other replicates draw their own noise and groups.
  const placedC = first && options.phaseCRoot ? importPhaseData("C", options.phaseCRoot, run.root) : null;
  if (placedC) events.imported("C", placedC.record);
  const previousC = force || placedC ? null : await recordedPhaseManifest<PhaseCManifest>(stageC, "C", PHASE_C_MANIFEST_VERSION, log);
  const phaseC = await inStage(
    stageC,
    () => onImportedData(placedC, () => runPhaseC(config, replicateRoot, { log, force: !placedC && force, noiseSeed: seed, ...(placedC ? { reuseOnly: `--phase-c-root ${placedC.record.from}` } : { previous: previousC }) })),
    (result) => ({ reused: result.reused, inputsHash: result.manifest.inputsHash, importedFrom: placedC ? placedC.record.from : null }),
  );
  events.end("C", phaseC.reused, since);

  since = events.start("D");
  const placedD = first && options.phaseDRoot ? importPhaseData("D", options.phaseDRoot, run.root) : null;
  if (placedD) events.imported("D", placedD.record);
  const previousD = force || placedD ? null : await recordedPhaseManifest<PhaseDManifest>(stageD, "D", PHASE_D_MANIFEST_VERSION, log);
  const phaseD = await inStage(
    stageD,
    async () => {
      // Phase C's output as the run manifest records it, never the object in memory.
      const upstreamC = await upstreamPhaseManifest<PhaseCManifest>(stageD, stageC.name, "C", PHASE_C_MANIFEST_VERSION);
      return onImportedData(placedD, () => runPhaseD(config, replicateRoot, upstreamC, { log, force: !placedD && force, groupSeed: seed, ...(placedD ? { reuseOnly: `--phase-d-root ${placedD.record.from}` } : { previous: previousD }) }));
    },
    (result) => ({ reused: result.reused, inputsHash: result.manifest.inputsHash, importedFrom: placedD ? placedD.record.from : null }),
  );
  events.end("D", phaseD.reused, since);
  return { phaseC, phaseD };
}

/**
 * Runs `work` as `stage` of the study's run: begun (again, when an earlier run completed it), then
 * completed with `metrics` (hashing the stage's files) or failed with the error, which is rethrown. An
 * outcome `failure` names (a cancelled Phase E) is recorded as the stage's failure and returned.
 */
async function inStage<T>(
  stage: StageHandle,
  work: () => T | Promise<T>,
  metrics: (result: T) => Record<string, JsonValue>,
  failure: (result: T) => { code: string; message: string } | null = () => null,
): Promise<T> {
  await stage.begin({ again: true });
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await stage.fail(error).catch(() => {});
    throw error;
  }
  const failed = failure(result);
  if (failed) await stage.fail(Object.assign(new Error(failed.message), { code: failed.code }));
  else await stage.complete({ metrics: metrics(result) });
  return result;
}

/**
 * What an earlier run of this phase left that the run manifest still vouches for: its manifest, when the
 * stage is recorded as succeeded and every file it recorded has its SHA-256; null otherwise (said in `log`
 * when there was a record that no longer holds).
 */
async function recordedPhaseManifest<T>(stage: StageHandle, phase: ManifestPhase, formatVersion: number, log: (line: string) => void): Promise<T | null> {
  const problems = await stage.verifyRecorded();
  if (problems.length > 0) {
    if (!/ is (pending|running), not succeeded/.test(problems[0]!)) log(`phase ${phase}: the run manifest's record of stage ${stage.name} does not hold (${problems[0]}); nothing of it is reused`);
    return null;
  }
  const read = readPhaseManifestFile<T>(stage.paths["manifest"]!, phase, formatVersion);
  return read.ok ? read.manifest : null;
}

/** An upstream phase's manifest, found through the run manifest (its stage succeeded, its SHA-256 as recorded) and validated. */
async function upstreamPhaseManifest<T>(stage: StageHandle, upstream: string, phase: ManifestPhase, formatVersion: number): Promise<T> {
  const file = await stage.requireUpstream(upstream, "manifest", { verify: true });
  const read = readPhaseManifestFile<T>(file, phase, formatVersion);
  if (!read.ok) throw new StudyStateError(StudyStateErrorCode.StageOutputInvalid, `${file}: recorded as stage ${upstream}'s output in ${RUN_MANIFEST_FILE}, but ${read.detail}; rerun the study with --force`);
  return read.manifest;
}

/** One replicate's phases as the pipeline runs them. */
interface ReplicateRun {
  readonly replicate: number;
  readonly seed: number;
  /** Absolute root of the replicate's files. */
  readonly root: string;
  readonly phaseC: { readonly manifest: PhaseCManifest; readonly reused: boolean };
  readonly phaseD: { readonly manifest: PhaseDManifest; readonly reused: boolean };
  readonly training: TrainingManifest;
  iterative: PhaseFManifest | null;
  comparison?: ComparisonResult;
  readonly log: (line: string) => void;
}

/** A replicate's training jobs as the study manifest records them (paths relative to the study root). */
function manifestJobsOf(run: ReplicateRun): StudyManifestJob[] {
  const prefix = STUDY_LAYOUT.replicateRoot(run.replicate);
  return run.training.jobs.map((job) => ({
    id: job.id,
    dose: job.params["dose"] as number,
    view: job.params["view"] as string,
    method: job.params["method"] as string,
    gridsize: job.params["gridsize"] as number,
    status: job.result.status,
    runId: job.identity?.runId ?? null,
    strictKey: job.identity?.strictKey ?? null,
    bundlePath: job.result.bundlePath ? path.posix.join(prefix, STUDY_LAYOUT.trainingDir, job.artifactDir, job.result.bundlePath) : null,
    bundleSha256: job.result.bundleSha256,
    durationMs: job.result.durationMs,
    error: job.result.error,
  }));
}

/** A replicate's Phase F records as the study manifest records them (files relative to the study root). */
function manifestReconstructionsOf(run: ReplicateRun): StudyManifestReconstruction[] {
  const prefix = STUDY_LAYOUT.replicateRoot(run.replicate);
  return (run.iterative?.records ?? []).map((record) => ({
    id: record.id,
    dose: record.dose,
    view: record.view,
    split: record.split,
    status: record.status,
    runId: record.identity?.runId ?? null,
    strictKey: record.identity?.strictKey ?? null,
    file: record.file === null ? null : path.posix.join(prefix, record.file),
    sha256: record.sha256,
    wallMs: record.wallMs,
    reason: record.reason,
  }));
}

/** One replicate's plan, as {@link planStudyPipeline} returns it. */
export interface ReplicatePlan {
  readonly replicate: number;
  /** Its seed: photon noise, group sampling, network initialisation and shuffling. */
  readonly seed: number;
  readonly plan: StudyPlan;
  readonly matrix: JobMatrix;
}

/**
 * Plans the study: phases C and D run for every replicate, as stages of the study's run (the plan needs
 * their files; they reuse what their stage records vouch for, as in a study run), and every replicate's
 * jobs are planned; nothing is trained. `plan` and `matrix` are replicate 0's; `replicates` has them all.
 * Errors as {@link runStudyPipeline}'s.
 */
export async function planStudyPipeline(options: StudyPipelineOptions): Promise<{ plan: StudyPlan; matrix: JobMatrix; runtime: ResolvedRuntime; replicates: readonly ReplicatePlan[] }> {
  try {
    return await planPipeline(options);
  } catch (error) {
    throw codedFileSystemError(error);
  }
}

async function planPipeline(options: StudyPipelineOptions): Promise<{ plan: StudyPlan; matrix: JobMatrix; runtime: ResolvedRuntime; replicates: readonly ReplicatePlan[] }> {
  const log = options.log ?? (() => {});
  const root = path.resolve(options.out);
  const { config } = options;
  const codeVersion = options.codeVersion ?? detectCodeVersion();
  const runtime = await resolveRuntime(options.engine ?? "auto", options.backend ?? "auto", { jobsAtOnce: jobsAtOnceHere(options) });
  mkdirSync(root, { recursive: true });
  // Planning keeps the identity a finished run recorded: only `study run` replaces it.
  const run = await openStudyRun(root, studyRunStages(config.replicates), partialStudyIdentity(config, codeVersion, runtime, null, null), JSON.parse(JSON.stringify(config)) as Record<string, unknown>, log, { keepIdentity: true });
  const replicates: ReplicatePlan[] = [];
  for (let replicate = 0; replicate < config.replicates; replicate++) {
    const seed = replicateSeed(config.seed, replicate);
    const replicateLog = config.replicates === 1 ? log : (line: string) => log(`[replicate ${replicate} of 0–${config.replicates - 1}, seed ${seed}] ${line}`);
    const { phaseC, phaseD } = await runDataStages(run, options, replicate, replicateLog, { start: () => 0, end: () => {}, imported: () => {} });
    const matrix = buildStudyMatrix(config, path.join(root, STUDY_LAYOUT.replicateRoot(replicate)), phaseC.manifest, phaseD.manifest, runtime, { strict: options.strict ?? false, filters: options.filters ?? {}, seed });
    const plan = await planStudy(matrix, { force: options.force ?? false, inputHasher: hashInput, codeVersion, runtime: runtime.identity });
    replicates.push({ replicate, seed, plan, matrix });
  }
  return { plan: replicates[0]!.plan, matrix: replicates[0]!.matrix, runtime, replicates };
}

/**
 * The study's partial identity: its configuration (an object file by its SHA-256, not its path), seed,
 * code version and runtime, and — once Phase C has fixed the data — the dataset snapshot hash.
 */
function partialStudyIdentity(config: StudyConfig, codeVersion: CodeVersion, runtime: ResolvedRuntime, objectSha256: string | null, datasetSnapshotHash: string | null) {
  return createPartialIdentity({
    stage: "study",
    config: JSON.parse(JSON.stringify({ ...config, object: config.object.source === "file" ? { source: "file", sha256: objectSha256, reuseCoordinates: config.object.reuseCoordinates } : config.object })),
    datasetSnapshotHash,
    seeds: { seed: config.seed },
    codeVersion,
    runtime: runtime.identity,
  });
}
