/**
 * `@studykit/core`: canonical JSON and fingerprints, run identities, manifests, stage pipelines,
 * the job matrix, the local runner, and the seeded random generator.
 */
export { canonicalJson, fingerprint, CanonicalJsonError } from "./canonical-json.js";
export type { JsonValue } from "./canonical-json.js";
/** The seeded xoshiro128** generator every reproducible draw comes from (weights, shuffles, simulation). */
export { SeededRandom } from "./seeded-random.js";
export { CoreError, CoreErrorCode, LockedError } from "./errors.js";
export type { CoreErrorCodeValue } from "./errors.js";
export {
  writeFileAtomic,
  writeFileAtomicSync,
  writeJsonAtomic,
  writeJsonAtomicSync,
  formatJson,
  sweepStaleTempFiles,
  isProcessAlive,
} from "./atomic-file.js";
export type { AtomicWriteOptions } from "./atomic-file.js";
export { acquireLock, withLock } from "./file-lock.js";
export type { LockHandle, LockHolder, LockOptions } from "./file-lock.js";
export { readJsonFile, updateJsonFile, validateJson } from "./json-file.js";
export type { ReadJsonOptions, UpdateJsonOptions } from "./json-file.js";
export { detectCodeVersion, detectGitVersion, detectOutputRepository } from "./code-version.js";
export type { CodeVersion, DetectCodeVersionOptions, OutputRepository } from "./code-version.js";
export {
  createPartialIdentity,
  identityFromRecord,
  stableRunId,
  runIdSourceOf,
  IDENTITY_VERSION,
  FALLBACK_RUN_ID_PREFIX,
} from "./run-identity.js";
export type {
  PartialIdentityInput,
  IdentityRecord,
  PartialIdentity,
  FinalIdentity,
  RunIdentity,
  RunIdSource,
  IdentityMode,
  StableRunIdOptions,
  JsonObject,
} from "./run-identity.js";
export { assessComparability } from "./comparability.js";
export type { Comparability, ComparabilityLevel, ComparabilityMode, ComparabilityOptions, ComparabilityReason } from "./comparability.js";
export {
  RUN_MANIFEST_FILE,
  RUN_MANIFEST_SCHEMA_VERSION,
  RUN_MANIFEST_KIND,
  RunManifestSchema,
  IdentityRecordSchema,
  runManifestJsonSchema,
} from "./manifest-schema.js";
export type { RunManifest, StageRecord, ArtifactRecord, StageStatus, RunStatus } from "./manifest-schema.js";
export { relativePathProblem, resolveInsideRoot } from "./manifest-paths.js";
export { createRun, openRun, readRunManifest, updateRunManifest } from "./run-manifest.js";
export type { ArtifactPlan, StagePlan, RunPlan, RunOptions, Run } from "./run-manifest.js";
export type { StageHandle, StageCompletion, RequireUpstreamOptions } from "./stage.js";
export { runPipeline } from "./pipeline.js";
export type { StageContext, StageOutcome, PipelineStage, PipelineDefinition, RunPipelineOptions, PipelineResult } from "./pipeline.js";
export { buildJobMatrix, normalizeFilters, axisValuesMatch, JobMatrixError, MissingInputError, JobMatrixErrorCode } from "./job-matrix.js";
export type { AxisValue, JobParams, JobRule, JobInputs, JobMatrixSpec, JobFilters, BuildJobMatrixOptions, StudyJob, SkipEvent, NormalizedFilters, JobMatrix } from "./job-matrix.js";
export { runJob, summarizeJobPlan, DRY_RUN_MARKER, RunnerError, RunnerErrorCode } from "./runner.js";
export type { JobLog, RunnerContext, RunnerOutput, RunnerFunction, RunnerModule, JobRunner, JobStatus, JobErrorRecord, JobResult, JobPlanSummary, RunJobOptions } from "./runner.js";
export { createLocalExecutor, checkConcurrency } from "./executor.js";
export type { Executor, ExecutorCallbacks, ExecutorRunOptions, LocalExecutorOptions } from "./executor.js";
export { createStudyProgress, silentProgress } from "./progress.js";
export type { StudyProgress, ProgressMode, StudyProgressOptions } from "./progress.js";
export {
  TRAINING_MANIFEST_FILE,
  SKIP_SUMMARY_FILE,
  TRAINING_MANIFEST_VERSION,
  trainingManifestSchema,
  trainingManifestJsonSchema,
  readTrainingManifest,
  countJobs,
  formatSkipSummary,
} from "./study-manifest.js";
export type { JobAction, JobIdentityRecord, TrainingJobRecord, SkipEventRecord, StudyState, StudyCounts, TrainingManifest, SkipSummary } from "./study-manifest.js";
export { planStudy, runStudy, formatPlanSummary, formatStudySummary, STUDY_LOCK_FILE } from "./study-runner.js";
export type { InputHasher, PlanStudyOptions, PlannedJob, StudyPlan, RunStudyOptions, StudyRunResult } from "./study-runner.js";
export { createBullmqExecutor, runWorker, QueueError, QueueErrorCode, DEFAULT_QUEUE_NAME } from "./executor-bullmq.js";
export type { BullmqExecutorOptions, RunWorkerOptions } from "./executor-bullmq.js";
