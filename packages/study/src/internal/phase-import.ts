/**
 * Reusing an earlier study's Phase C or D data (`--phase-c-root DIR`, `--phase-d-root DIR`, as the seed
 * CLI had): DIR is that study's output root (holding `phaseC/phase_manifest.json`) or its phase directory
 * itself (holding `phase_manifest.json`). Its manifest is checked (phase and format), every file it lists
 * must exist (all missing ones are named together), and the files and the manifest are then placed under
 * this study's root at their usual paths (hard links where the file system allows, copies otherwise), so
 * the phases downstream and `study verify` find them where they always do. Whether the data fits this
 * study (same phase inputs, files still holding the arrays recorded) is then the phase's own reuse check,
 * run in reuse-only mode: it refuses instead of simulating again.
 */
import { copyFileSync, existsSync, linkSync, mkdirSync, realpathSync, rmSync, statSync } from "node:fs";
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

/**
 * Checks the phase data under `source` and places it under `root` (see the module doc). Returns where it
 * came from. Throws {@link PhaseRootError}: `E_MISSING_ARTIFACT` naming the manifest or every listed file
 * that is missing, `E_PHASE_ROOT_INVALID` for a manifest of another phase or format.
 */
export function importPhaseData(phase: ImportablePhase, source: string, root: string): ImportedPhaseRecord {
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
  if (existsSync(targetDir) && realpathSync(targetDir) === realpathSync(phaseDir)) return record; // already in place
  for (const file of files) {
    mkdirSync(path.dirname(file.target), { recursive: true });
    rmSync(file.target, { force: true });
    try {
      linkSync(file.source, file.target);
    } catch {
      copyFileSync(file.source, file.target);
    }
  }
  // The manifest last, atomically: the phase's reuse check sees either the old state or all the files.
  writeJsonAtomicSync(path.join(root, manifestPath), manifest);
  return record;
}
