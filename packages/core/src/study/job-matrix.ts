/**
 * The training job matrix: axes × derivation rules → jobs with deterministic ids, input files checked up
 * front, filters that narrow the matrix without changing ids, and structured skip events for jobs whose
 * inputs are missing.
 *
 * ```ts
 * const matrix = buildJobMatrix({
 *   axes: { dose: [1e3, 1e4], view: ["baseline", "dense", "sparse"] },
 *   rules: [(p) => ({ gridsize: p.view === "baseline" ? 1 : 2 })],
 *   id: (p) => `dose_${p.dose}/${p.view}/gs${p.gridsize}`,
 *   inputs: (p) => ({ train: p.view === "baseline" ? `phaseC/dose_${p.dose}/patched_train.npz` : `phaseD/dose_${p.dose}/${p.view}/${p.view}_train.npz` }),
 * }, { inputRoot, artifactRoot, strict: false, filters: { dose: [1e3] } });
 * ```
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { StudykitError } from "@studykit/native";
import type { JsonValue } from "../identity/canonical-json.js";
import { compileJobIdGlob, matchesAnyJobIdGlob } from "../internal/study/job-id-glob.js";
import type { JobIdentityRecord } from "./training-manifest.js";

/** Error codes raised while building a job matrix. */
export const JobMatrixErrorCode = {
  /** Strict mode: one or more jobs' input files are missing (every missing path is listed). */
  MissingInput: "E_MISSING_INPUT",
  /** The matrix spec is invalid (empty axis, bad or duplicate job id, rule returning a non-object...). */
  InvalidSpec: "E_JOB_MATRIX_SPEC",
  /** A filter names a parameter no job has, or a value no job takes. */
  FilterNoMatch: "E_FILTER_NO_MATCH",
} as const;

/** Failure to build a job matrix. `details` lists every problem found (collect, then report). */
export class JobMatrixError extends StudykitError {
  readonly details: readonly string[];
  constructor(code: string, message: string, details: readonly string[] = []) {
    super(code, message);
    this.details = details;
  }
}

/** Strict mode found missing inputs; `missingPaths` holds every one, `jobs` the affected job ids. */
export class MissingInputError extends JobMatrixError {
  readonly missingPaths: readonly string[];
  readonly jobIds: readonly string[];
  constructor(missing: readonly { jobId: string; paths: readonly string[] }[]) {
    const allPaths = [...new Set(missing.flatMap((entry) => entry.paths))];
    const lines = missing.map((entry) => `  ${entry.jobId}: ${entry.paths.join(", ")}`);
    super(
      JobMatrixErrorCode.MissingInput,
      `${allPaths.length} input file(s) missing for ${missing.length} job(s):\n${lines.join("\n")}\n` +
        "create the inputs (run the upstream stages), narrow the matrix with filters, or build without strict mode to skip these jobs",
      lines,
    );
    this.missingPaths = allPaths;
    this.jobIds = missing.map((entry) => entry.jobId);
  }
}

/** A value an axis can take. */
export type AxisValue = string | number | boolean;

/** A job's parameters: its axis values plus whatever the rules derived. */
export type JobParams = Readonly<Record<string, JsonValue>>;

/**
 * A derivation rule. A function returns parameters to merge (or `null` to drop the combination); the
 * declarative form sets parameters (or excludes the combination) when every `when` entry matches.
 */
export type JobRule =
  | ((params: JobParams) => Record<string, JsonValue> | null | undefined)
  | { readonly when?: Readonly<Record<string, AxisValue | readonly AxisValue[]>>; readonly set?: Readonly<Record<string, JsonValue>>; readonly exclude?: boolean };

/** What the inputs resolver may return: file paths by role, relative to the input root or absolute. */
export type JobInputs = Readonly<Record<string, string>>;

/** Describes a matrix of jobs. Only `axes` and `inputs` are required. */
export interface JobMatrixSpec {
  /** Axes in id order; the matrix is their Cartesian product. */
  readonly axes: Readonly<Record<string, readonly AxisValue[]>>;
  /** Applied in order to each combination. */
  readonly rules?: readonly JobRule[];
  /** Deterministic job id (`/`-separated segments). Default: `key_value` per axis, joined by `/`. */
  readonly id?: (params: JobParams) => string;
  /** Maps a job to its input files. */
  readonly inputs: (params: JobParams) => JobInputs;
  /** Says why a job's inputs are missing (e.g. "overlap view rejected by the spacing threshold"). */
  readonly explainMissing?: (params: JobParams, missingPaths: readonly string[]) => string;
  /** The job's training config (what the runner receives and the identity hashes). Default: the params. */
  readonly config?: (params: JobParams) => JsonValue;
  /** Seeds recorded in the run identity. Default: `config.seed` / `params.seed` when present. */
  readonly seeds?: (params: JobParams) => Readonly<Record<string, number>>;
  /** Artifact directory, relative to the artifact root. Default: `jobs/<id>`. */
  readonly artifactDir?: (id: string, params: JobParams) => string;
  /** Log file, relative to the artifact root. Default: `logs/<id>.log`. */
  readonly logPath?: (id: string, params: JobParams) => string;
}

/** Filters narrow the matrix; they never change ids. Values match by equality or numeric value ("1e3" = 1000). */
export interface JobFilters {
  readonly dose?: readonly AxisValue[];
  readonly view?: readonly AxisValue[];
  readonly gridsize?: readonly AxisValue[];
  /** Any other parameter, by name. */
  readonly params?: Readonly<Record<string, readonly AxisValue[]>>;
  /** Job-id globs such as `dose_1000/*`; a job is kept when it matches any. */
  readonly jobId?: string | readonly string[];
}

/** Options of {@link buildJobMatrix}. */
export interface BuildJobMatrixOptions {
  /** Where relative input paths are resolved. */
  readonly inputRoot: string;
  /** Where job artifacts, logs and the study manifest go. */
  readonly artifactRoot: string;
  /** Missing inputs throw `E_MISSING_INPUT` (true) or become skip events (false, the default). */
  readonly strict?: boolean;
  readonly filters?: JobFilters;
}

/** One runnable job. Paths are absolute. */
export interface StudyJob {
  readonly id: string;
  readonly params: JobParams;
  readonly config: JsonValue;
  readonly seeds: Readonly<Record<string, number>>;
  /** Input files by role (absolute). */
  readonly inputs: Readonly<Record<string, string>>;
  readonly artifactDir: string;
  readonly logPath: string;
  /**
   * The job's final run identity as the planner computed it and the training manifest records it (set by
   * `planStudy`; absent on a job straight from {@link buildJobMatrix}). It travels with the job to the
   * runner (in-process, child process or BullMQ worker), which stamps it into what it writes, e.g.
   * `train({ identity })`, so a bundle leads back to its manifest record.
   */
  readonly identity?: JobIdentityRecord;
}

/** A job left out because its inputs are missing (allow-missing mode). */
export interface SkipEvent {
  readonly jobId: string;
  readonly params: JobParams;
  readonly reason: string;
  /** Missing paths, absolute. */
  readonly missingPaths: readonly string[];
}

/** Filters as recorded in the study manifest (parameter → accepted values; job-id globs). */
export interface NormalizedFilters {
  readonly params: Readonly<Record<string, readonly AxisValue[]>>;
  readonly jobId: readonly string[];
}

/** A built matrix: runnable jobs in deterministic order, plus skip events. */
export interface JobMatrix {
  readonly inputRoot: string;
  readonly artifactRoot: string;
  readonly strict: boolean;
  readonly axes: Readonly<Record<string, readonly AxisValue[]>>;
  readonly filters: NormalizedFilters;
  /** Jobs whose inputs all exist, in axis order. */
  readonly jobs: readonly StudyJob[];
  /** Jobs skipped for missing inputs (empty in strict mode). */
  readonly skipped: readonly SkipEvent[];
  /** Size of the matrix before filters. */
  readonly totalJobs: number;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._=+-]*$/;

function formatAxisValue(value: JsonValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Default id: `key_value` per axis, in axis order (`dose_1000/view_dense`). */
function defaultJobId(axisNames: readonly string[]) {
  return (params: JobParams): string => axisNames.map((name) => `${name}_${formatAxisValue(params[name] ?? null)}`).join("/");
}

function validateJobId(id: unknown): string | null {
  if (typeof id !== "string" || id.length === 0) return `job id must be a non-empty string, got ${JSON.stringify(id)}`;
  for (const segment of id.split("/")) {
    if (!SEGMENT.test(segment)) {
      return `job id ${JSON.stringify(id)} has an invalid segment ${JSON.stringify(segment)}: segments start with a letter or digit and hold only letters, digits and . _ = + -`;
    }
  }
  return null;
}

function validateRelative(kind: string, relative: string, id: string): string | null {
  const normalized = path.posix.normalize(relative.replace(/\\/g, "/"));
  if (path.isAbsolute(relative) || normalized.startsWith("../") || normalized === ".." || normalized === ".") {
    return `${kind} ${JSON.stringify(relative)} of job ${id} must be a relative path inside the artifact root`;
  }
  return null;
}

/** Equal values, or two values that read as the same finite number ("1e3" and 1000). */
export function axisValuesMatch(filterValue: AxisValue, paramValue: JsonValue | undefined): boolean {
  if (paramValue === undefined || paramValue === null || typeof paramValue === "object") return false;
  if (filterValue === paramValue) return true;
  if (String(filterValue) === String(paramValue)) return true;
  const a = typeof filterValue === "number" ? filterValue : typeof filterValue === "string" && filterValue.trim() !== "" ? Number(filterValue) : NaN;
  const b = typeof paramValue === "number" ? paramValue : typeof paramValue === "string" && paramValue.trim() !== "" ? Number(paramValue) : NaN;
  return Number.isFinite(a) && Number.isFinite(b) && a === b;
}

/** Merges the convenience filters into one parameter map. */
export function normalizeFilters(filters: JobFilters | undefined): NormalizedFilters {
  const params: Record<string, readonly AxisValue[]> = { ...(filters?.params ?? {}) };
  for (const key of ["dose", "view", "gridsize"] as const) {
    const values = filters?.[key];
    if (values !== undefined && values.length > 0) params[key] = [...values];
  }
  for (const [key, values] of Object.entries(params)) if (values.length === 0) delete params[key];
  const jobId = filters?.jobId === undefined ? [] : typeof filters.jobId === "string" ? [filters.jobId] : [...filters.jobId];
  return { params, jobId };
}

function cartesian(axes: readonly (readonly [string, readonly AxisValue[]])[]): Record<string, JsonValue>[] {
  let combos: Record<string, JsonValue>[] = [{}];
  for (const [name, values] of axes) {
    combos = combos.flatMap((combo) => values.map((value) => ({ ...combo, [name]: value })));
  }
  return combos;
}

function ruleMatches(when: Readonly<Record<string, AxisValue | readonly AxisValue[]>> | undefined, params: JobParams): boolean {
  if (!when) return true;
  return Object.entries(when).every(([key, expected]) => {
    const options: readonly AxisValue[] = Array.isArray(expected) ? expected : [expected as AxisValue];
    return options.some((option) => axisValuesMatch(option, params[key]));
  });
}

function applyRules(rules: readonly JobRule[], base: Record<string, JsonValue>, problems: string[]): Record<string, JsonValue> | null {
  let params = base;
  for (const [index, rule] of rules.entries()) {
    if (typeof rule === "function") {
      const derived = rule(params);
      if (derived === null) return null;
      if (derived === undefined) continue;
      if (typeof derived !== "object" || Array.isArray(derived)) {
        problems.push(`rule ${index} returned ${JSON.stringify(derived)} for ${JSON.stringify(base)}: return an object of parameters, null to drop the combination, or undefined`);
        continue;
      }
      params = { ...params, ...derived };
    } else if (ruleMatches(rule.when, params)) {
      if (rule.exclude) return null;
      params = { ...params, ...(rule.set ?? {}) };
    }
  }
  return params;
}

function defaultSeeds(params: JobParams, config: JsonValue): Record<string, number> {
  const fromConfig = config !== null && typeof config === "object" && !Array.isArray(config) ? (config as Record<string, JsonValue | undefined>)["seed"] : undefined;
  const seed = fromConfig ?? params["seed"];
  return typeof seed === "number" ? { seed } : {};
}

const MAX_REPORTED = 50;

function report(code: string, summary: string, problems: readonly string[]): JobMatrixError {
  const shown = problems.slice(0, MAX_REPORTED).map((problem) => `  - ${problem}`);
  if (problems.length > MAX_REPORTED) shown.push(`  ... and ${problems.length - MAX_REPORTED} more`);
  return new JobMatrixError(code, `${summary}:\n${shown.join("\n")}`, problems);
}

/**
 * Builds the job matrix: expands the axes, applies the rules, assigns ids and paths, applies the filters,
 * then checks every job's inputs. Strict mode throws {@link MissingInputError} listing all missing paths;
 * otherwise jobs with missing inputs become {@link SkipEvent}s. Invalid specs and filters that match
 * nothing throw {@link JobMatrixError} listing every problem.
 */
export function buildJobMatrix(spec: JobMatrixSpec, options: BuildJobMatrixOptions): JobMatrix {
  const problems: string[] = [];
  const axisEntries = Object.entries(spec.axes);
  if (axisEntries.length === 0) problems.push("the matrix has no axes: give at least one axis with one value");
  for (const [name, values] of axisEntries) {
    if (!Array.isArray(values) || values.length === 0) problems.push(`axis ${JSON.stringify(name)} has no values`);
    else if (new Set(values.map((value) => JSON.stringify(value))).size !== values.length) problems.push(`axis ${JSON.stringify(name)} repeats a value: ${JSON.stringify(values)}`);
  }
  if (problems.length > 0) throw report(JobMatrixErrorCode.InvalidSpec, "invalid job matrix spec", problems);

  const inputRoot = path.resolve(options.inputRoot);
  const artifactRoot = path.resolve(options.artifactRoot);
  const makeId = spec.id ?? defaultJobId(axisEntries.map(([name]) => name));
  const seen = new Map<string, string>();
  const candidates: { id: string; params: JobParams; artifactDir: string; logPath: string }[] = [];
  for (const combo of cartesian(axisEntries)) {
    const params = applyRules(spec.rules ?? [], combo, problems);
    if (params === null) continue;
    const id = makeId(params);
    const idProblem = validateJobId(id);
    if (idProblem) {
      problems.push(`${idProblem} (params ${JSON.stringify(params)})`);
      continue;
    }
    const previous = seen.get(id);
    if (previous !== undefined) {
      problems.push(`duplicate job id ${JSON.stringify(id)} for ${previous} and ${JSON.stringify(params)}: include every distinguishing parameter in the id`);
      continue;
    }
    seen.set(id, JSON.stringify(params));
    const artifactRelative = spec.artifactDir?.(id, params) ?? `jobs/${id}`;
    const logRelative = spec.logPath?.(id, params) ?? `logs/${id}.log`;
    for (const [kind, relative] of [["artifact directory", artifactRelative], ["log path", logRelative]] as const) {
      const problem = validateRelative(kind, relative, id);
      if (problem) problems.push(problem);
    }
    candidates.push({ id, params, artifactDir: path.resolve(artifactRoot, artifactRelative), logPath: path.resolve(artifactRoot, logRelative) });
  }
  if (problems.length > 0) throw report(JobMatrixErrorCode.InvalidSpec, "invalid job matrix spec", problems);

  const filters = normalizeFilters(options.filters);
  const filterProblems: string[] = [];
  for (const [name, values] of Object.entries(filters.params)) {
    const taken = [...new Set(candidates.map((candidate) => candidate.params[name]).filter((value) => value !== undefined).map((value) => formatAxisValue(value!)))];
    if (taken.length === 0) {
      filterProblems.push(`no job has a parameter ${JSON.stringify(name)} (parameters: ${Object.keys(candidates[0]?.params ?? {}).join(", ")})`);
      continue;
    }
    for (const value of values) {
      if (!candidates.some((candidate) => axisValuesMatch(value, candidate.params[name]))) {
        filterProblems.push(`${name}=${JSON.stringify(value)} matches no job (values: ${taken.join(", ")})`);
      }
    }
  }
  const globs = filters.jobId.map(compileJobIdGlob);
  if (filterProblems.length > 0) throw report(JobMatrixErrorCode.FilterNoMatch, "filters match no jobs", filterProblems);
  const selected = candidates.filter(
    (candidate) =>
      Object.entries(filters.params).every(([name, values]) => values.some((value) => axisValuesMatch(value, candidate.params[name]))) &&
      (globs.length === 0 || matchesAnyJobIdGlob(candidate.id, globs)),
  );
  if (selected.length === 0 && globs.length > 0) {
    throw report(JobMatrixErrorCode.FilterNoMatch, "filters match no jobs", [`job-id glob(s) ${filters.jobId.join(", ")} match none of the ${candidates.length} job(s) left by the other filters`]);
  }

  const jobs: StudyJob[] = [];
  const skipped: SkipEvent[] = [];
  const missingByJob: { jobId: string; paths: string[] }[] = [];
  for (const candidate of selected) {
    const declared = spec.inputs(candidate.params);
    const inputs: Record<string, string> = {};
    for (const [role, file] of Object.entries(declared)) inputs[role] = path.resolve(inputRoot, file);
    const missing = [...new Set(Object.values(inputs).filter((file) => !existsSync(file)))];
    if (missing.length > 0) {
      missingByJob.push({ jobId: candidate.id, paths: missing });
      const reason = spec.explainMissing?.(candidate.params, missing) ?? `input file(s) not found: ${missing.map((file) => path.relative(inputRoot, file) || file).join(", ")}`;
      skipped.push({ jobId: candidate.id, params: candidate.params, reason, missingPaths: missing });
      continue;
    }
    const config = spec.config ? spec.config(candidate.params) : candidate.params;
    const seeds = spec.seeds ? spec.seeds(candidate.params) : defaultSeeds(candidate.params, config);
    jobs.push({ id: candidate.id, params: candidate.params, config, seeds, inputs, artifactDir: candidate.artifactDir, logPath: candidate.logPath });
  }
  const strict = options.strict ?? false;
  if (strict && missingByJob.length > 0) throw new MissingInputError(missingByJob);
  return { inputRoot, artifactRoot, strict, axes: spec.axes, filters, jobs, skipped, totalJobs: candidates.length };
}
