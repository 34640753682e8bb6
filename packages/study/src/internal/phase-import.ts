/**
 * Reusing an earlier study's Phase C or D data (`--phase-c-root DIR`, `--phase-d-root DIR`, as the seed
 * CLI had): DIR is that study's output root (holding `phaseC/phase_manifest.json`) or its phase directory
 * itself (holding `phase_manifest.json`). Its manifest is checked (phase and format), every file it lists
 * must exist (all missing ones are named together), and the files and the manifest are then placed under
 * this study's root at their usual paths (hard links where the file system allows, copies otherwise), so
 * the phases downstream and `study verify` find them where they always do. Whether the data fits this
 * study (same phase inputs, files still holding the arrays recorded) is then the phase's own reuse check,
 * run in reuse-only mode: it refuses instead of simulating again, and the caller then takes back what was
 * placed (`undo`), so a refused import leaves the output root as it found it. An output root that already
 * holds other data of the phase is refused before anything is placed: it is never overwritten.
 */
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { writeJsonAtomicSync } from "@studykit/core";
import { sha256 } from "@studykit/native";
import { PhaseRootError, PhaseRootErrorCode } from "../errors.js";
import { STUDY_LAYOUT } from "../study-layout.js";
import { readPhaseManifestFile } from "./phase-manifest-file.js";
import { PHASE_C_MANIFEST_VERSION, type PhaseCManifest } from "../simulate-phase.js";
import { PHASE_D_MANIFEST_VERSION, type PhaseDManifest } from "../overlap-phase.js";

/** Which phase's data is reused. */
export type ImportablePhase = "C" | "D";

/** Where reused phase data came from, as the study manifest records it. */
export interface ImportedPhaseRecord {
  /** The phase directory it was taken from (absolute). */
  readonly from: string;
  /** SHA-256 of that directory's `phase_manifest.json`. */
  readonly manifestSha256: string;
  /** Files placed under this study's root (besides the manifest). */
  readonly files: number;
}

const LAYOUT: Readonly<Record<ImportablePhase, { dir: string; manifest: string; flag: string; version: number }>> = {
  C: { dir: STUDY_LAYOUT.phaseCDir, manifest: STUDY_LAYOUT.phaseCManifest, flag: "--phase-c-root", version: PHASE_C_MANIFEST_VERSION },
  D: { dir: STUDY_LAYOUT.phaseDDir, manifest: STUDY_LAYOUT.phaseDManifest, flag: "--phase-d-root", version: PHASE_D_MANIFEST_VERSION },
};

const MANIFEST_NAME = "phase_manifest.json";

/** The files a phase manifest lists, as recorded (relative to a study root). */
function listedFiles(phase: ImportablePhase, manifest: unknown): string[] {
  if (phase === "C") return (manifest as PhaseCManifest).doses.flatMap((record) => [record.files.train, record.files.test]);
  return (manifest as PhaseDManifest).views.flatMap((record) => (record.files === null ? [] : [record.files.dataset, ...(record.files.groups === null ? [] : [record.files.groups])]));
}

/** Phase data placed under a study's root: where it came from, and how to take it back. */
export interface PlacedPhaseData {
  readonly record: ImportedPhaseRecord;
  /** Removes the files and manifest this import placed (not those that were already there). */
  readonly undo: () => void;
}

/**
 * Checks the phase data under `source` and places it under `root` (see the module doc). Returns where it
 * came from. Throws {@link PhaseRootError}: `E_MISSING_ARTIFACT` naming the manifest or every listed file
 * that is missing, `E_PHASE_ROOT_INVALID` for a manifest of another phase or format,
 * `E_PHASE_ROOT_MISMATCH` when `root` already holds other data of the phase.
 */
export function importPhaseData(phase: ImportablePhase, source: string, root: string): PlacedPhaseData {
  const { dir, manifest: manifestPath, flag, version } = LAYOUT[phase];
  const sourceRoot = path.resolve(source);
  if (!existsSync(sourceRoot) || !statSync(sourceRoot).isDirectory()) {
    throw new PhaseRootError(PhaseRootErrorCode.Missing, `${flag} ${sourceRoot}: no such directory; pass an earlier study's output root (holding ${manifestPath}) or its ${dir}/ directory`);
  }
  const candidates = [path.join(sourceRoot, dir, MANIFEST_NAME), path.join(sourceRoot, MANIFEST_NAME)];
  const found = candidates.find((file) => existsSync(file));
  if (!found) {
    throw new PhaseRootError(PhaseRootErrorCode.Missing, `${flag} ${sourceRoot}: missing ${candidates[0]} (or ${candidates[1]}): pass an earlier study's output root or its ${dir}/ directory, after Phase ${phase} finished there`);
  }
  // The same reader the phases' own reuse checks use.
  const read = readPhaseManifestFile<PhaseCManifest | PhaseDManifest>(found, phase, version);
  if (!read.ok) {
    throw new PhaseRootError(PhaseRootErrorCode.Invalid, `${flag}: ${found} is ${read.detail}; rerun Phase ${phase} there with this studykit, or drop ${flag}`);
  }
  const { manifest, bytes } = read;
  const phaseDir = path.dirname(found);
  const prefix = `${dir}/`;
  const files = listedFiles(phase, manifest).map((recorded) => {
    if (!recorded.startsWith(prefix) || recorded.split("/").includes("..")) {
      throw new PhaseRootError(PhaseRootErrorCode.Invalid, `${flag}: ${found} lists ${JSON.stringify(recorded)}, which is not inside ${prefix}; rerun Phase ${phase} there`);
    }
    return { recorded, source: path.join(phaseDir, ...recorded.slice(prefix.length).split("/")), target: path.join(root, ...recorded.split("/")) };
  });
  const missing = files.filter((file) => !existsSync(file.source) || !statSync(file.source).isFile());
  if (missing.length > 0) {
    throw new PhaseRootError(PhaseRootErrorCode.Missing, `${flag}: ${found} lists ${missing.length === 1 ? "a file that is" : `${missing.length} files that are`} missing: ${missing.map((file) => file.source).join(", ")}; restore ${missing.length === 1 ? "it" : "them"} or rerun Phase ${phase} there`);
  }
  const record: ImportedPhaseRecord = { from: phaseDir, manifestSha256: sha256(bytes), files: files.length };
  const targetDir = path.join(root, dir);
  if (existsSync(targetDir) && realpathSync(targetDir) === realpathSync(phaseDir)) return { record, undo: () => undefined }; // already in place
  const targetManifest = path.join(root, manifestPath);
  const held = heldManifest(targetManifest);
  if (held !== null && held !== JSON.stringify(manifest)) {
    throw new PhaseRootError(
      PhaseRootErrorCode.Mismatch,
      `${flag} ${phaseDir}: ${root} already holds other Phase ${phase} data (${targetManifest}); nothing was changed: pass a fresh --out, or drop ${flag} to reuse what ${root} holds`,
    );
  }
  // What this import creates (files and folders that were not there), so `undo` removes exactly that.
  const placed: string[] = [];
  const createdDirs: string[] = [];
  for (const file of files) {
    for (let dirToMake = path.dirname(file.target); !existsSync(dirToMake); dirToMake = path.dirname(dirToMake)) createdDirs.push(dirToMake);
    mkdirSync(path.dirname(file.target), { recursive: true });
    if (!existsSync(file.target)) placed.push(file.target);
    rmSync(file.target, { force: true });
    try {
      linkSync(file.source, file.target);
    } catch {
      copyFileSync(file.source, file.target);
    }
  }
  // The manifest last, atomically: the phase's reuse check sees either the old state or all the files.
  if (!existsSync(targetManifest)) placed.push(targetManifest);
  writeJsonAtomicSync(targetManifest, manifest);
  const undo = (): void => {
    // The manifest first: a reader never sees a manifest whose files are going.
    for (const file of [...placed].reverse()) rmSync(file, { force: true });
    for (const made of [...new Set(createdDirs)].sort((a, b) => b.length - a.length)) if (existsSync(made) && readdirSync(made).length === 0) rmdirSync(made);
  };
  return { record, undo };
}

/** The phase manifest already under a study's root, as JSON text of what it holds; null when there is none (or none readable). */
function heldManifest(file: string): string | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.stringify(JSON.parse(readFileSync(file, "utf8")));
  } catch {
    return null;
  }
}

/** Runs the phase on imported data (`placed`, or none); if it refuses or fails, the import is taken back first. */
export function onImportedData<T>(placed: PlacedPhaseData | null, runPhase: () => T): T {
  try {
    return runPhase();
  } catch (error) {
    placed?.undo();
    throw error;
  }
}
