/**
 * Files in and out of a reconstruction.
 *
 * In: any npz of the `ptycho` schema (`@studykit/data`'s `loadDataset`): diffraction amplitudes under
 * `diff3d` or the legacy `diffraction` (legacy layouts fixed by the schema), `probeGuess`, `xcoords`,
 * `ycoords`, and `objectGuess`, whose shape is the object's and which is, for the study's simulated files,
 * the ground truth. A file lacking a key is `E_PTYCHO_MISSING_KEY` naming the file and every missing key;
 * other schema breaks are `E_PTYCHO_SHAPE`; the arrays are then checked by `checkProblem`.
 *
 * Out: `reconstruction.npz`, written atomically by `saveNpz` (temporary file, fsync, rename), members:
 *   object          complex128 (H, W)      the reconstructed object
 *   probe           complex128 (N, N)      the final probe (the given one when it was known)
 *   positions       float64    (n, 2)      scan centres as given, columns (x, y), pixels
 *   fourier_error   float64    (iterations,)
 *   phase_mae       float64    (iterations,)   only with a ground truth
 *   amplitude_mae   float64    (iterations,)   only with a ground truth
 *   parameters      unicode    ()         canonical JSON of the parameters (algorithm, iterations, seed,
 *                                          weights, probe update, position handling, source file name)
 * No timings are written, so the same inputs and seed give a byte-identical file.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { loadDataset, saveNpz, type NdArray, type WritableArray } from "@studykit/data";
import { hasErrorCode } from "@studykit/native";
import type { ComplexImage } from "./complex-image.js";
import { PtychoError, PtychoErrorCode } from "./errors.js";
import type { PtychoProblem, ReconstructionResult } from "./reconstruct.js";
import { checkProblem } from "./reconstruct.js";
import type { ScanPosition } from "./scan-geometry.js";

/** What `objectGuess` of the input file is taken as. */
export type ObjectGuessRole = "ground-truth" | "shape-only";

/** Options of {@link loadPtychoProblem}. */
export interface LoadProblemOptions {
  /** `"ground-truth"` (default: the study's simulated files) scores every iteration against it. */
  readonly objectGuess?: ObjectGuessRole;
}

/** The keys a reconstruction needs (canonical names; `diff3d` is also found as `diffraction`). */
export const REQUIRED_KEYS = ["diff3d", "probeGuess", "xcoords", "ycoords", "objectGuess"] as const;

function complexImage(array: NdArray, file: string, key: string): ComplexImage {
  if (!array.complex || array.shape.length !== 2 || Array.isArray(array.data)) {
    throw new PtychoError(PtychoErrorCode.Shape, `${file}: ${key} must be a 2-D complex array, got dtype ${array.dtype} shape (${array.shape.join(", ")}); save it as complex64 or complex128`);
  }
  const [height, width] = array.shape as [number, number];
  return { height, width, data: Float64Array.from(array.data as Float32Array | Float64Array) };
}

function realVector(array: NdArray, file: string, key: string): Float64Array {
  if (array.complex || array.shape.length !== 1 || Array.isArray(array.data) || array.raw) {
    throw new PtychoError(PtychoErrorCode.Shape, `${file}: ${key} must be a 1-D real array, got dtype ${array.dtype} shape (${array.shape.join(", ")})`);
  }
  return Float64Array.from(array.data as ArrayLike<number>);
}

/** Reads a `ptycho`-schema npz into a {@link PtychoProblem} (see the module doc for the errors). */
export function loadPtychoProblem(file: string, options: LoadProblemOptions = {}): PtychoProblem {
  let dataset;
  try {
    dataset = loadDataset(file, { schema: "ptycho" });
  } catch (error) {
    if (hasErrorCode(error, "E_SCHEMA_MISSING_KEY") || hasErrorCode(error, "E_SCHEMA_VIOLATION")) {
      const violations = (error as { violations?: readonly { key: string; code: string; message: string }[] }).violations ?? [];
      const missing = violations.filter((violation) => violation.code === "E_SCHEMA_MISSING_KEY").map((violation) => violation.key);
      if (missing.length > 0) {
        const shown = missing.map((key) => (key === "diff3d" ? "diff3d (or diffraction)" : key));
        throw new PtychoError(
          PtychoErrorCode.MissingKey,
          `${file} lacks ${shown.join(", ")}: a reconstruction needs diffraction amplitudes, probeGuess, xcoords, ycoords and objectGuess (for the object's shape)` +
            (missing.includes("diff3d") ? "; a file without diffraction (an object and probe only) must be simulated first, e.g. `studykit study run --object-from FILE --reuse-coordinates`" : ""),
          { cause: error },
        );
      }
      throw new PtychoError(PtychoErrorCode.Shape, `${file}: ${violations.map((violation) => violation.message).join("; ") || (error as Error).message}`, { cause: error });
    }
    throw error;
  }
  const arrays = dataset.arrays;
  const diffraction = arrays["diff3d"]!;
  if (Array.isArray(diffraction.data) || diffraction.raw || diffraction.complex) {
    throw new PtychoError(PtychoErrorCode.Shape, `${file}: ${dataset.sources["diff3d"]} must be float32 or float64 amplitudes, got dtype ${diffraction.dtype}`);
  }
  const amplitudes = diffraction.data instanceof Float32Array || diffraction.data instanceof Float64Array ? diffraction.data : Float32Array.from(diffraction.data as ArrayLike<number>);
  const probe = complexImage(arrays["probeGuess"]!, file, "probeGuess");
  const objectGuess = complexImage(arrays["objectGuess"]!, file, "objectGuess");
  const xs = realVector(arrays["xcoords"]!, file, "xcoords");
  const ys = realVector(arrays["ycoords"]!, file, "ycoords");
  const [, patternHeight, patternWidth] = diffraction.shape as [number, number, number];
  if (patternHeight !== probe.height || patternWidth !== probe.width) {
    throw new PtychoError(
      PtychoErrorCode.Shape,
      `${file}: ${dataset.sources["diff3d"]} holds ${patternHeight}×${patternWidth} patterns but probeGuess is ${probe.height}×${probe.width}; they must be the same size`,
    );
  }
  const positions: ScanPosition[] = Array.from(xs, (x, index) => ({ x, y: ys[index]! }));
  const problem: PtychoProblem = {
    amplitudes,
    positions,
    probe,
    objectHeight: objectGuess.height,
    objectWidth: objectGuess.width,
    groundTruth: (options.objectGuess ?? "ground-truth") === "ground-truth" ? objectGuess : null,
    source: file,
  };
  checkProblem(problem);
  return problem;
}

/** Canonical JSON (sorted keys) of a plain value, so the parameters member is byte-stable. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Writes `reconstruction.npz` (see the module doc) atomically, creating its directory; `source` names the
 * input file in the parameters.
 */
export function saveReconstruction(file: string, result: ReconstructionResult, source: string | null = null): void {
  const positions = new Float64Array(2 * result.positions.length);
  result.positions.forEach((position, index) => {
    positions[2 * index] = position.x;
    positions[2 * index + 1] = position.y;
  });
  const arrays: Record<string, WritableArray> = {
    object: { data: result.object.data, shape: [result.object.height, result.object.width], complex: true },
    probe: { data: result.probe.data, shape: [result.probe.height, result.probe.width], complex: true },
    positions: { data: positions, shape: [result.positions.length, 2] },
    fourier_error: { data: result.fourierError, shape: [result.fourierError.length] },
  };
  if (result.phaseMae) arrays["phase_mae"] = { data: result.phaseMae, shape: [result.phaseMae.length] };
  if (result.amplitudeMae) arrays["amplitude_mae"] = { data: result.amplitudeMae, shape: [result.amplitudeMae.length] };
  arrays["parameters"] = { data: [canonicalJson({ ...result.parameters, source: source === null ? null : path.basename(source) })], shape: [] };
  mkdirSync(path.dirname(file), { recursive: true });
  saveNpz(file, arrays);
}
