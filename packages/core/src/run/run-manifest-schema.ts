/**
 * The run manifest contract: file name, schema version, field layout (zod) and its JSON Schema.
 *
 * `run-manifest.json` at a run root is written before any stage runs and lists, for every stage, every
 * artifact the stage will produce as a relative POSIX path inside the root. Results are filled in as
 * stages finish. The JSON Schema (`runManifestJsonSchema()`, shipped as
 * `@studykit/core/run-manifest.schema.json`) lets other tools validate it.
 */
import { z } from "zod";

/** File name of a run manifest inside its run root. */
export const RUN_MANIFEST_FILE = "run-manifest.json";
/** Current manifest schema version; readers refuse other versions. */
export const RUN_MANIFEST_SCHEMA_VERSION = 1;
/** The manifest's `kind` tag. */
export const RUN_MANIFEST_KIND = "studykit.run-manifest";

/** Stage names: they appear in paths, ids and `stage.artifact` references. */
export const STAGE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Artifact names, same rule as stage names. */
export const ARTIFACT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be a lower-case SHA-256 hex digest");
const IsoTime = z.iso.datetime();
const JsonObjectSchema = z.record(z.string(), z.json());

/** Package versions plus the git commit (null outside a checkout) that a run was made with. */
export const CodeVersionSchema = z.object({
  packages: z.record(z.string(), z.string()),
  git: z.object({ commit: z.string().min(1), dirty: z.boolean() }).nullable(),
});

/** A run identity as recorded in manifests: partial (no keys) or final (all keys). */
export const IdentityRecordSchema = z
  .object({
    identityVersion: z.number().int().positive(),
    isFinal: z.boolean(),
    stage: z.string().min(1),
    config: JsonObjectSchema,
    configHash: Sha256Hex,
    datasetSnapshotHash: z.string().min(1).nullable(),
    seeds: z.record(z.string(), z.number().int()),
    codeVersion: CodeVersionSchema,
    runtime: JsonObjectSchema,
    featureSignatureHash: Sha256Hex.optional(),
    strictKey: Sha256Hex.optional(),
    replicateKey: Sha256Hex.optional(),
    debugKey: z.string().min(1).optional(),
  })
  .refine((identity) => !identity.isFinal || (identity.featureSignatureHash && identity.strictKey && identity.replicateKey && identity.debugKey), {
    message: "a final identity must carry featureSignatureHash, strictKey, replicateKey and debugKey",
  })
  .refine((identity) => identity.isFinal || !identity.strictKey, { message: "a partial identity must not carry keys" });

/** One artifact a stage promises: its path, kind and, once the stage completed, its hash and size. */
export const ArtifactRecordSchema = z.object({
  /** Relative POSIX path inside the run root. */
  path: z.string().min(1),
  kind: z.enum(["file", "dir"]),
  /** An optional artifact may be absent when its stage completes. */
  optional: z.boolean(),
  /** Filled when the stage completes (files only). */
  sha256: Sha256Hex.nullable(),
  bytes: z.number().int().nonnegative().nullable(),
});

/** Lifecycle of a stage. */
export const StageStatusSchema = z.enum(["pending", "running", "succeeded", "failed"]);

/** A stage in the run manifest: its artifacts, status, timing, metrics and error. */
export const StageRecordSchema = z.object({
  /** Position in the plan (stages run in this order). */
  index: z.number().int().nonnegative(),
  dependsOn: z.array(z.string()),
  artifacts: z.record(z.string().regex(ARTIFACT_NAME_PATTERN), ArtifactRecordSchema),
  status: StageStatusSchema,
  attempts: z.number().int().nonnegative(),
  startedAt: IsoTime.nullable(),
  finishedAt: IsoTime.nullable(),
  durationMs: z.number().nonnegative().nullable(),
  metrics: JsonObjectSchema,
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});

/** Lifecycle of a whole run, derived from its stages. */
export const RunStatusSchema = z.enum(["planned", "running", "succeeded", "failed"]);

/** The `run-manifest.json` contract (also shipped as JSON Schema, see `runManifestJsonSchema`). */
export const RunManifestSchema = z.object({
  schemaVersion: z.literal(RUN_MANIFEST_SCHEMA_VERSION),
  kind: z.literal(RUN_MANIFEST_KIND),
  /** `run-<32 hex>` from the final identity; null until then (or a fallback id in best-effort mode). */
  runId: z.string().min(1).nullable(),
  runIdSource: z.enum(["final", "fallback"]).nullable(),
  mode: z.enum(["strict", "best-effort"]),
  status: RunStatusSchema,
  createdAt: IsoTime,
  updatedAt: IsoTime,
  config: JsonObjectSchema,
  identity: IdentityRecordSchema,
  stages: z.record(z.string().regex(STAGE_NAME_PATTERN), StageRecordSchema),
});

/** A run manifest, as stored. */
export type RunManifest = z.infer<typeof RunManifestSchema>;
/** One stage's record in a run manifest. */
export type StageRecord = z.infer<typeof StageRecordSchema>;
/** One artifact's record in a run manifest. */
export type ArtifactRecord = z.infer<typeof ArtifactRecordSchema>;
/** A stage's status. */
export type StageStatus = z.infer<typeof StageStatusSchema>;
/** A run's overall status. */
export type RunStatus = z.infer<typeof RunStatusSchema>;

/** The run manifest's JSON Schema (draft 2020-12), for tools outside TypeScript. */
export function runManifestJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(RunManifestSchema, { target: "draft-2020-12", unrepresentable: "any" }) as Record<string, unknown>;
  return {
    ...schema,
    $id: "https://studykit.dev/schemas/run-manifest.schema.json",
    title: "studykit run manifest",
    description: `The ${RUN_MANIFEST_FILE} of a studykit run, schema version ${RUN_MANIFEST_SCHEMA_VERSION}. Artifact paths are relative POSIX paths inside the run root.`,
  };
}
