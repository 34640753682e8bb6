/**
 * Phase C — simulate: the object and probe (procedural from the seed, or from an npz), scan positions, the
 * spatial train/test split, and per dose the diffraction patterns written as
 * `phaseC/dose_<d>/patched_{train,test}.npz` with the legacy key `diffraction` (the loader's canonical-key
 * normalisation turns it into `diff3d`), plus `objectGuess`, `probeGuess`, `xcoords`, `ycoords`, `Y`,
 * `scan_index`; and the phase manifest `phaseC/phase_manifest.json`.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { SeededRandom, fingerprint, writeJsonAtomicSync } from "@studykit/core";
import { datasetSnapshotHash, loadNpz, openNpz, saveNpz, type NdArray } from "@studykit/data";
import { sha256 } from "@studykit/native";
import { simulateDiffraction, type ScanPosition } from "@studykit/ptycho";
import { PhaseRootError, PhaseRootErrorCode, SimulateErrorCode, SimulationInputError } from "./errors.js";
import { mergeStudyConfig, type StudyConfig } from "./study-config.js";
import type { ComplexImage } from "@studykit/ptycho";
import { generateObject, generateProbe } from "./procedural-sample.js";
import { fitPositions, randomScanPositions, splitByY } from "./internal/scan-positions.js";
import { codedFileSystemError } from "./internal/file-system-errors.js";
import { readPhaseManifest } from "./internal/phase-manifest-file.js";
import { STUDY_LAYOUT } from "./study-layout.js";

/** Format version of the Phase C manifest. */
export const PHASE_C_MANIFEST_VERSION = 1;

/** One dose's files and numbers. */
export interface PhaseCDoseRecord {
  readonly dose: number;
  /** The dose scale s (amplitudes and Y are stored divided by it). */
  readonly scale: number;
  /** Mean detected photons per pattern (≈ dose). */
  readonly meanPhotonCount: number;
  readonly files: { readonly train: string; readonly test: string };
  /** Snapshot hashes (array contents) of the files, checked before they are reused. */
  readonly snapshots: { readonly train: string; readonly test: string };
  readonly simulateMs: number;
}

/** `phaseC/phase_manifest.json`. */
export interface PhaseCManifest {
  readonly formatVersion: number;
  readonly phase: "C";
  /** Fingerprint of everything that determines the files (config subset + object file content). */
  readonly inputsHash: string;
  readonly object: { readonly source: "procedural" | "file"; readonly file: string | null; readonly fileSha256: string | null; readonly height: number; readonly width: number; readonly maxAmplitude: number };
  readonly probe: { readonly size: number };
  readonly positions: { readonly total: number; readonly train: number; readonly test: number; readonly splitY: number; readonly fromFile: boolean };
  /** Mean Σ|P·O|² over positions: the photon budget per pattern before dose scaling (dose independent). */
  readonly meanExitEnergy: number;
  readonly doses: readonly PhaseCDoseRecord[];
  readonly timings: { readonly totalMs: number; readonly patterns: number; readonly patternsPerSecond: number };
}

function complexImageFrom(array: NdArray, file: string, key: string): ComplexImage {
  if (!array.complex || array.shape.length !== 2) {
    throw new SimulationInputError(SimulateErrorCode.ObjectFile, `${file}: ${key} must be a 2-D complex array, got dtype ${array.dtype} shape (${array.shape.join(", ")}); save it with numpy as complex64/complex128`);
  }
  const [height, width] = array.shape as [number, number];
  return { height, width, data: Float64Array.from(array.data as Float32Array | Float64Array) };
}

function realVector(array: NdArray | undefined): Float64Array | null {
  if (!array || array.complex || array.shape.length !== 1 || Array.isArray(array.data)) return null;
  return Float64Array.from(array.data as ArrayLike<number | bigint>, (value) => Number(value));
}

/**
 * `config` switched to simulate from an object file (`--object-from`): the file's probe fixes the pattern
 * size N (read from its header), and the stitch window becomes N/2.
 */
export function configForObjectFile(config: StudyConfig, file: string, reuseCoordinates: boolean): StudyConfig {
  if (!existsSync(file)) {
    throw new SimulationInputError(SimulateErrorCode.ObjectFile, `object file ${file} does not exist: pass an npz holding objectGuess and probeGuess (e.g. ../shared/data/Run1084_recon3_postPC.npz)`);
  }
  const npz = openNpz(file);
  let shape: readonly number[];
  try {
    if (!npz.names.includes("probeGuess")) {
      throw new SimulationInputError(SimulateErrorCode.ObjectFile, `${file} has no probeGuess (it holds: ${npz.names.join(", ") || "nothing"}): --object-from needs a complex objectGuess and probeGuess`);
    }
    shape = npz.describe("probeGuess").shape;
  } finally {
    npz.close();
  }
  const size = shape[0]!;
  if (shape.length !== 2 || shape[1] !== size) {
    throw new SimulationInputError(SimulateErrorCode.ObjectFile, `${file}: probeGuess has shape (${shape.join(", ")}); the study needs a square 2-D probe`);
  }
  return mergeStudyConfig(
    config,
    { object: { source: "file", path: file, reuseCoordinates }, probe: { size }, compare: { stitchWindow: Math.max(1, Math.floor(size / 2)) } },
    `--object-from ${file}`,
  );
}

/** The sample of a study: ground truth object, probe and scan positions. */
export interface StudySample {
  readonly object: ComplexImage;
  readonly probe: ComplexImage;
  readonly positions: readonly ScanPosition[];
  readonly fromFile: boolean;
  readonly fileSha256: string | null;
}

/** Builds (or loads) the object, probe and positions of `config`. */
export function prepareSample(config: StudyConfig): StudySample {
  const size = config.probe.size;
  if (config.object.source === "procedural") {
    const object = generateObject({ height: config.object.height, width: config.object.width, seed: config.seed, featureSize: size });
    const probe = generateProbe({ size, apertureFraction: config.probe.apertureFraction, defocusRadians: config.probe.defocusRadians });
    const positions = randomScanPositions({ objectHeight: object.height, objectWidth: object.width, patchSize: size, count: config.scan.count, seed: config.seed });
    return { object, probe, positions, fromFile: false, fileSha256: null };
  }
  const file = config.object.path;
  if (!existsSync(file)) {
    throw new SimulationInputError(SimulateErrorCode.ObjectFile, `object file ${file} does not exist: pass an npz holding objectGuess and probeGuess (e.g. ../shared/data/Run1084_recon3_postPC.npz)`);
  }
  const arrays = loadNpz(file);
  const missing = ["objectGuess", "probeGuess"].filter((key) => !(key in arrays));
  if (missing.length > 0) {
    throw new SimulationInputError(SimulateErrorCode.ObjectFile, `${file} lacks ${missing.join(" and ")} (it holds: ${Object.keys(arrays).join(", ") || "nothing"}): --object-from needs a complex objectGuess and probeGuess`);
  }
  const object = complexImageFrom(arrays["objectGuess"]!, file, "objectGuess");
  const probe = complexImageFrom(arrays["probeGuess"]!, file, "probeGuess");
  if (probe.height !== size || probe.width !== size) {
    throw new SimulationInputError(SimulateErrorCode.ObjectFile, `${file}: probeGuess is ${probe.height}×${probe.width} but the study's probe.size is ${size}: set probe.size to ${probe.height} (the CLI does this for --object-from)`);
  }
  if (object.height < size || object.width < size) {
    throw new SimulationInputError(SimulateErrorCode.ObjectFile, `${file}: objectGuess (${object.height}×${object.width}) is smaller than the ${size}×${size} probe`);
  }
  let positions: ScanPosition[];
  const xs = realVector(arrays["xcoords"]);
  const ys = realVector(arrays["ycoords"]);
  if (config.object.reuseCoordinates) {
    if (!xs || !ys || xs.length !== ys.length) {
      throw new SimulationInputError(SimulateErrorCode.ObjectFile, `${file}: reuseCoordinates needs 1-D real xcoords and ycoords of equal length`);
    }
    positions = fitPositions(xs, ys, object.height, object.width, size).positions;
  } else {
    positions = randomScanPositions({ objectHeight: object.height, objectWidth: object.width, patchSize: size, count: config.scan.count, seed: config.seed });
  }
  return { object, probe, positions, fromFile: true, fileSha256: sha256(readFileSync(file)) };
}

/** The part of the configuration that determines Phase C's files (training settings do not). */
function phaseCInputs(config: StudyConfig, sample: StudySample, noiseSeed: number): Record<string, unknown> {
  return {
    formatVersion: PHASE_C_MANIFEST_VERSION,
    seed: config.seed,
    // Only a replicate's own noise seed is recorded, so replicate 0 keeps the hash it always had.
    ...(noiseSeed === config.seed ? {} : { noiseSeed }),
    object: config.object.source === "file" ? { source: "file", sha256: sample.fileSha256, reuseCoordinates: config.object.reuseCoordinates } : config.object,
    probe: config.probe,
    scan: config.object.source === "file" && config.object.reuseCoordinates ? null : config.scan,
    doses: config.doses,
  };
}

function toPosition(array: readonly ScanPosition[], indices: readonly number[]): ScanPosition[] {
  return indices.map((index) => array[index]!);
}

function pick(source: Float32Array, indices: readonly number[], itemLength: number): Float32Array {
  const out = new Float32Array(indices.length * itemLength);
  indices.forEach((index, row) => out.set(source.subarray(index * itemLength, (index + 1) * itemLength), row * itemLength));
  return out;
}

/** The dose's files exist and hold the arrays recorded (a damaged or edited file is resimulated). */
function filesIntact(root: string, record: PhaseCDoseRecord): boolean {
  try {
    return (
      record.snapshots !== undefined &&
      datasetSnapshotHash(path.join(root, record.files.train)) === record.snapshots.train &&
      datasetSnapshotHash(path.join(root, record.files.test)) === record.snapshots.test
    );
  } catch {
    return false;
  }
}

function readManifest(file: string): PhaseCManifest | null {
  return readPhaseManifest<PhaseCManifest>(file, "C", PHASE_C_MANIFEST_VERSION);
}

/** Why Phase C data placed from an earlier study cannot be reused: other inputs, or a file that changed. */
function reuseRefused(source: string, root: string, previous: PhaseCManifest | null, inputsHash: string): PhaseRootError {
  if (previous === null) return new PhaseRootError(PhaseRootErrorCode.Invalid, `${source}: its Phase C manifest could not be read back from ${path.join(root, STUDY_LAYOUT.phaseCManifest)}`);
  if (previous.inputsHash !== inputsHash) {
    return new PhaseRootError(
      PhaseRootErrorCode.Mismatch,
      `${source}: its Phase C data was simulated for other inputs than this study's configuration (object, probe, scan, doses or seed differ: its inputs hash ${previous.inputsHash}, this study's ${inputsHash}); run with the configuration it was made with, or drop the flag to simulate`,
    );
  }
  for (const record of previous.doses) {
    for (const split of ["train", "test"] as const) {
      let actual: string | null = null;
      try {
        actual = datasetSnapshotHash(path.join(root, record.files[split]));
      } catch {
        // unreadable: reported below like a changed file
      }
      if (actual !== record.snapshots?.[split]) {
        return new PhaseRootError(PhaseRootErrorCode.Mismatch, `${source}: ${record.files[split]} no longer holds the arrays its Phase C manifest records (snapshot hash ${record.snapshots?.[split] ?? "none"}, found ${actual ?? "unreadable"}); restore it or rerun Phase C there`);
      }
    }
  }
  return new PhaseRootError(PhaseRootErrorCode.Mismatch, `${source}: its Phase C data cannot be reused`);
}

/** Options of {@link runPhaseC}. */
export interface PhaseCOptions {
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Resimulate even when the manifest says the files are current. */
  readonly force?: boolean;
  /** Seed of the photon noise (a replicate's seed); default the study's seed. Object and positions keep the study's seed. */
  readonly noiseSeed?: number;
  /**
   * The manifest an earlier run of this phase left, as the study's run manifest vouches for it (its stage
   * recorded as succeeded, its SHA-256 unchanged); null: nothing to reuse. Left out, the phase reads its
   * own manifest file (a phase run on its own, or data placed from an earlier study).
   */
  readonly previous?: PhaseCManifest | null;
  /**
   * The data under `root` was placed there from an earlier study (`--phase-c-root DIR`, named here): reuse
   * it or fail (`E_PHASE_ROOT_MISMATCH`), never simulate over it.
   */
  readonly reuseOnly?: string;
}

/**
 * Runs Phase C under `root`. When `phaseC/phase_manifest.json` already records the same inputs and every
 * file exists, nothing is rewritten (the datasets are deterministic, so they would be identical). A file
 * or directory that cannot be written is an `IoError` naming its path.
 */
export function runPhaseC(config: StudyConfig, root: string, options: PhaseCOptions = {}): { manifest: PhaseCManifest; sample: StudySample; reused: boolean } {
  try {
    return simulatePhase(config, root, options);
  } catch (error) {
    throw codedFileSystemError(error);
  }
}

function simulatePhase(config: StudyConfig, root: string, options: PhaseCOptions): { manifest: PhaseCManifest; sample: StudySample; reused: boolean } {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const sample = prepareSample(config);
  const size = config.probe.size;
  const noiseSeed = options.noiseSeed ?? config.seed;
  const inputsHash = fingerprint(phaseCInputs(config, sample, noiseSeed) as never);
  const manifestPath = path.join(root, STUDY_LAYOUT.phaseCManifest);
  const previous = options.force ? null : options.previous !== undefined && !options.reuseOnly ? options.previous : readManifest(manifestPath);
  if (previous?.inputsHash === inputsHash && previous.doses.every((record) => filesIntact(root, record))) {
    log(`phase C: datasets are current (${previous.doses.length} doses), not resimulated${options.reuseOnly ? ` (from ${options.reuseOnly})` : ""}`);
    return { manifest: previous, sample, reused: true };
  }
  if (options.reuseOnly) throw reuseRefused(options.reuseOnly, root, previous, inputsHash);
  const { train, test, middle } = splitByY(sample.positions);
  if (train.length === 0 || test.length === 0) {
    throw new SimulationInputError(SimulateErrorCode.TooFewPositions, `the scan has ${sample.positions.length} position(s) inside the object (${train.length} train, ${test.length} test): raise scan.count or use a larger object`);
  }
  let maxAmplitude = 0;
  for (let index = 0; index < sample.object.height * sample.object.width; index++) {
    maxAmplitude = Math.max(maxAmplitude, Math.hypot(sample.object.data[2 * index]!, sample.object.data[2 * index + 1]!));
  }
  const pixels = size * size;
  const doses: PhaseCDoseRecord[] = [];
  let meanExitEnergy = 0;
  for (const dose of config.doses) {
    const doseStarted = performance.now();
    // One photon-noise stream per dose, drawn position by position, pixel by pixel (ptycho's order).
    const random = SeededRandom.derive(noiseSeed, `photon-noise/dose=${dose}`);
    const simulated = simulateDiffraction(sample.probe, sample.object, sample.positions, { dose, noise: (expected) => random.nextPoisson(expected) });
    const simulateMs = performance.now() - doseStarted;
    meanExitEnergy = simulated.meanExitEnergy;
    const files = { train: STUDY_LAYOUT.patched(dose, "train"), test: STUDY_LAYOUT.patched(dose, "test") };
    for (const [split, indices] of [["train", train], ["test", test]] as const) {
      const target = path.join(root, files[split]);
      mkdirSync(path.dirname(target), { recursive: true });
      const positions = toPosition(sample.positions, indices);
      saveNpz(target, {
        diffraction: { data: pick(simulated.amplitudes, indices, pixels), shape: [indices.length, size, size] },
        objectGuess: { data: sample.object.data, shape: [sample.object.height, sample.object.width], complex: true },
        probeGuess: { data: sample.probe.data, shape: [size, size], complex: true },
        xcoords: { data: Float64Array.from(positions, (position) => position.x), shape: [indices.length] },
        ycoords: { data: Float64Array.from(positions, (position) => position.y), shape: [indices.length] },
        Y: { data: pick(simulated.patches, indices, 2 * pixels), shape: [indices.length, size, size], complex: true },
        scan_index: { data: BigInt64Array.from(indices, (index) => BigInt(index)), shape: [indices.length] },
      });
    }
    const snapshots = { train: datasetSnapshotHash(path.join(root, files.train)), test: datasetSnapshotHash(path.join(root, files.test)) };
    doses.push({ dose, scale: simulated.scale, meanPhotonCount: simulated.meanPhotonCount, files, snapshots, simulateMs });
    log(`phase C: dose ${dose}: ${sample.positions.length} patterns in ${(simulateMs / 1000).toFixed(2)} s, ${simulated.meanPhotonCount.toFixed(1)} photons/pattern (s = ${simulated.scale.toFixed(4)})`);
  }
  const totalMs = performance.now() - started;
  const patterns = sample.positions.length * config.doses.length;
  const simulateTotal = doses.reduce((sum, record) => sum + record.simulateMs, 0);
  const manifest: PhaseCManifest = {
    formatVersion: PHASE_C_MANIFEST_VERSION,
    phase: "C",
    inputsHash,
    object: {
      source: config.object.source,
      file: config.object.source === "file" ? path.basename(config.object.path) : null,
      fileSha256: sample.fileSha256,
      height: sample.object.height,
      width: sample.object.width,
      maxAmplitude,
    },
    probe: { size },
    positions: { total: sample.positions.length, train: train.length, test: test.length, splitY: middle, fromFile: config.object.source === "file" && config.object.reuseCoordinates },
    meanExitEnergy,
    doses,
    timings: { totalMs, patterns, patternsPerSecond: simulateTotal > 0 ? (patterns / simulateTotal) * 1000 : 0 },
  };
  mkdirSync(path.dirname(manifestPath), { recursive: true });
  writeJsonAtomicSync(manifestPath, manifest);
  return { manifest, sample, reused: false };
}
