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
