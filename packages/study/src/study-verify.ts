/**
 * `verifyStudy(root)`: checks a finished study against its files, the way `sha256sum -c` checks a list.
 *
 * Every hash a manifest records is recomputed from the file it names:
 *
 * - `study_manifest.json`: its identity's keys against its fields, the run id against the strict key, and
 *   its copies of the job, bundle and reconstruction records against the phase manifests;
 * - Phase C: each dose's train/test npz against the recorded snapshot hashes (array contents);
 * - Phase D: each accepted view's npz (snapshot hash) and groups file (Phase D's fingerprint of it);
 * - Phase E: each job's inputs against `inputHashes`, its identity record's keys, and its bundle's bytes
 *   against `bundleSha256`; then the bundle's own `identity.json` against the job's record: the strict key
 *   and run id when the bundle identity is final, otherwise the fields a partial identity shares with it
 *   (dataset snapshot hash of the training input, seeds, code version) — the strict key is then reported as
 *   not checkable, not as a failure;
 * - Phase F: each reconstruction's bytes against its SHA-256;
 * - Phase G and the report: the files exist and the comparison names the study's run id;
 * - replicates 1 … R − 1: each replicate's own phase manifests under `replicates/r<r>/`, checked the same way;
 * - `run-manifest.json` (core's record of the study's stages): its run id and strict key against the study
 *   manifest's, every stage recorded as succeeded, and every file a stage recorded (the phase manifests,
 *   the comparisons and the report) against its SHA-256.
 *
 * Nothing stops at the first problem: every mismatch is collected and returned, each naming the file
 * (relative to the study root), what was expected and what was found.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import {
  canonicalJson,
  CoreError,
  CoreErrorCode,
  fingerprint,
  identityFromRecord,
  readTrainingManifest,
  SKIP_SUMMARY_FILE,
  stableRunId,
  type IdentityRecord,
  type JsonValue,
  type TrainingManifest,
} from "@studykit/core";
import { datasetSnapshotHash } from "@studykit/data";
import { sha256 } from "@studykit/native";
import { loadBundle } from "@studykit/trainer";
import type { PhaseFManifest } from "./iterative-phase.js";
import type { PhaseDManifest } from "./overlap-phase.js";
import type { PhaseCManifest } from "./simulate-phase.js";
import { STUDY_LAYOUT } from "./study-layout.js";
import { StudyStateError, StudyStateErrorCode } from "./errors.js";
import type { StudyManifest, StudyManifestReplicate } from "./study-pipeline.js";

/** What kind of problem a {@link VerifyProblem} is. */
export type VerifyProblemKind =
  /** A file's hash differs from the one recorded. */
  | "hash-mismatch"
  /** A recorded file does not exist. */
  | "missing"
  /** A file exists but cannot be read as what it should be (not a zip, not an npz, not JSON). */
  | "unreadable"
  /** An identity (a record's keys, a bundle's identity.json) disagrees with its manifest record. */
  | "identity-mismatch"
  /** Two manifests record different values for the same thing. */
  | "record-mismatch";

/** One problem found by {@link verifyStudy}. */
export interface VerifyProblem {
  readonly kind: VerifyProblemKind;
  /** The file concerned, relative to the study root (POSIX). */
  readonly file: string;
  /** What was compared: `sha256`, `snapshot hash`, `identity.strictKey`, … */
  readonly field: string;
  readonly expected: string | null;
  readonly actual: string | null;
  /** One line: the file, what differs, expected vs actual, where the expectation comes from. */
  readonly message: string;
}

/** What {@link verifyStudy} returns. */
export interface StudyVerification {
  /** Absolute study root. */
  readonly root: string;
  readonly runId: string | null;
  /** True when no problem was found. */
  readonly ok: boolean;
  /** Files whose content was hashed and compared. */
  readonly filesHashed: number;
  /** Individual comparisons made (hashes, identity fields, record copies). */
  readonly checks: number;
  readonly problems: readonly VerifyProblem[];
  /** Things that could not be checked, and why (not failures). */
  readonly notChecked: readonly string[];
}

type JsonRecord = Record<string, unknown>;

function isRecord(value: unknown): value is JsonRecord {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Canonical JSON (key order does not matter), or plain JSON for what canonical JSON refuses. */
function canonical(value: unknown): string {
  try {
    return canonicalJson((value ?? null) as JsonValue);
  } catch {
    return String(JSON.stringify(value));
  }
}

function show(value: unknown): string {
  return value === null || value === undefined ? "none" : typeof value === "string" ? value : canonical(value);
}

/** Hashes a job input as the study does: snapshot hash for npz/npy, SHA-256 of the bytes otherwise. */
function inputHash(file: string): string {
  return file.endsWith(".npz") || file.endsWith(".npy") ? datasetSnapshotHash(file) : sha256(readFileSync(file));
}

class Verifier {
  readonly problems: VerifyProblem[] = [];
  readonly notChecked: string[] = [];
  filesHashed = 0;
  checks = 0;

  /**
   * `root`: where the manifests' relative paths start (a replicate's root for its own phases); `studyRoot`:
   * the study's output root, which names every problem's file and holds `study_manifest.json`.
   */
  constructor(
    readonly root: string,
    readonly studyRoot: string = root,
  ) {}

  relative(file: string): string {
    const relative = path.relative(this.studyRoot, file);
    return relative.startsWith("..") || path.isAbsolute(relative) ? file : relative.split(path.sep).join("/");
  }

  absolute(file: string): string {
    if (path.isAbsolute(file)) return file;
    return path.join(file === STUDY_LAYOUT.studyManifest ? this.studyRoot : this.root, ...file.split("/"));
  }

  problem(kind: VerifyProblemKind, file: string, field: string, expected: unknown, actual: unknown, detail: string): void {
    const shown = this.relative(this.absolute(file));
    const difference = kind === "missing" ? "is missing" : kind === "unreadable" ? `cannot be read (${detail})` : `${field} differs: expected ${show(expected)}, found ${show(actual)}`;
    const where = kind === "unreadable" ? "" : ` (${detail})`;
    this.problems.push({ kind, file: shown, field, expected: expected === undefined || expected === null ? null : show(expected), actual: actual === undefined || actual === null ? null : show(actual), message: `${shown}: ${difference}${where}` });
  }

  /** Compares two recorded values; a difference is a problem on `file`. */
  same(file: string, field: string, expected: unknown, actual: unknown, source: string, kind: VerifyProblemKind = "record-mismatch"): boolean {
    this.checks += 1;
    if (canonical(expected) === canonical(actual)) return true;
    this.problem(kind, file, field, expected, actual, source);
    return false;
  }

  /** True when the file exists; a missing one is recorded. */
  present(file: string, source: string): boolean {
    this.checks += 1;
    if (existsSync(this.absolute(file))) return true;
    this.problem("missing", file, "file", null, null, source);
    return false;
  }

  /** Recomputes `hash(file)` and compares it with `expected`. */
  hashed(file: string, field: string, expected: string | null, hash: (absolute: string) => string, source: string): string | null {
    if (!this.present(file, source)) return null;
    let actual: string;
    try {
      actual = hash(this.absolute(file));
    } catch (error) {
      this.problem("unreadable", file, field, expected, null, (error as Error).message);
      return null;
    }
    this.filesHashed += 1;
    this.same(file, field, expected, actual, `recorded in ${source}`, "hash-mismatch");
    return actual;
  }

  /** Reads a JSON manifest; a missing or unparsable one is a problem and gives null. */
  json<T>(file: string, source: string): T | null {
    if (!this.present(file, source)) return null;
    try {
      return JSON.parse(readFileSync(this.absolute(file), "utf8")) as T;
    } catch (error) {
      this.problem("unreadable", file, "json", null, null, (error as Error).message);
      return null;
    }
  }
}

const fileSha256 = (file: string): string => sha256(readFileSync(file));

/** Keys of an identity record recomputed from its fields; a problem when they disagree. */
function checkIdentityRecord(verifier: Verifier, file: string, label: string, fields: unknown, strictKey: string | null, runId: string | null): void {
  verifier.checks += 1;
  try {
    const identity = identityFromRecord(fields as IdentityRecord);
    if (!identity.isFinal) {
      verifier.problem("identity-mismatch", file, `${label}.isFinal`, true, false, "a recorded run identity must be final");
      return;
    }
    verifier.same(file, `${label}.strictKey`, strictKey, identity.strictKey, "recomputed from the identity's fields", "identity-mismatch");
    verifier.same(file, `${label}.runId`, runId, stableRunId(identity), "derived from the identity's strict key", "identity-mismatch");
  } catch (error) {
    verifier.problem("identity-mismatch", file, `${label}.fields`, null, null, (error as Error).message);
  }
}

function checkPhaseC(verifier: Verifier, manifest: StudyManifest): void {
  const source = manifest.phases.C.manifest;
  const phaseC = verifier.json<PhaseCManifest>(source, STUDY_LAYOUT.studyManifest);
  if (!phaseC) return;
  for (const record of phaseC.doses) {
    for (const split of ["train", "test"] as const) {
      const file = record.files[split];
      const actual = verifier.hashed(file, "snapshot hash", record.snapshots[split], datasetSnapshotHash, source);
      const key = `${path.posix.basename(path.posix.dirname(file))}/${split}`;
      const studyCopy = manifest.phases.C.datasetSnapshots[key];
      if (actual !== null && studyCopy !== undefined) verifier.same(file, "snapshot hash", studyCopy, actual, `recorded in ${STUDY_LAYOUT.studyManifest} phases.C.datasetSnapshots["${key}"]`, "hash-mismatch");
    }
  }
}

/**
 * Phase D's fingerprint of a groups file: of the groups and their offsets, or of the groups alone in files
 * written before groups had offsets.
 */
function groupsFingerprint(file: string): string {
  const groups = JSON.parse(readFileSync(file, "utf8")) as { readonly groups: JsonValue; readonly offsets?: JsonValue };
  return fingerprint(groups.offsets === undefined ? groups.groups : { groups: groups.groups, offsets: groups.offsets });
}

function checkPhaseD(verifier: Verifier, manifest: StudyManifest): void {
  const source = manifest.phases.D.manifest;
  const phaseD = verifier.json<PhaseDManifest>(source, STUDY_LAYOUT.studyManifest);
  if (!phaseD) return;
  for (const record of phaseD.views) {
    if (record.status !== "accepted" || record.files === null) continue;
    verifier.hashed(record.files.dataset, "snapshot hash", record.snapshot, datasetSnapshotHash, source);
    if (record.files.groups !== null) {
      verifier.hashed(record.files.groups, "groups fingerprint", record.groupsSha256, groupsFingerprint, source);
    }
  }
}

/** The bundle's identity.json against the job's record (see the module doc). */
function checkBundleIdentity(verifier: Verifier, file: string, bundleIdentity: unknown, job: TrainingManifest["jobs"][number]): void {
  const source = `the job's record in ${STUDY_LAYOUT.trainingDir}/training_manifest.json`;
  if (!isRecord(bundleIdentity)) {
    verifier.problem("identity-mismatch", file, "identity.json", "an identity record", bundleIdentity, "the bundle's identity.json is not an object");
    return;
  }
  if (job.identity === null) return;
  if (bundleIdentity["isFinal"] === true) {
    verifier.same(file, "identity.json strictKey", job.identity.strictKey, bundleIdentity["strictKey"], source, "identity-mismatch");
    verifier.same(file, "identity.json runId", job.identity.runId, stableRunId(bundleIdentity as unknown as IdentityRecord), source, "identity-mismatch");
    return;
  }
  verifier.notChecked.push(`${verifier.relative(verifier.absolute(file))}: identity.json is a partial identity (isFinal false), so its strict key and run id cannot be compared with the manifest's; compared the dataset snapshot hash, seeds and code version instead`);
  const trainHash = job.inputHashes["train"];
  if (trainHash !== undefined) verifier.same(file, "identity.json datasetSnapshotHash", trainHash, bundleIdentity["datasetSnapshotHash"], `${source}, inputHashes.train`, "identity-mismatch");
  const seed = job.seeds["seed"];
  const seeds = bundleIdentity["seeds"];
  if (seed !== undefined && isRecord(seeds)) {
    for (const [role, value] of Object.entries(seeds).sort(([a], [b]) => a.localeCompare(b))) verifier.same(file, `identity.json seeds.${role}`, seed, value, `${source}, seeds.seed`, "identity-mismatch");
  } else {
    verifier.same(file, "identity.json seeds", job.seeds, seeds, source, "identity-mismatch");
  }
  verifier.same(file, "identity.json codeVersion", job.identity.fields["codeVersion"], bundleIdentity["codeVersion"], source, "identity-mismatch");
}

async function checkPhaseE(verifier: Verifier, manifest: StudyManifest): Promise<void> {
  const source = manifest.phases.E.manifest;
  if (!verifier.present(source, STUDY_LAYOUT.studyManifest)) return;
  let training: TrainingManifest;
  try {
    training = await readTrainingManifest(verifier.absolute(source));
  } catch (error) {
    verifier.problem("unreadable", source, "json", null, null, (error as Error).message);
    return;
  }
  verifier.present(manifest.phases.E.skipSummary, STUDY_LAYOUT.studyManifest);
  const artifactDir = path.posix.dirname(source);
  const studyJobs = new Map(manifest.jobs.map((job) => [job.id, job]));
  for (const job of training.jobs) {
    const where = `${source}, job ${job.id}`;
    if (job.identity !== null) checkIdentityRecord(verifier, source, `jobs["${job.id}"].identity`, job.identity.fields, job.identity.strictKey, job.identity.runId);
    for (const [role, input] of Object.entries(job.inputs)) {
      verifier.hashed(input, `input hash (${role})`, job.inputHashes[role] ?? null, inputHash, where);
    }
    if (job.identity !== null && Object.keys(job.inputHashes).length > 0) {
      verifier.same(source, `jobs["${job.id}"].identity datasetSnapshotHash`, fingerprint(job.inputHashes as JsonValue), job.identity.fields["datasetSnapshotHash"], "the fingerprint of the job's inputHashes", "identity-mismatch");
    }
    const studyJob = studyJobs.get(job.id);
    if (studyJob) {
      verifier.same(STUDY_LAYOUT.studyManifest, `jobs["${job.id}"].bundleSha256`, job.result.bundleSha256, studyJob.bundleSha256, `recorded in ${source}`);
      verifier.same(STUDY_LAYOUT.studyManifest, `jobs["${job.id}"].strictKey`, job.identity?.strictKey ?? null, studyJob.strictKey, `recorded in ${source}`);
      verifier.same(STUDY_LAYOUT.studyManifest, `jobs["${job.id}"].runId`, job.identity?.runId ?? null, studyJob.runId, `recorded in ${source}`);
    } else {
      verifier.same(STUDY_LAYOUT.studyManifest, `jobs["${job.id}"]`, "a record", null, `job ${job.id} is in ${source}`);
    }
    const finished = job.result.status === "succeeded" || job.result.status === "reused";
    if (job.result.bundlePath === null) {
      if (finished) verifier.problem("missing", source, `jobs["${job.id}"].result.bundlePath`, "a bundle", null, `job ${job.id} is ${job.result.status} but records no bundle`);
      continue;
    }
    const bundle = path.posix.join(artifactDir, job.artifactDir, job.result.bundlePath);
    const actual = verifier.hashed(bundle, "sha256", job.result.bundleSha256, fileSha256, where);
    // A bundle whose bytes differ from the record cannot vouch for anything inside it.
    if (actual === null || actual !== job.result.bundleSha256) continue;
    try {
      const loaded = await loadBundle(verifier.absolute(bundle));
      checkBundleIdentity(verifier, bundle, loaded.identity, job);
    } catch (error) {
      verifier.problem("unreadable", bundle, "bundle", null, null, (error as Error).message);
    }
  }
  for (const studyJob of manifest.jobs) {
    if (!training.jobs.some((job) => job.id === studyJob.id)) verifier.same(source, `jobs["${studyJob.id}"]`, "a record", null, `job ${studyJob.id} is in ${STUDY_LAYOUT.studyManifest}`);
  }
}

function checkPhaseF(verifier: Verifier, manifest: StudyManifest): void {
  const source = manifest.phases.F.manifest;
  if (source === null) return;
  const phaseF = verifier.json<PhaseFManifest>(source, STUDY_LAYOUT.studyManifest);
  if (!phaseF) return;
  const studyRecords = new Map(manifest.reconstructions.map((record) => [record.id, record]));
  for (const record of phaseF.records) {
    const studyRecord = studyRecords.get(record.id);
    if (studyRecord) {
      verifier.same(STUDY_LAYOUT.studyManifest, `reconstructions["${record.id}"].sha256`, record.sha256, studyRecord.sha256, `recorded in ${source}`);
      verifier.same(STUDY_LAYOUT.studyManifest, `reconstructions["${record.id}"].strictKey`, record.identity?.strictKey ?? null, studyRecord.strictKey, `recorded in ${source}`);
    }
    if (record.file === null) continue;
    verifier.hashed(record.file, "sha256", record.sha256, fileSha256, `${source}, reconstruction ${record.id}`);
  }
}

/** Core's run manifest of the study's stages: ids against the study manifest, every recorded file against its SHA-256. */
function checkRunManifest(verifier: Verifier, manifest: StudyManifest): void {
  const file = typeof manifest.runManifest === "string" ? manifest.runManifest : null;
  if (file === null) {
    verifier.notChecked.push(`${STUDY_LAYOUT.studyManifest} names no run manifest (a study written before studykit recorded its stages in run-manifest.json)`);
    return;
  }
  const recorded = verifier.json<{ runId?: unknown; identity?: { strictKey?: unknown }; stages?: Record<string, { status?: unknown; artifacts?: Record<string, { path: string; sha256: string | null }> }> }>(file, STUDY_LAYOUT.studyManifest);
  if (recorded === null) return;
  verifier.same(file, "runId", manifest.runId, recorded.runId ?? null, `the run id in ${STUDY_LAYOUT.studyManifest}`, "identity-mismatch");
  verifier.same(file, "identity.strictKey", manifest.identity?.strictKey ?? null, recorded.identity?.strictKey ?? null, `the strict key in ${STUDY_LAYOUT.studyManifest}`, "identity-mismatch");
  for (const [name, stage] of Object.entries(isRecord(recorded.stages) ? recorded.stages : {})) {
    // A dry run trains nothing: its E, F and G stages are not run.
    if (manifest.dryRun && stage.status !== "succeeded") continue;
    if (!verifier.same(file, `stages.${name}.status`, "succeeded", stage.status ?? null, "a finished study's stages have all succeeded")) continue;
    for (const [artifactName, artifact] of Object.entries(isRecord(stage.artifacts) ? stage.artifacts : {})) {
      if (artifact.sha256 !== null) verifier.hashed(artifact.path, `SHA-256 (stage ${name}, artifact ${artifactName})`, artifact.sha256, fileSha256, file);
    }
  }
}

function checkPhaseG(verifier: Verifier, manifest: StudyManifest): void {
  if (manifest.phases.G.comparison !== null) {
    const comparison = verifier.json<{ runId?: unknown }>(manifest.phases.G.comparison, STUDY_LAYOUT.studyManifest);
    if (comparison) verifier.same(manifest.phases.G.comparison, "runId", manifest.runId, comparison.runId ?? null, `the run id in ${STUDY_LAYOUT.studyManifest}`);
  }
  if (manifest.report !== null) {
    verifier.present(manifest.report.markdown, STUDY_LAYOUT.studyManifest);
    verifier.present(manifest.report.html, STUDY_LAYOUT.studyManifest);
  }
  if (typeof manifest.runManifest !== "string") verifier.notChecked.push("phaseG/ and report/ files record no hashes: checked that they exist (and the comparison's run id), not their content");
}

/**
 * A replicate other than 0: its own phase manifests under `replicates/r<r>/`, checked as replicate 0's are
 * (its files, hashes, job and bundle identities, and its records in `study_manifest.json`); problems name
 * the files relative to the study root.
 */
async function checkReplicate(verifier: Verifier, manifest: StudyManifest, replicate: StudyManifestReplicate): Promise<void> {
  const prefix = `${replicate.root}/`;
  const inside = (file: string): string => (file.startsWith(prefix) ? file.slice(prefix.length) : file);
  const sub = new Verifier(verifier.absolute(replicate.root), verifier.studyRoot);
  const datasetSnapshots = Object.fromEntries(Object.entries(manifest.phases.C.datasetSnapshots).filter(([key]) => key.startsWith(prefix)).map(([key, value]) => [inside(key), value]));
  const view: StudyManifest = {
    ...manifest,
    phases: {
      C: { ...manifest.phases.C, manifest: inside(replicate.phases.C), datasetSnapshots },
      D: { ...manifest.phases.D, manifest: inside(replicate.phases.D) },
      E: { ...manifest.phases.E, manifest: inside(replicate.phases.E), skipSummary: path.posix.join(path.posix.dirname(inside(replicate.phases.E)), SKIP_SUMMARY_FILE) },
      F: { ...manifest.phases.F, manifest: replicate.phases.F === null ? null : inside(replicate.phases.F) },
      G: { comparison: replicate.phases.G === null ? null : inside(replicate.phases.G) },
    },
    jobs: replicate.jobs,
    reconstructions: replicate.reconstructions,
    report: null,
  };
  checkPhaseC(sub, view);
  checkPhaseD(sub, view);
  await checkPhaseE(sub, view);
  checkPhaseF(sub, view);
  checkPhaseG(sub, view);
  verifier.problems.push(...sub.problems);
  // Notes that say the same for every replicate are kept once.
  for (const note of sub.notChecked) if (!verifier.notChecked.includes(note)) verifier.notChecked.push(note);
  verifier.filesHashed += sub.filesHashed;
  verifier.checks += sub.checks;
}

/**
 * Verifies the study under `root` against its manifests (see the module doc). Throws only when there is
 * nothing to verify: no `study_manifest.json` (`E_MISSING_ARTIFACT`) or one that is not a study manifest
 * (`E_JSON_INVALID`); every other problem is returned in `problems`.
 */
export async function verifyStudy(root: string): Promise<StudyVerification> {
  const absoluteRoot = path.resolve(root);
  const manifestFile = path.join(absoluteRoot, STUDY_LAYOUT.studyManifest);
  if (!existsSync(manifestFile) || !statSync(manifestFile).isFile()) {
    throw new CoreError(CoreErrorCode.MissingArtifact, `${manifestFile} does not exist: pass the output root of \`studykit study run\` (the directory holding ${STUDY_LAYOUT.studyManifest})`);
  }
  let manifest: StudyManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as StudyManifest;
  } catch (error) {
    throw new CoreError(CoreErrorCode.JsonInvalid, `${manifestFile} is not valid JSON (${(error as Error).message}); it cannot be verified: rerun the study to rewrite it`);
  }
  if (!isRecord(manifest) || manifest.kind !== "studykit-study" || !isRecord(manifest.phases)) {
    throw new CoreError(CoreErrorCode.JsonInvalid, `${manifestFile} is not a study manifest (kind ${JSON.stringify(isRecord(manifest) ? manifest.kind : null)}, expected "studykit-study"): pass the output root of \`studykit study run\``);
  }
  // A study killed or still running has recorded its plan but no final identity or results to check.
  const state = (manifest as { state?: unknown }).state;
  if (state === "running" || manifest.runId === null) {
    const stages = Array.isArray((manifest as { stages?: unknown }).stages) ? (manifest as unknown as { stages: { name: string; status: string }[] }).stages : [];
    const where = stages.length > 0 ? ` (phases: ${stages.map((stage) => `${stage.name} ${stage.status}`).join(", ")})` : "";
    const failure = manifest.error ? `; it stopped on error[${manifest.error.code}]: ${manifest.error.message.split("\n")[0]}` : "; it was interrupted or is still running";
    throw new StudyStateError(
      StudyStateErrorCode.Unfinished,
      `${manifestFile}: the study has not finished${where}${failure}. Run \`studykit study run\` again with the same options to complete it (finished jobs are reused), then verify`,
    );
  }
  const verifier = new Verifier(absoluteRoot);
  if (manifest.dryRun) verifier.notChecked.push("the study manifest is from a dry run: nothing was trained, so no bundles are checked");
  checkIdentityRecord(verifier, STUDY_LAYOUT.studyManifest, "identity", manifest.identity?.fields, manifest.identity?.strictKey ?? null, manifest.runId);
  checkPhaseC(verifier, manifest);
  checkPhaseD(verifier, manifest);
  await checkPhaseE(verifier, manifest);
  checkPhaseF(verifier, manifest);
  checkPhaseG(verifier, manifest);
  for (const replicate of Array.isArray(manifest.replicates) ? manifest.replicates : []) await checkReplicate(verifier, manifest, replicate);
  checkRunManifest(verifier, manifest);
  return { root: absoluteRoot, runId: manifest.runId ?? null, ok: verifier.problems.length === 0, filesHashed: verifier.filesHashed, checks: verifier.checks, problems: verifier.problems, notChecked: verifier.notChecked };
}
