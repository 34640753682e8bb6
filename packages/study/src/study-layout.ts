/**
 * Where the study's phases put their files, relative to the study root (one place, so the phases, the
 * job matrix's input resolver and the report agree). All paths are POSIX and relative.
 */

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
} as const;

/**
 * A job id for (dose, view, method): `dose_1000/dense/gs2` (supervised, the ids the study had before it
 * had methods) and `dose_1000/dense/pinn-gs2`.
 */
export function studyJobId(dose: number, view: string, gridsize: number, method = "supervised"): string {
  return `${doseDirectory(dose)}/${view}/${method === "supervised" ? "" : `${method}-`}gs${gridsize}`;
}
