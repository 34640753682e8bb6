/**
 * `@studykit/core`: canonical JSON and fingerprints, run identities, manifests, stage pipelines,
 * the job matrix and the local runner.
 */
export { canonicalJson, fingerprint, CanonicalJsonError } from "./canonical-json.js";
export type { JsonValue } from "./canonical-json.js";
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
export { detectCodeVersion, detectGitVersion } from "./code-version.js";
export type { CodeVersion, DetectCodeVersionOptions } from "./code-version.js";
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
