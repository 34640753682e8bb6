/**
 * Run identities, built in two phases.
 *
 * A *partial* identity exists from the start of a run: stage, config (and its hash), dataset snapshot
 * hash, seeds, code version and runtime. `finalize(featureSignature)` locks it once the run's inputs are
 * fixed (selected features, chosen scan positions, model architecture) and derives its keys:
 *
 * - `strictKey`: SHA-256 over the canonical JSON of every identity field: same inputs, same key, on any
 *   machine and in any directory; change any one field and it changes.
 * - `replicateKey`: the same without the seeds, so replicates that differ only in seed group together.
 * - `debugKey`: short and readable, `<stage>-<first 8 hex of strictKey>-s<seeds>`.
 *
 * Identities are immutable (deeply frozen). The stable run id derives from the final identity only,
 * never from a directory name; see {@link stableRunId}.
 */
import { fingerprint, type JsonValue } from "./canonical-json.js";
import { detectCodeVersion, type CodeVersion } from "./code-version.js";
import { CoreError, CoreErrorCode } from "../errors.js";

/** Version of the identity record layout; part of every key, so a layout change never collides. */
export const IDENTITY_VERSION = 1;

/** A JSON object. */
export type JsonObject = { readonly [key: string]: JsonValue | undefined };

/** Input of {@link createPartialIdentity}. */
export interface PartialIdentityInput {
  /** Stage (or job kind) name: letters, digits, `.`, `_`, `-`. */
  readonly stage: string;
  /** The run's configuration, as JSON. Key order does not matter. */
  readonly config: JsonObject;
  /** Content hash of the input dataset (`@studykit/data`'s snapshot hash); null or absent when unknown. */
  readonly datasetSnapshotHash?: string | null;
  /** Seeds, by role (`{ init: 1, shuffle: 2 }`); a single number means `{ seed: n }`. Safe integers. */
  readonly seeds: number | Readonly<Record<string, number>>;
  /** Code version; default: studykit package versions plus the git state of the checkout studykit runs from. */
  readonly codeVersion?: CodeVersion;
  /** What the run executes on, as far as it changes results (e.g. `{ engine: "onnxruntime", backend: "cpu" }`). */
  readonly runtime?: JsonObject;
  /**
   * @deprecated Ignored. It used to pick the git checkout of the default code version, which made a run's
   * identity depend on where its output was written; see `detectOutputRepository` for that record.
   */
  readonly root?: string;
}

/** The recorded fields of an identity, as stored in manifests. */
export interface IdentityRecord {
  readonly identityVersion: number;
  readonly isFinal: boolean;
  readonly stage: string;
  readonly config: JsonObject;
  readonly configHash: string;
  readonly datasetSnapshotHash: string | null;
  readonly seeds: Readonly<Record<string, number>>;
  readonly codeVersion: CodeVersion;
  readonly runtime: JsonObject;
  /** Final identities only: fingerprint of the feature signature given to `finalize`. */
  readonly featureSignatureHash?: string;
  readonly strictKey?: string;
  readonly replicateKey?: string;
  readonly debugKey?: string;
}

/** An identity whose inputs are not fixed yet. */
export interface PartialIdentity extends IdentityRecord {
  readonly isFinal: false;
  /** Locks the identity; callable once. Throws `E_IDENTITY_FINAL` the second time. */
  finalize(featureSignature: JsonValue): FinalIdentity;
  toJSON(): IdentityRecord;
}

/** A locked identity with its keys. */
export interface FinalIdentity extends IdentityRecord {
  readonly isFinal: true;
  readonly featureSignatureHash: string;
  readonly strictKey: string;
  readonly replicateKey: string;
  readonly debugKey: string;
  /** Always throws `E_IDENTITY_FINAL`: a final identity cannot be finalised again. */
  finalize(featureSignature: JsonValue): never;
  toJSON(): IdentityRecord;
}

/** Either phase. */
export type RunIdentity = PartialIdentity | FinalIdentity;

const STAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SEED_ROLE = /^[A-Za-z0-9_.-]{1,64}$/;

function invalid(message: string): never {
  throw new CoreError(CoreErrorCode.IdentityInvalid, message);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

// A detached copy (canonical JSON has validated it is plain JSON) so later edits of the caller's object
// cannot change a recorded identity.
function copyJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function normaliseSeeds(seeds: PartialIdentityInput["seeds"]): Record<string, number> {
  const entries: [string, unknown][] = typeof seeds === "number" ? [["seed", seeds]] : seeds && typeof seeds === "object" && !Array.isArray(seeds) ? Object.entries(seeds) : invalid(`seeds must be an integer or an object of integers by role, got ${JSON.stringify(seeds)}`);
  if (entries.length === 0) invalid("seeds is empty: give at least one seed (e.g. { seed: 0 }) so runs are reproducible");
  const out: Record<string, number> = {};
  for (const [role, seed] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!SEED_ROLE.test(role)) invalid(`seed role "${role}" must be 1-64 letters, digits, ".", "_" or "-"`);
    if (typeof seed !== "number" || !Number.isSafeInteger(seed)) invalid(`seed "${role}" must be a safe integer, got ${JSON.stringify(seed)}`);
    out[role] = seed;
  }
  return out;
}

function checkCodeVersion(codeVersion: CodeVersion): CodeVersion {
  if (!codeVersion || typeof codeVersion !== "object" || typeof codeVersion.packages !== "object" || codeVersion.packages === null) {
    invalid(`codeVersion must be { packages: { name: version }, git: { commit, dirty } | null }, got ${JSON.stringify(codeVersion)}`);
  }
  for (const [name, version] of Object.entries(codeVersion.packages)) {
    if (typeof version !== "string") invalid(`codeVersion.packages["${name}"] must be a version string, got ${JSON.stringify(version)}`);
  }
  const git = codeVersion.git ?? null;
  if (git !== null && (typeof git.commit !== "string" || git.commit.length === 0 || typeof git.dirty !== "boolean")) {
    invalid(`codeVersion.git must be { commit: string, dirty: boolean } or null, got ${JSON.stringify(git)}`);
  }
  return { packages: copyJson(codeVersion.packages), git: git === null ? null : { commit: git.commit, dirty: git.dirty } };
}

// The fields every key covers. Keys hash the config through its hash so a huge config is hashed once.
function keyFields(record: IdentityRecord, withSeeds: boolean): { [key: string]: JsonValue } {
  return {
    identityVersion: record.identityVersion,
    stage: record.stage,
    configHash: record.configHash,
    datasetSnapshotHash: record.datasetSnapshotHash,
    codeVersion: record.codeVersion as unknown as JsonValue,
    runtime: record.runtime,
    featureSignatureHash: record.featureSignatureHash ?? null,
    ...(withSeeds ? { seeds: record.seeds } : {}),
  };
}

function recordOf(identity: IdentityRecord): IdentityRecord {
  const { identityVersion, isFinal, stage, config, configHash, datasetSnapshotHash, seeds, codeVersion, runtime, featureSignatureHash, strictKey, replicateKey, debugKey } = identity;
  return copyJson({ identityVersion, isFinal, stage, config, configHash, datasetSnapshotHash, seeds, codeVersion, runtime, featureSignatureHash, strictKey, replicateKey, debugKey });
}

const finalised = new WeakSet<object>();

function finaliseRecord(partial: IdentityRecord, featureSignatureHash: string): FinalIdentity {
  const base: IdentityRecord = { ...recordOf(partial), isFinal: true, featureSignatureHash };
  const strictKey = fingerprint(keyFields(base, true));
  const replicateKey = fingerprint(keyFields(base, false));
  const debugKey = `${base.stage}-${strictKey.slice(0, 8)}-s${Object.values(base.seeds).join(".")}`;
  const final = {
    ...base,
    isFinal: true as const,
    featureSignatureHash,
    strictKey,
    replicateKey,
    debugKey,
    finalize(): never {
      throw new CoreError(CoreErrorCode.IdentityFinal, `identity ${debugKey} is already final; build a new partial identity for a new run`);
    },
    toJSON(): IdentityRecord {
      return recordOf(this);
    },
  };
  return deepFreeze(final);
}

function partialFromRecord(record: IdentityRecord): PartialIdentity {
  const partial: PartialIdentity = {
    ...recordOf(record),
    isFinal: false,
    finalize(featureSignature: JsonValue): FinalIdentity {
      if (finalised.has(partial)) {
        throw new CoreError(CoreErrorCode.IdentityFinal, `partial identity of stage "${partial.stage}" was already finalised; use the final identity that finalize() returned`);
      }
      const featureSignatureHash = fingerprint(featureSignature);
      finalised.add(partial);
      return finaliseRecord(partial, featureSignatureHash);
    },
    toJSON(): IdentityRecord {
      return recordOf(partial);
    },
  };
  return deepFreeze(partial);
}

/** Builds an immutable partial identity; every field is recorded and validated (`E_IDENTITY_INVALID`). */
export function createPartialIdentity(input: PartialIdentityInput): PartialIdentity {
  if (typeof input.stage !== "string" || !STAGE_NAME.test(input.stage)) {
    invalid(`stage ${JSON.stringify(input.stage)} must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  if (!input.config || typeof input.config !== "object" || Array.isArray(input.config)) invalid(`config must be a JSON object, got ${JSON.stringify(input.config)}`);
  const configHash = fingerprint(input.config); // also validates it is canonical-JSON encodable
  const snapshot = input.datasetSnapshotHash ?? null;
  if (snapshot !== null && (typeof snapshot !== "string" || !/^\S{1,256}$/.test(snapshot))) {
    invalid(`datasetSnapshotHash must be a non-empty hash string without spaces, or null; got ${JSON.stringify(snapshot)}`);
  }
  const runtime = input.runtime ?? {};
  if (typeof runtime !== "object" || Array.isArray(runtime)) invalid(`runtime must be a JSON object, got ${JSON.stringify(runtime)}`);
  fingerprint(runtime);
  const codeVersion = checkCodeVersion(input.codeVersion ?? detectCodeVersion());
  return partialFromRecord({
    identityVersion: IDENTITY_VERSION,
    isFinal: false,
    stage: input.stage,
    config: copyJson(input.config),
    configHash,
    datasetSnapshotHash: snapshot,
    seeds: normaliseSeeds(input.seeds),
    codeVersion,
    runtime: copyJson(runtime),
  });
}

/**
 * Rebuilds an identity from its record (as read from a manifest), recomputing its keys: a record whose
 * stored config hash or keys do not match its fields has been edited and is refused (`E_IDENTITY_INVALID`).
 */
export function identityFromRecord(record: IdentityRecord): RunIdentity {
  if (fingerprint(record.config) !== record.configHash) {
    invalid(`identity of stage "${record.stage}": configHash ${record.configHash} does not match its config; the record was edited`);
  }
  if (record.identityVersion !== IDENTITY_VERSION) {
    invalid(`identity version ${record.identityVersion} is not supported (this studykit reads version ${IDENTITY_VERSION})`);
  }
  const partial = createPartialIdentity({
    stage: record.stage,
    config: record.config,
    datasetSnapshotHash: record.datasetSnapshotHash,
    seeds: record.seeds,
    codeVersion: record.codeVersion,
    runtime: record.runtime,
  });
  if (!record.isFinal) return partial;
  if (typeof record.featureSignatureHash !== "string") invalid(`final identity of stage "${record.stage}" has no featureSignatureHash`);
  const final = finaliseRecord(partial, record.featureSignatureHash);
  if (final.strictKey !== record.strictKey || final.replicateKey !== record.replicateKey) {
    invalid(`final identity ${record.debugKey ?? record.stage}: stored keys do not match its fields (stored strictKey ${record.strictKey}, computed ${final.strictKey}); the record was edited`);
  }
  return final;
}

/** How a run id was obtained: from a final identity, or (best-effort mode only) as a fallback. */
export type RunIdSource = "final" | "fallback";

/** Identity enforcement: `strict` refuses what `best-effort` warns about and records as a fallback. */
export type IdentityMode = "strict" | "best-effort";

/** Options of {@link stableRunId}. */
export interface StableRunIdOptions {
  /** Default `strict`. */
  readonly mode?: IdentityMode;
  /** Receives best-effort warnings; default `process.emitWarning`. */
  readonly onWarning?: (message: string) => void;
}

/** Prefix of fallback run ids, so they can never be mistaken for stable ones. */
export const FALLBACK_RUN_ID_PREFIX = "fallback-";

/**
 * The stable run id: `run-` and the first 32 hex characters of the final identity's `strictKey`. In
 * `strict` mode a partial identity throws `E_IDENTITY_NOT_FINAL`; in `best-effort` mode it warns and
 * returns `fallback-<hash of the partial identity>`, which callers record with `runIdSource: "fallback"`
 * (see {@link runIdSourceOf}).
 */
export function stableRunId(identity: RunIdentity | IdentityRecord, options: StableRunIdOptions = {}): string {
  const mode = options.mode ?? "strict";
  if (identity.isFinal) {
    if (typeof identity.strictKey !== "string") invalid("final identity has no strictKey");
    return `run-${identity.strictKey.slice(0, 32)}`;
  }
  if (mode === "strict") {
    throw new CoreError(
      CoreErrorCode.IdentityNotFinal,
      `identity of stage "${identity.stage}" is not final: call finalize(featureSignature) once the run's inputs are fixed before asking for its run id (or use mode "best-effort" to get a fallback id)`,
    );
  }
  const fallback = `${FALLBACK_RUN_ID_PREFIX}${fingerprint({ ...keyFields(identity, true), isFinal: false }).slice(0, 32)}`;
  const message = `identity of stage "${identity.stage}" is not final; using fallback run id ${fallback} (recorded as runIdSource "fallback")`;
  if (options.onWarning) options.onWarning(message);
  else process.emitWarning(message, { code: "STUDYKIT_RUN_ID_FALLBACK" });
  return fallback;
}

/** Whether a run id for this identity is stable (`final`) or a best-effort `fallback`. */
export function runIdSourceOf(identity: RunIdentity | IdentityRecord): RunIdSource {
  return identity.isFinal ? "final" : "fallback";
}
