/**
 * `@studykit/core`: what every run is and how a study's jobs run.
 *
 * - identity: canonical JSON and fingerprints, run identities, code versions, comparability verdicts;
 * - run: the run manifest (`run-manifest.json`) and the stage pipeline on top of it;
 * - study: the job matrix, the job runner contract, the study coordinator (`training_manifest.json`) and
 *   its executors (local child processes, BullMQ workers);
 * - fs: atomic file writes and the compiled-entry lookup for worker processes;
 * - the seeded random generator and the error classes.
 *
 * Only what users and the other packages use is exported; the rest lives in `src/internal/`.
 */
export { SeededRandom } from "./seeded-random.js";
export { CoreError, CoreErrorCode, QueueError, QueueErrorCode } from "./errors.js";

export { canonicalJson, fingerprint } from "./identity/canonical-json.js";
export type { JsonValue } from "./identity/canonical-json.js";
export { createPartialIdentity, identityFromRecord, stableRunId } from "./identity/run-identity.js";
export type { PartialIdentityInput, IdentityRecord, PartialIdentity, FinalIdentity, RunIdentity, StableRunIdOptions, JsonObject } from "./identity/run-identity.js";
export { detectCodeVersion, detectGitVersion } from "./identity/code-version.js";
export type { CodeVersion, DetectCodeVersionOptions } from "./identity/code-version.js";
export { assessComparability } from "./identity/comparability.js";
export type { Comparability, ComparabilityOptions, ComparabilityReason } from "./identity/comparability.js";

export { RUN_MANIFEST_FILE } from "./run/run-manifest-schema.js";
export type { RunManifest } from "./run/run-manifest-schema.js";
export { createRun, openRun, readRunManifest, updateRunManifest } from "./run/run-manifest.js";
export type { RunPlan, RunOptions, Run, StagePlan, ArtifactPlan } from "./run/run-manifest.js";
export type { BeginOptions, StageHandle } from "./run/stage.js";
export { runPipeline } from "./run/stage-pipeline.js";
export type { StageContext, StageOutcome, PipelineStage, PipelineDefinition, RunPipelineOptions, PipelineResult } from "./run/stage-pipeline.js";

export { buildJobMatrix } from "./study/job-matrix.js";
export type { JobParams, JobMatrixSpec, JobFilters, BuildJobMatrixOptions, StudyJob, SkipEvent, JobMatrix } from "./study/job-matrix.js";
export { runJob } from "./study/job-runner.js";
export type { JobLog, RunnerContext, RunnerOutput, RunnerFunction, RunnerModule, JobRunner, JobResult, JobPlanSummary, RunJobOptions } from "./study/job-runner.js";
export { createLocalExecutor } from "./study/local-executor.js";
export type { Executor, ExecutorCallbacks, ExecutorRunOptions, ExecutorStudy, LocalExecutorOptions } from "./study/local-executor.js";
export { createBullmqExecutor, DEFAULT_QUEUE_NAME } from "./study/bullmq-executor.js";
export type { BullmqExecutorOptions } from "./study/bullmq-executor.js";
export { runWorker, parsePathMapping } from "./study/queue-worker.js";
export type { RunWorkerOptions, PathMapping } from "./study/queue-worker.js";
export { readQueueStatus, formatQueueStatus, QUEUE_JOB_STATES } from "./study/queue-status.js";
export type { QueueStatus, QueueStatusOptions, QueueStudyStatus, QueueWorkerStatus, QueueJobState, QueueJobCounts } from "./study/queue-status.js";
export { silentProgress } from "./study/study-progress.js";
export type { StudyProgress } from "./study/study-progress.js";
export { readTrainingManifest, formatSkipSummary, skipEventSeedFields, SKIP_SUMMARY_FILE } from "./study/training-manifest.js";
export type { TrainingManifest, TrainingJobRecord } from "./study/training-manifest.js";
export { planStudy, formatPlanSummary } from "./study/study-planner.js";
export type { PlanStudyOptions, PlannedJob, StudyPlan } from "./study/study-planner.js";
export { runStudy, formatStudySummary } from "./study/study-coordinator.js";
export type { RunStudyOptions, StudyRunResult } from "./study/study-coordinator.js";

export { writeFileAtomic, writeFileAtomicSync, writeJsonAtomicSync } from "./fs/atomic-file.js";
export type { AtomicWriteOptions } from "./fs/atomic-file.js";
export { resolveCompiledEntry } from "./fs/compiled-entry.js";
export type { ResolveCompiledEntryOptions } from "./fs/compiled-entry.js";
