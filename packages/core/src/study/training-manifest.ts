/**
 * The study manifest, `training_manifest.json` in the artifact root: one record per job (params, inputs
 * and their hashes, run identity, plan, result), the skip events (`skipped_views`, `skipped_count`) and the
 * path of `skip_summary.json`. It is replaced atomically on every change, so it is valid JSON at every
 * instant, and it is what a later run reads to reuse finished jobs and resume the rest.
 *
 * Paths inside records are relative POSIX paths: job paths relative to `roots.artifactRoot`, inputs
 * relative to `roots.inputRoot` (absolute only when an input lies outside it).
 */
import { z } from "zod";
import type { JsonValue } from "../identity/canonical-json.js";
import { readJsonFile } from "../internal/fs/json-file.js";
import type { AxisValue, JobParams, SkipEvent } from "./job-matrix.js";
import type { JobResult, JobStatus } from "./job-runner.js";

/** File name of the study manifest, in the artifact root. */
export const TRAINING_MANIFEST_FILE = "training_manifest.json";
/** File name of the skip summary, in the artifact root. */
export const SKIP_SUMMARY_FILE = "skip_summary.json";
/** Schema version of {@link TrainingManifest}. */
export const TRAINING_MANIFEST_VERSION = 1;

/** What a run decided for a job. */
export type JobAction = "run" | "reuse" | "skip";

/** The run identity of a job as recorded (the final identity's fields plus its keys). */
export interface JobIdentityRecord {
  readonly strictKey: string;
  readonly debugKey: string;
  readonly replicateKey: string | null;
  readonly runId: string;
  /** Every identity field (stage, config hash, dataset snapshot hash, seeds, code version, runtime, feature signature). */
  readonly fields: Readonly<Record<string, JsonValue>>;
}

/** One job in the study manifest. */
export interface TrainingJobRecord {
  readonly id: string;
  readonly params: JobParams;
  readonly config: JsonValue;
  readonly seeds: Readonly<Record<string, number>>;
  /** Input files by role (relative to the input root). */
  readonly inputs: Readonly<Record<string, string>>;
  /** SHA-256 (or the injected hasher's snapshot hash) of each input, by role. Empty for skipped jobs. */
  readonly inputHashes: Readonly<Record<string, string>>;
  /** Relative to the artifact root. */
  readonly artifactDir: string;
  /** Relative to the artifact root. */
  readonly logPath: string;
  /** Null for skipped jobs (their inputs do not exist, so no identity can be final). */
  readonly identity: JobIdentityRecord | null;
  readonly plan: { readonly action: JobAction; readonly reason: string };
  readonly result: JobResult;
}

/** A skip event as recorded (missing paths relative to the input root). */
export interface SkipEventRecord {
  readonly jobId: string;
  /**
   * `params.dose` and `params.view` again at the top level, when the matrix has those axes: the seed
   * study's skip-event format, which readers of `skipped_views` look up directly.
   */
  readonly dose?: JsonValue;
  readonly view?: JsonValue;
  readonly params: JobParams;
  readonly reason: string;
  readonly missingPaths: readonly string[];
}

/** The seed format's top-level copies of a skipped job's `dose` and `view` (only those its params hold). */
export function skipEventSeedFields(params: JobParams): { dose?: JsonValue; view?: JsonValue } {
  return { ...(params["dose"] !== undefined ? { dose: params["dose"] } : {}), ...(params["view"] !== undefined ? { view: params["view"] } : {}) };
}

/** Overall state of the study recorded in the manifest. */
export type StudyState = "planned" | "running" | "completed" | "failed" | "cancelled";

/** Counts of job outcomes. */
export interface StudyCounts {
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  readonly reused: number;
  /** Not finished: pending or running. */
  readonly remaining: number;
}

/** `training_manifest.json`. */
export interface TrainingManifest {
  readonly version: typeof TRAINING_MANIFEST_VERSION;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly roots: { readonly artifactRoot: string; readonly inputRoot: string };
  /**
   * Git commit and dirty flag of the repository the artifact root lies in, or null: where the output was
   * written, for the record only. Not part of any identity (the code version is studykit's own checkout).
   * Absent in manifests written before it existed.
   */
  readonly outputRepository?: { readonly commit: string; readonly dirty: boolean } | null;
  readonly filters: { readonly params: Readonly<Record<string, readonly AxisValue[]>>; readonly jobId: readonly string[] };
  readonly strict: boolean;
  readonly dryRun: boolean;
  readonly force: boolean;
  readonly executor: string;
  readonly state: StudyState;
  readonly counts: StudyCounts;
  readonly jobs: readonly TrainingJobRecord[];
  /** Records of jobs outside this run's matrix (other filters), kept unchanged so later runs can reuse them. */
  readonly retainedJobs: readonly TrainingJobRecord[];
  readonly skipped_views: readonly SkipEventRecord[];
  readonly skipped_count: number;
  /** Relative to the artifact root: `skip_summary.json`. */
  readonly skipSummaryPath: string;
}

/** `skip_summary.json`: the skip events on their own, for people and scripts. */
export interface SkipSummary {
  readonly createdAt: string;
  readonly skipped_count: number;
  readonly skipped_views: readonly SkipEventRecord[];
}

const jsonValue: z.ZodType<JsonValue> = z.lazy(() => z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]));
const axisValue = z.union([z.string(), z.number(), z.boolean()]);
const jobStatus = z.enum(["pending", "running", "succeeded", "failed", "skipped", "reused"]) satisfies z.ZodType<JobStatus>;

const jobResultSchema = z.object({
  status: jobStatus,
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  metrics: z.record(z.string(), jsonValue).nullable(),
  bundlePath: z.string().nullable(),
  bundleSha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  output: z.record(z.string(), jsonValue).nullable(),
  attempts: z.number().int().nonnegative(),
});

const skipEventSchema = z.object({ jobId: z.string(), dose: jsonValue.optional(), view: jsonValue.optional(), params: z.record(z.string(), jsonValue), reason: z.string(), missingPaths: z.array(z.string()) });

const relativePath = z.string().refine((value) => !value.startsWith("/") && !value.split("/").includes(".."), "must be a relative path inside its root");

const jobRecordSchema = z.object({
  id: z.string(),
  params: z.record(z.string(), jsonValue),
  config: jsonValue,
  seeds: z.record(z.string(), z.number()),
  inputs: z.record(z.string(), z.string()),
  inputHashes: z.record(z.string(), z.string()),
  artifactDir: relativePath,
  logPath: relativePath,
  identity: z
    .object({ strictKey: z.string(), debugKey: z.string(), replicateKey: z.string().nullable(), runId: z.string(), fields: z.record(z.string(), jsonValue) })
    .nullable(),
  plan: z.object({ action: z.enum(["run", "reuse", "skip"]), reason: z.string() }),
  result: jobResultSchema,
});

/** zod schema of {@link TrainingManifest} (used when a manifest is read back). */
export const trainingManifestSchema = z.object({
  version: z.literal(TRAINING_MANIFEST_VERSION),
  createdAt: z.string(),
  updatedAt: z.string(),
  roots: z.object({ artifactRoot: z.string(), inputRoot: z.string() }),
  outputRepository: z.object({ commit: z.string(), dirty: z.boolean() }).nullable().optional(),
  filters: z.object({ params: z.record(z.string(), z.array(axisValue)), jobId: z.array(z.string()) }),
  strict: z.boolean(),
  dryRun: z.boolean(),
  force: z.boolean(),
  executor: z.string(),
  state: z.enum(["planned", "running", "completed", "failed", "cancelled"]),
  counts: z.object({ total: z.number(), succeeded: z.number(), failed: z.number(), skipped: z.number(), reused: z.number(), remaining: z.number() }),
  jobs: z.array(jobRecordSchema),
  retainedJobs: z.array(jobRecordSchema),
  skipped_views: z.array(skipEventSchema),
  skipped_count: z.number().int().nonnegative(),
  skipSummaryPath: relativePath,
}) as unknown as z.ZodType<TrainingManifest>;

/** JSON Schema of `training_manifest.json`, for tools outside TypeScript. */
export function trainingManifestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(trainingManifestSchema as unknown as z.ZodType, { unrepresentable: "any" }) as Record<string, unknown>;
}

/** Reads and validates a study manifest (`E_JSON_INVALID` naming every problem when it does not match). */
export async function readTrainingManifest(file: string): Promise<TrainingManifest> {
  return readJsonFile(file, { schema: trainingManifestSchema });
}

/** Counts job outcomes. */
export function countJobs(jobs: readonly { readonly result: JobResult }[]): StudyCounts {
  const counts = { total: jobs.length, succeeded: 0, failed: 0, skipped: 0, reused: 0, remaining: 0 };
  for (const { result } of jobs) {
    if (result.status === "pending" || result.status === "running") counts.remaining += 1;
    else counts[result.status] += 1;
  }
  return counts;
}

function describeParams(params: JobParams): string {
  return Object.entries(params)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(", ");
}

/**
 * The skip summary as text: the count, then each skipped job with its reason and missing paths. Accepts
 * the matrix's skip events or the manifest's records.
 */
export function formatSkipSummary(skipped: readonly (SkipEvent | SkipEventRecord)[]): string {
  if (skipped.length === 0) return "0 jobs skipped";
  const lines = [`${skipped.length} job${skipped.length === 1 ? "" : "s"} skipped:`];
  for (const event of skipped) {
    lines.push(`  - ${event.jobId} (${describeParams(event.params)}): ${event.reason}`);
    if (event.missingPaths.length > 0) lines.push(`      missing: ${event.missingPaths.join(", ")}`);
  }
  return lines.join("\n");
}
