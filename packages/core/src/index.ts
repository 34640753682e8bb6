/**
 * `@studykit/core`: canonical JSON and fingerprints, run identities, manifests, stage pipelines,
 * the job matrix and the local runner.
 */
export { canonicalJson, fingerprint, CanonicalJsonError } from "./canonical-json.js";
export type { JsonValue } from "./canonical-json.js";
