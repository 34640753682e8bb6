/**
 * Where the study's phases put their files, relative to the study root (one place, so the phases, the
 * job matrix's input resolver and the report agree). All paths are POSIX and relative.
 *
 * Replicate 0 lives at the study root; replicate r ≥ 1 is a root of the same layout under
 * `replicates/r<r>/` (its own Phase C noise, Phase D groups, Phase E jobs and Phase F reconstructions), so
 * a study with one replicate has exactly the files it had before replicates existed.
 */
import { SeededRandom } from "@studykit/core";

/** `dose_1000`, `dose_100000`, `dose_2500.5`. */
export function doseDirectory(dose: number): string {
  return `dose_${Number.isInteger(dose) ? dose.toFixed(0) : String(dose)}`;
}

export const STUDY_LAYOUT = {
  phaseCDir: "phaseC",
  phaseCManifest: "phaseC/phase_manifest.json",
  patched: (dose: number, split: "train" | "test") => `phaseC/${doseDirectory(dose)}/patched_${split}.npz`,
  phaseDDir: "phaseD",
  phaseDManifest: "phaseD/phase_manifest.json",
  viewDataset: (dose: number, view: string, split: "train" | "test" = "train") => `phaseD/${doseDirectory(dose)}/${view}/${view}_${split}.npz`,
  viewGroups: (dose: number, view: string) => `phaseD/${doseDirectory(dose)}/${view}/${view}_groups.json`,
  trainingDir: "phaseE",
  phaseFDir: "phaseF",
  phaseFManifest: "phaseF/phase_manifest.json",
  iterativeReconstruction: (dose: number, view: string, split: "train" | "test") => `phaseF/${doseDirectory(dose)}/${view}/${split}/reconstruction.npz`,
  comparisonDir: "phaseG",
  comparisonManifest: "phaseG/comparison.json",
  reportDir: "report",
  reportMarkdown: "report/report.md",
  reportHtml: "report/report.html",
  studyManifest: "study_manifest.json",
  /** The root of replicate `r` relative to the study root (`""` for replicate 0). */
  replicateRoot: (replicate: number) => (replicate === 0 ? "" : `replicates/r${replicate}`),
} as const;

/**
 * The seed of replicate `r`: the study's seed for replicate 0 (so one replicate reproduces the study as it
 * was), otherwise a 32-bit value derived from it. It seeds the photon noise, the group sampling and the
 * training (initialisation, shuffling); the object and the scan positions keep the study's seed.
 */
export function replicateSeed(seed: number, replicate: number): number {
  if (!Number.isSafeInteger(replicate) || replicate < 0) throw new RangeError(`replicate must be a whole number ≥ 0, got ${replicate}`);
  return replicate === 0 ? seed : SeededRandom.derive(seed, "replicate", replicate).nextUint32();
}

/**
 * A job id for (dose, view, method): `dose_1000/dense/gs2` (supervised, the ids the study had before it
 * had methods) and `dose_1000/dense/pinn-gs2`.
 */
export function studyJobId(dose: number, view: string, gridsize: number, method = "supervised"): string {
  return `${doseDirectory(dose)}/${view}/${method === "supervised" ? "" : `${method}-`}gs${gridsize}`;
}
