/**
 * `@studykit/study`: the ptychography dose/overlap study — simulate (Phase C), overlap views (Phase D),
 * train (Phase E, through `@studykit/core`'s job matrix and runner), reconstruct iteratively (Phase F, with
 * `@studykit/ptycho`), compare and report (Phase G).
 *
 * ```ts
 * import { presetConfig, runStudyPipeline } from "@studykit/study";
 * const result = await runStudyPipeline({ config: presetConfig("quick"), preset: "quick", out: "study-out/quick" });
 * console.log(result.report?.html);
 * ```
 */
export {
  StudyErrorCode,
  StudyConfigErrorCode,
  SimulateErrorCode,
  TrainingInputErrorCode,
  MetricErrorCode,
  RuntimeSelectionErrorCode,
  RunComparisonErrorCode,
  StudyConfigError,
  StudyPresetError,
  SimulationInputError,
  TrainingInputError,
  MetricInputError,
  RuntimeSelectionError,
  RunComparisonError,
  PhaseRootErrorCode,
  PhaseRootError,
  StudyStateErrorCode,
  StudyStateError,
} from "./errors.js";
export type { StudyErrorCodeValue } from "./errors.js";
export { PRESET_NAMES, parsePresetName } from "./presets.js";
export type { PresetName } from "./presets.js";
export { PTYCHO_MODEL_NAMES, compactPtychoModel, compactStridedPtychoModel, ptychoModelPreset, referencePtychoModel, tinyPtychoModel } from "./model-presets.js";
export type { PtychoModelName, PtychoModelOptions } from "./model-presets.js";
export {
  STUDY_METHODS,
  STUDY_VIEWS,
  mergeStudyConfig,
  presetConfig,
  studyConfigSchema,
  validateStudyConfig,
} from "./study-config.js";
export type { StudyConfig, StudyConfigOverrides, StudyMethodName, StudyViewName } from "./study-config.js";
export { STUDY_MANIFEST_VERSION, buildStudyMatrix, planStudyPipeline, runStudyPipeline } from "./study-pipeline.js";
export type { ImportedPhaseRecord, StudyManifest, StudyManifestInProgress, StudyManifestJob, StudyManifestReconstruction, StudyManifestReplicate, StudyPipelineOptions, StudyPipelineResult, StudyRunState, StudyStageName, StudyStageRecord } from "./study-pipeline.js";
export { PHASE_F_MANIFEST_VERSION, reconstructionOptions, runPhaseF } from "./iterative-phase.js";
export type { PhaseFHistory, PhaseFManifest, PhaseFOptions, PhaseFRecord } from "./iterative-phase.js";
export { PHASE_C_MANIFEST_VERSION, configForObjectFile, prepareSample, runPhaseC } from "./simulate-phase.js";
export type { PhaseCDoseRecord, PhaseCManifest, StudySample } from "./simulate-phase.js";
export { GROUP_SIZE, PHASE_D_MANIFEST_VERSION, findViewRecord, runPhaseD } from "./overlap-phase.js";
export type { GroupsFile, PhaseDManifest, PhaseDViewRecord, StudySplit } from "./overlap-phase.js";
export { scoreForComparison } from "./compare-phase.js";
export type { ComparisonMetrics, ComparisonResult, IterativeComparison, JobComparison, ScoredRow } from "./compare-phase.js";
export type { ResolvedRuntime } from "./runtime-selection.js";
export { STUDY_LAYOUT, doseDirectory, replicateSeed, studyJobId } from "./study-layout.js";
export { CONFIDENCE_LEVEL, differenceSupport, formatMeanInterval, meanInterval, studentTCdf, studentTQuantile } from "./replicate-statistics.js";
export type { DifferenceSupport, MeanInterval } from "./replicate-statistics.js";
export { SUMMARY_METRICS, summariseReplicates, writeFindings } from "./replicate-summary.js";
export type { Finding, ReplicateCell, ReplicateRow, SummaryMetricKey } from "./replicate-summary.js";
export type { StudyJobConfig, StudyJobOutput, TrainingHistoryEntry } from "./study-job.js";
export { generateObject, generateProbe } from "./procedural-sample.js";
export type { ObjectOptions, ProbeOptions, RealImage } from "./procedural-sample.js";
// The forward model, scan geometry and complex images live in @studykit/ptycho; their types are re-exported for the
// study's own signatures (overlap views, groups).
export type { ComplexImage, ScanPosition } from "@studykit/ptycho";
export { VIEW_OVERLAP, buildGroups, groupOffsets, sampleGroups, selectBySpacing, spacingThreshold } from "./overlap-views.js";
export type { GroupOptions, GroupSamplingOptions, OverlapViewName, SampledGroups } from "./overlap-views.js";
export { scoreReconstruction, fourierRingCorrelation, frcThresholdFrequency, structuralSimilarity } from "./reconstruction-metrics.js";
export type { ReconstructionMetrics } from "./reconstruction-metrics.js";
export { verifyStudy } from "./study-verify.js";
export type { StudyVerification, VerifyProblem, VerifyProblemKind } from "./study-verify.js";
export { COMPARED_METRICS, compareRuns, loadRunForComparison, replicateCellDeltas } from "./run-comparison.js";
export type { CellDelta, IdentityDifferences, LoadedRun, MetricDelta, RunComparison, RunComparisonMode } from "./run-comparison.js";
export { resolveRuntime } from "./runtime-selection.js";
