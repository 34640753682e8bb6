/**
 * Whether two runs can be compared, and why (not).
 *
 * Two runs are comparable when they ran the same stage on the same config, data, features, code and
 * runtime; seeds may differ (replicates). Every differing field is named, config differences down to the
 * key path. The dataset snapshot hash is enforced by a graduated setting:
 *
 * - `strict`: both identities must be final and carry a snapshot hash, or the call throws
 *   (`E_IDENTITY_NOT_FINAL`, `E_SNAPSHOT_REQUIRED`); differing code versions make runs incomparable.
 * - `warn` (default; `best-effort` is an alias): a missing hash or a partial identity lowers the verdict to
 *   `best-effort`, with a reason and a warning; differing code versions do the same.
 * - `off`: a missing snapshot hash is ignored; everything else is as in `warn`, without warnings.
 *
 * Levels: `stable` (comparable, fully evidenced), `best-effort` (comparable with caveats, see reasons),
 * `incomparable`.
 */
import type { JsonValue } from "./canonical-json.js";
import { CoreError, CoreErrorCode } from "../errors.js";
import type { IdentityRecord, RunIdentity } from "./run-identity.js";

/** Snapshot-hash enforcement; `best-effort` means `warn`. */
export type ComparabilityMode = "off" | "warn" | "strict" | "best-effort";

/** Comparability verdict level. */
export type ComparabilityLevel = "stable" | "best-effort" | "incomparable";

/** One reason behind a verdict, structured (`Comparability.details`). */
export interface ComparabilityReason {
  /** The identity field (or config key path, `config.optimizer.lr`) concerned. */
  readonly field: string;
  /** `differs`: the values differ; `missing`: evidence is absent; `not-final`: an identity is partial; `replicate`: only seeds differ. */
  readonly kind: "differs" | "missing" | "not-final" | "replicate";
  /** What it does to the verdict. */
  readonly effect: ComparabilityLevel;
  /** Human-readable, starting with the field name, e.g. `config.lr differs: 0.001 vs 0.01`. */
  readonly message: string;
  readonly a?: JsonValue;
  readonly b?: JsonValue;
}

/** Result of {@link assessComparability}. */
export interface Comparability {
  readonly comparable: boolean;
  readonly level: ComparabilityLevel;
  /** One line per reason, each starting with the field it concerns (the `message` of each detail). */
  readonly reasons: readonly string[];
  /** The same reasons, structured: field, kind, effect on the verdict, the two values. */
  readonly details: readonly ComparabilityReason[];
}

/** Options of {@link assessComparability}. */
export interface ComparabilityOptions {
  /** Default `warn`. */
  readonly mode?: ComparabilityMode;
  /** Receives warnings in `warn` mode; default `process.emitWarning`. */
  readonly onWarning?: (message: string) => void;
}

const MAX_CONFIG_REASONS = 50;

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? "absent" : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

// Every key path at which two JSON values differ (arrays by index), capped.
function diffJson(a: unknown, b: unknown, path: string, out: { path: string; a: unknown; b: unknown }[]): void {
  if (out.length > MAX_CONFIG_REASONS) return;
  const isObject = (v: unknown) => v !== null && typeof v === "object";
  if (isObject(a) && isObject(b) && Array.isArray(a) === Array.isArray(b)) {
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) diffJson(a[i], b[i], `${path}[${i}]`, out);
      return;
    }
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort();
    for (const key of keys) diffJson(ao[key], bo[key], /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`, out);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b) && !(Number.isNaN(a) && Number.isNaN(b))) out.push({ path, a, b });
}

function sameJson(a: unknown, b: unknown): boolean {
  const out: { path: string; a: unknown; b: unknown }[] = [];
  diffJson(a, b, "", out);
  return out.length === 0;
}

const LEVEL_ORDER: Record<ComparabilityLevel, number> = { stable: 0, "best-effort": 1, incomparable: 2 };

/**
 * Compares two identities (partial or final, or their manifest records), naming every field that
 * differs. See the module doc for the modes.
 */
export function assessComparability(a: RunIdentity | IdentityRecord, b: RunIdentity | IdentityRecord, options: ComparabilityOptions = {}): Comparability {
  const mode = options.mode === "best-effort" ? "warn" : (options.mode ?? "warn");
  if (mode !== "off" && mode !== "warn" && mode !== "strict") {
    throw new CoreError(CoreErrorCode.PlanInvalid, `comparability mode must be "off", "warn" or "strict", got ${JSON.stringify(options.mode)}`);
  }
  const reasons: ComparabilityReason[] = [];
  const add = (reason: ComparabilityReason) => reasons.push(reason);
  const label = (identity: IdentityRecord, side: "a" | "b") => `${side} (${identity.debugKey ?? `partial ${identity.stage}`})`;

  // Evidence first: strict mode refuses to give a verdict without it.
  for (const [identity, side] of [[a, "a"], [b, "b"]] as const) {
    if (!identity.isFinal) {
      if (mode === "strict") {
        throw new CoreError(CoreErrorCode.IdentityNotFinal, `cannot assess comparability in strict mode: identity ${label(identity, side)} is not final; finalise both identities first`);
      }
      add({ field: "isFinal", kind: "not-final", effect: "best-effort", message: `isFinal: identity ${label(identity, side)} is not final (features not fixed), so the verdict is best-effort` });
    }
    if (identity.datasetSnapshotHash === null || identity.datasetSnapshotHash === undefined) {
      if (mode === "strict") {
        throw new CoreError(CoreErrorCode.SnapshotRequired, `cannot assess comparability in strict mode: identity ${label(identity, side)} has no dataset snapshot hash; record the dataset's snapshot hash in the identity (or use mode "warn")`);
      }
      if (mode === "warn") {
        add({ field: "datasetSnapshotHash", kind: "missing", effect: "best-effort", message: `datasetSnapshotHash: missing on identity ${label(identity, side)}, so equal data cannot be proven` });
      }
    }
  }

  if (a.stage !== b.stage) add({ field: "stage", kind: "differs", effect: "incomparable", message: `stage differs: ${show(a.stage)} vs ${show(b.stage)}`, a: a.stage, b: b.stage });
  if (a.configHash !== b.configHash) {
    const diffs: { path: string; a: unknown; b: unknown }[] = [];
    diffJson(a.config, b.config, "config", diffs);
    if (diffs.length === 0) diffs.push({ path: "config", a: a.configHash, b: b.configHash });
    for (const diff of diffs.slice(0, MAX_CONFIG_REASONS)) {
      add({ field: diff.path, kind: "differs", effect: "incomparable", message: `${diff.path} differs: ${show(diff.a)} vs ${show(diff.b)}`, a: (diff.a ?? null) as JsonValue, b: (diff.b ?? null) as JsonValue });
    }
    if (diffs.length > MAX_CONFIG_REASONS) add({ field: "config", kind: "differs", effect: "incomparable", message: `config: more keys differ (first ${MAX_CONFIG_REASONS} listed)` });
  }
  const snapA = a.datasetSnapshotHash ?? null;
  const snapB = b.datasetSnapshotHash ?? null;
  if (snapA !== null && snapB !== null && snapA !== snapB) {
    add({ field: "datasetSnapshotHash", kind: "differs", effect: "incomparable", message: `datasetSnapshotHash differs: ${snapA} vs ${snapB} (the runs saw different data)`, a: snapA, b: snapB });
  }
  if (a.isFinal && b.isFinal && a.featureSignatureHash !== b.featureSignatureHash) {
    add({ field: "featureSignatureHash", kind: "differs", effect: "incomparable", message: `featureSignatureHash differs: ${a.featureSignatureHash} vs ${b.featureSignatureHash} (the runs used different features)`, a: a.featureSignatureHash ?? null, b: b.featureSignatureHash ?? null });
  }
  if (!sameJson(a.runtime, b.runtime)) {
    const diffs: { path: string; a: unknown; b: unknown }[] = [];
    diffJson(a.runtime, b.runtime, "runtime", diffs);
    for (const diff of diffs) add({ field: diff.path, kind: "differs", effect: "incomparable", message: `${diff.path} differs: ${show(diff.a)} vs ${show(diff.b)}`, a: (diff.a ?? null) as JsonValue, b: (diff.b ?? null) as JsonValue });
  }
  // Code: a different commit, dirty tree or package version may change results.
  const codeEffect: ComparabilityLevel = mode === "strict" ? "incomparable" : "best-effort";
  const codeDiffs: { path: string; a: unknown; b: unknown }[] = [];
  diffJson(a.codeVersion, b.codeVersion, "codeVersion", codeDiffs);
  for (const diff of codeDiffs) add({ field: diff.path, kind: "differs", effect: codeEffect, message: `${diff.path} differs: ${show(diff.a)} vs ${show(diff.b)}`, a: (diff.a ?? null) as JsonValue, b: (diff.b ?? null) as JsonValue });
  if (a.codeVersion?.git?.dirty || b.codeVersion?.git?.dirty) {
    if (!codeDiffs.some((diff) => diff.path === "codeVersion.git.dirty")) {
      add({ field: "codeVersion.git.dirty", kind: "missing", effect: codeEffect, message: "codeVersion.git.dirty: a run was made from a checkout with uncommitted changes, so equal code cannot be proven" });
    }
  }
  if (!sameJson(a.seeds, b.seeds)) {
    add({ field: "seeds", kind: "replicate", effect: "stable", message: `seeds differ: ${show(a.seeds)} vs ${show(b.seeds)} (the runs are replicates)`, a: a.seeds, b: b.seeds });
  }

  const level = reasons.reduce<ComparabilityLevel>((worst, reason) => (LEVEL_ORDER[reason.effect] > LEVEL_ORDER[worst] ? reason.effect : worst), "stable");
  if (mode === "warn" && level === "best-effort") {
    const message = `runs compared best-effort: ${reasons.filter((reason) => reason.effect === "best-effort").map((reason) => reason.message).join("; ")}`;
    if (options.onWarning) options.onWarning(message);
    else process.emitWarning(message, { code: "STUDYKIT_COMPARABILITY" });
  }
  return { comparable: level !== "incomparable", level, reasons: reasons.map((reason) => reason.message), details: reasons };
}
