/**
 * Model bundles: one deterministic zip per trained model, and loading it back with checksum
 * verification.
 *
 * Members, in this fixed order (absent optional members are skipped, never reordered):
 *   model.json            TF.js weights manifest (`weightsManifest`, float32, paths ["weights.bin"]) with
 *                         the model description as `modelTopology` (format "studykit-description")
 *   weights.bin           little-endian float32 weights in `weightSpecs` order
 *   description.json      the engine-neutral model description
 *   hyperparameters.json  training hyperparameters (loss, optimizer, schedule, seeds, ...)
 *   history.json          per-epoch loss / validation loss / learning rate (no timings: they vary)
 *   identity.json         the run identity record
 *   backend.json          engine, back end, fallbacks, TF.js version
 *   loss-curve.svg        loss curves
 *   model.onnx            ONNX export of the trained weights (the ONNX exporter's output, when given)
 *   onnx-export.json      only when model.onnx is absent: `{"written": false, "reason": {"code", "message"}}`,
 *                         so a bundle never lacks its ONNX model without saying why
 * Every member has the same fixed DOS timestamp (1980-01-01 00:00) and JSON members are canonical JSON,
 * so the same contents give the same bytes and the same `bundleSha256`.
 *
 * Zip writing uses fflate (small, dependency-free, synchronous): with per-member `mtime` and level fixed
 * its output depends only on the input bytes.
 */
import { readFile } from "node:fs/promises";
import { unzipSync, zipSync, type Zippable } from "fflate";
import { canonicalJson, writeFileAtomic, type JsonValue } from "@studykit/core";
import { sha256 } from "@studykit/native";
import { BundleError, TrainerErrorCode } from "./errors.js";
import { validateModelDescription, weightSpecs, type ModelDescription, type NamedWeight } from "./model-description.js";

/** Format tag of `model.json`'s topology. */
export const BUNDLE_FORMAT = "studykit-bundle-v1";

/** Member names, in their order inside the zip. */
export const BUNDLE_MEMBERS = [
  "model.json",
  "weights.bin",
  "description.json",
  "hyperparameters.json",
  "history.json",
  "identity.json",
  "backend.json",
  "loss-curve.svg",
  "model.onnx",
  "onnx-export.json",
] as const;

/** Why a bundle holds no `model.onnx`: the export error's code and message. */
export interface OnnxExportFailure {
  readonly code: string;
  readonly message: string;
}

/** Whether `model.onnx` was written, and if not, why. */
export type OnnxExportOutcome = { readonly written: true } | { readonly written: false; readonly reason: OnnxExportFailure };

/** The reason recorded when a bundle is encoded with neither ONNX bytes nor an export failure. */
const ONNX_NOT_GIVEN: OnnxExportFailure = {
  code: TrainerErrorCode.OnnxNotGiven,
  message: "the bundle's writer passed no ONNX export; export it with exportOnnx(description, weights)",
};

/**
 * fflate encodes `mtime` with the Date's *local* getters, so a Date built from local components gives the
 * same DOS fields (1980-01-01 00:00:00) in every time zone.
 */
const FIXED_MTIME = (): Date => new Date(1980, 0, 1, 0, 0, 0);

/** What goes into a bundle. */
export interface BundleContents {
  readonly description: ModelDescription;
  readonly weights: readonly NamedWeight[];
  readonly hyperparameters: JsonValue;
  readonly history: JsonValue;
  readonly identity: JsonValue;
  readonly backend: JsonValue;
  readonly lossCurveSvg?: string;
  /** Bytes of `model.onnx` (from the ONNX exporter), when available. */
  readonly modelOnnx?: Uint8Array;
  /** Why there is no `model.onnx` (recorded in `onnx-export.json`); exclusive with `modelOnnx`. */
  readonly onnxExportFailure?: OnnxExportFailure;
}

const text = (s: string) => new TextEncoder().encode(s);
const json = (v: JsonValue) => text(`${canonicalJson(v)}\n`);

function weightsBytes(description: ModelDescription, weights: readonly NamedWeight[]): Uint8Array {
  const specs = weightSpecs(description);
  const byName = new Map(weights.map((w) => [w.name, w]));
  const total = specs.reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1), 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const spec of specs) {
    const w = byName.get(spec.name);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (!w || w.values.length !== size) throw new BundleError(TrainerErrorCode.BundleInvalid, `weight ${spec.name} is missing or has ${w?.values.length ?? 0} values instead of ${size}`);
    out.set(w.values, offset);
    offset += size;
  }
  // Float32Array is little-endian on every platform Node supports (x64, arm64).
  return new Uint8Array(out.buffer);
}

/**
 * The zip bytes of a bundle (deterministic). Without `modelOnnx` the bundle records why in
 * `onnx-export.json`: `onnxExportFailure` when given, else that no export was passed.
 */
export function encodeBundle(contents: BundleContents): Uint8Array {
  validateModelDescription(contents.description);
  if (contents.modelOnnx !== undefined && contents.onnxExportFailure !== undefined) {
    throw new BundleError(TrainerErrorCode.BundleInvalid, "a bundle takes either modelOnnx or onnxExportFailure, not both: pass the failure only when the ONNX export threw");
  }
  const specs = weightSpecs(contents.description);
  const modelJson = {
    format: BUNDLE_FORMAT,
    generatedBy: "@studykit/trainer",
    modelTopology: { format: "studykit-description", description: contents.description as unknown as JsonValue },
    weightsManifest: [{ paths: ["weights.bin"], weights: specs.map((s) => ({ name: s.name, shape: s.shape, dtype: "float32" })) }],
  };
  const members: Array<[string, Uint8Array, number]> = [
    ["model.json", json(modelJson as JsonValue), 6],
    ["weights.bin", weightsBytes(contents.description, contents.weights), 0],
    ["description.json", json(contents.description as unknown as JsonValue), 6],
    ["hyperparameters.json", json(contents.hyperparameters), 6],
    ["history.json", json(contents.history), 6],
    ["identity.json", json(contents.identity), 6],
    ["backend.json", json(contents.backend), 6],
  ];
  if (contents.lossCurveSvg !== undefined) members.push(["loss-curve.svg", text(contents.lossCurveSvg), 6]);
  if (contents.modelOnnx !== undefined) {
    members.push(["model.onnx", contents.modelOnnx, 0]);
  } else {
    const { code, message } = contents.onnxExportFailure ?? ONNX_NOT_GIVEN;
    members.push(["onnx-export.json", json({ written: false, reason: { code, message } }), 6]);
  }
  const zippable: Zippable = {};
  for (const [name, bytes, level] of members) zippable[name] = [bytes, { level: level as 0 | 6, mtime: FIXED_MTIME() }];
  return zipSync(zippable);
}

/** Writes a bundle atomically and returns its SHA-256 (hex) and size. */
export async function writeBundle(path: string, contents: BundleContents): Promise<{ bundleSha256: string; bytes: number }> {
  const zip = encodeBundle(contents);
  await writeFileAtomic(path, zip);
  return { bundleSha256: sha256(zip), bytes: zip.length };
}

/** A bundle read back. */
export interface LoadedBundle {
  readonly path: string;
  readonly bundleSha256: string;
  readonly description: ModelDescription;
  readonly weights: NamedWeight[];
  readonly hyperparameters: JsonValue;
  readonly history: JsonValue;
  readonly identity: JsonValue;
  readonly backend: JsonValue;
  readonly lossCurveSvg: string | null;
  readonly modelOnnx: Uint8Array | null;
  /**
   * Whether the bundle holds `model.onnx`; when not, the recorded reason, or null for a bundle written before
   * `onnx-export.json` existed.
   */
  readonly onnxExport: { readonly written: true } | { readonly written: false; readonly reason: OnnxExportFailure | null };
}

function corrupt(path: string, why: string): BundleError {
  return new BundleError(TrainerErrorCode.BundleCorrupt, `bundle ${path} is corrupt: ${why}; retrain the job or restore the bundle from a good copy`);
}

/**
 * Reads a bundle, verifying `expectSha256` first when given (`E_BUNDLE_CORRUPT` on mismatch), then every
 * member. Use `loadBundleModel` to get a model that predicts.
 */
export async function loadBundle(path: string, options: { readonly expectSha256?: string } = {}): Promise<LoadedBundle> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new BundleError(TrainerErrorCode.BundleMissing, `cannot read bundle ${path}: ${(error as Error).message}; check the path or retrain the job`);
  }
  const actual = sha256(bytes);
  if (options.expectSha256 !== undefined && actual !== options.expectSha256.toLowerCase()) {
    throw corrupt(path, `its SHA-256 is ${actual} but ${options.expectSha256} was recorded`);
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (error) {
    throw corrupt(path, `not a readable zip (${(error as Error).message})`);
  }
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const readJson = (name: string): JsonValue => {
    const member = files[name];
    if (!member) throw corrupt(path, `member ${name} is missing`);
    try {
      return JSON.parse(decoder.decode(member)) as JsonValue;
    } catch (error) {
      throw corrupt(path, `member ${name} is not valid JSON (${(error as Error).message})`);
    }
  };
  const description = readJson("description.json") as unknown as ModelDescription;
  try {
    validateModelDescription(description);
  } catch (error) {
    throw corrupt(path, `description.json: ${(error as Error).message}`);
  }
  const raw = files["weights.bin"];
  if (!raw) throw corrupt(path, "member weights.bin is missing");
  const specs = weightSpecs(description);
  const total = specs.reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1), 0);
  if (raw.length !== total * 4) throw corrupt(path, `weights.bin holds ${raw.length} bytes but the description needs ${total * 4}`);
  const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  let offset = 0;
  const weights = specs.map((s) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const values = all.slice(offset, offset + size);
    offset += size;
    return { name: s.name, shape: s.shape, values };
  });
  const svg = files["loss-curve.svg"];
  const modelOnnx = files["model.onnx"] ?? null;
  return {
    path,
    bundleSha256: actual,
    description,
    weights,
    hyperparameters: readJson("hyperparameters.json"),
    history: readJson("history.json"),
    identity: readJson("identity.json"),
    backend: readJson("backend.json"),
    lossCurveSvg: svg ? decoder.decode(svg) : null,
    modelOnnx,
    onnxExport: onnxExportOf(path, modelOnnx !== null, files["onnx-export.json"] === undefined ? null : readJson("onnx-export.json")),
  };
}

/** Reads `onnx-export.json` (present exactly when `model.onnx` is not, in bundles that have it). */
function onnxExportOf(path: string, hasModel: boolean, record: JsonValue | null): LoadedBundle["onnxExport"] {
  if (hasModel) {
    if (record !== null) throw corrupt(path, "it holds both model.onnx and onnx-export.json");
    return { written: true };
  }
  if (record === null) return { written: false, reason: null };
  const reason = (record as { written?: unknown; reason?: { code?: unknown; message?: unknown } | null }).reason;
  if ((record as { written?: unknown }).written !== false || typeof reason?.code !== "string" || typeof reason.message !== "string") {
    throw corrupt(path, `onnx-export.json is ${canonicalJson(record)}, not {"written": false, "reason": {"code": ..., "message": ...}}`);
  }
  return { written: false, reason: { code: reason.code, message: reason.message } };
}
