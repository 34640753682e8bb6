/**
 * Phase F — iterative reconstruction, the classical baseline the networks are judged against: for each
 * dose × view × split, `@studykit/ptycho` reconstructs the object from that view's measurements alone
 * (baseline: every position of the split, Phase C's file; dense and sparse: the view's positions, Phase D's
 * file) with the configured algorithm and the simulated probe, and writes
 * `phaseF/dose_<d>/<view>/<split>/reconstruction.npz` (ptycho's `saveReconstruction`: object, probe,
 * positions, per-iteration Fourier and object errors, parameters).
 *
 * Every reconstruction is a job with its own identity (`@studykit/core`'s run identity, stage `phaseF`):
 * the options ptycho receives (algorithm, iterations, seed, probe update, α, batch size where it applies,
 * scored window), dose / view / split, the input file's snapshot hash, the seed, the code
 * version and the FFT implementation (native addon or TypeScript fallback, which may differ in the last
 * bits). A rerun reuses a job whose identity matches the recorded one and whose file still has the recorded
 * SHA-256; `force` recomputes. A view Phase D rejected becomes a skip record carrying Phase D's reason.
 * `phaseF/phase_manifest.json` is rewritten (atomically) after every job, so an interrupted phase resumes.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { createPartialIdentity, stableRunId, writeJsonAtomicSync, type CodeVersion, type JsonObject } from "@studykit/core";
import { datasetSnapshotHash } from "@studykit/data";
import { nativeStatus, sha256 } from "@studykit/native";
import { loadPtychoProblem, reconstruct, saveReconstruction, type ReconstructOptions, type ReconstructionParameters } from "@studykit/ptycho";
import type { StudyConfig } from "./study-config.js";
import { findViewRecord, type PhaseDManifest, type StudySplit } from "./overlap-phase.js";
import type { PhaseCManifest } from "./simulate-phase.js";
import { STUDY_LAYOUT, doseDirectory } from "./study-layout.js";
import { readPhaseManifest } from "./internal/phase-manifest-file.js";

/** Format version of `phaseF/phase_manifest.json`. */
export const PHASE_F_MANIFEST_VERSION = 1;

const SPLITS: readonly StudySplit[] = ["train", "test"];

/** Per-iteration errors of one reconstruction (as in its npz). */
export interface PhaseFHistory {
  readonly fourierError: readonly number[];
  /** Object phase MAE (rad) over the central stitch windows of the positions, global phase removed. */
  readonly phaseMae: readonly number[] | null;
  readonly amplitudeMae: readonly number[] | null;
}

/** One dose × view × split reconstruction. */
export interface PhaseFRecord {
  /** `dose_1000/dense/test`. */
  readonly id: string;
  readonly dose: number;
  readonly view: string;
  readonly split: StudySplit;
  readonly status: "succeeded" | "reused" | "skipped";
  /** Why a skipped job was skipped. */
  readonly reason: string | null;
  /** The input npz, relative to the study root (null when skipped). */
  readonly input: string | null;
  readonly identity: { readonly strictKey: string; readonly debugKey: string; readonly runId: string } | null;
  /** `phaseF/dose_<d>/<view>/<split>/reconstruction.npz` (null when skipped). */
  readonly file: string | null;
  readonly sha256: string | null;
  readonly positions: number;
  readonly parameters: ReconstructionParameters | null;
  /** Wall time of the reconstruction when it was computed (a reused record keeps it). */
  readonly wallMs: number | null;
  readonly positionsPerSecond: number | null;
  readonly history: PhaseFHistory | null;
}

/** `phaseF/phase_manifest.json`. */
export interface PhaseFManifest {
  readonly formatVersion: number;
  readonly phase: "F";
  readonly fft: string;
  readonly records: readonly PhaseFRecord[];
  readonly counts: { readonly succeeded: number; readonly reused: number; readonly skipped: number };
  readonly timings: { readonly totalMs: number };
}

/** Options of {@link runPhaseF}. */
export interface PhaseFOptions {
  readonly log?: (line: string) => void;
  /** Recompute every reconstruction. */
  readonly force?: boolean;
  readonly codeVersion: CodeVersion;
  /**
   * The manifest an earlier run of this phase left, as the study's run manifest vouches for it (its stage
   * recorded as succeeded, its SHA-256 unchanged); null: nothing to reuse. Left out, the phase reads its
   * own manifest file (a phase run on its own).
   */
  readonly previous?: PhaseFManifest | null;
}

/** ptycho's options for the configured reconstruction (α maps to the object weight of each algorithm). */
export function reconstructionOptions(config: StudyConfig): ReconstructOptions {
  const settings = config.reconstruction;
  return {
    algorithm: settings.algorithm,
    iterations: settings.iterations,
    seed: settings.seed,
    probeUpdateFrom: settings.probeUpdateFrom,
    scoreWindow: config.compare.stitchWindow,
    ...(settings.alpha === null ? {} : { objectWeight: settings.alpha }),
    ...(settings.algorithm === "minibatch" ? { batchSize: settings.batchSize } : {}),
  };
}

function readManifest(file: string): PhaseFManifest | null {
  return readPhaseManifest<PhaseFManifest>(file, "F", PHASE_F_MANIFEST_VERSION);
}

function fileIntact(root: string, record: PhaseFRecord): boolean {
  if (record.file === null || record.sha256 === null) return false;
  const file = path.join(root, record.file);
  return existsSync(file) && sha256(readFileSync(file)) === record.sha256;
}

/** The input of (dose, view, split), or the reason there is none. */
function inputOf(phaseC: PhaseCManifest, phaseD: PhaseDManifest, dose: number, view: string, split: StudySplit): { input: string } | { reason: string } {
  if (view === "baseline") {
    const record = phaseC.doses.find((entry) => entry.dose === dose);
    return record ? { input: record.files[split] } : { reason: `phase C has no dose ${dose}` };
  }
  const record = findViewRecord(phaseD, dose, view, split);
  if (!record) return { reason: `phase D has no ${view} view of the ${split} split at dose ${dose}` };
  if (record.status === "rejected" || record.files === null) return { reason: record.reason ?? `overlap view ${view} (${split}) was rejected` };
  return { input: record.files.dataset };
}

/**
 * Runs Phase F under `root` (see the module doc). Returns the manifest; a file it cannot read or write
 * throws, as in the other phases.
 */
export async function runPhaseF(config: StudyConfig, root: string, phaseC: PhaseCManifest, phaseD: PhaseDManifest, options: PhaseFOptions): Promise<PhaseFManifest> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const manifestPath = path.join(root, STUDY_LAYOUT.phaseFManifest);
  const previous = options.force ? null : options.previous !== undefined ? options.previous : readManifest(manifestPath);
  const previousById = new Map((previous?.records ?? []).map((record) => [record.id, record]));
  const fft = nativeStatus().implementation;
  const reconstructOptions = reconstructionOptions(config);
  const records: PhaseFRecord[] = [];
  const planned = config.doses.flatMap((dose) => config.views.flatMap((view) => SPLITS.map((split) => ({ dose, view, split }))));
  const write = (): PhaseFManifest => {
    const manifest: PhaseFManifest = {
      formatVersion: PHASE_F_MANIFEST_VERSION,
      phase: "F",
      fft,
      records: [...records],
      counts: {
        succeeded: records.filter((record) => record.status === "succeeded").length,
        reused: records.filter((record) => record.status === "reused").length,
        skipped: records.filter((record) => record.status === "skipped").length,
      },
      timings: { totalMs: performance.now() - started },
    };
    writeJsonAtomicSync(manifestPath, manifest);
    return manifest;
  };
  for (const [index, { dose, view, split }] of planned.entries()) {
    const id = `${doseDirectory(dose)}/${view}/${split}`;
    const step = `phase F [${index + 1}/${planned.length}] ${id}`;
    const source = inputOf(phaseC, phaseD, dose, view, split);
    if ("reason" in source) {
      records.push({ id, dose, view, split, status: "skipped", reason: source.reason, input: null, identity: null, file: null, sha256: null, positions: 0, parameters: null, wallMs: null, positionsPerSecond: null, history: null });
      log(`${step}: skipped (${source.reason})`);
      write();
      continue;
    }
    const inputPath = path.join(root, source.input);
    const partial = createPartialIdentity({
      stage: "phaseF",
      // The options ptycho receives, not the raw section: a setting the algorithm ignores (the batch size of
      // ePIE) must not force a recomputation.
      config: { study: "ptycho-dose-overlap", dose, view, split, reconstruction: JSON.parse(JSON.stringify(reconstructOptions)) as JsonObject },
      datasetSnapshotHash: datasetSnapshotHash(inputPath),
      seeds: { seed: config.reconstruction.seed },
      codeVersion: options.codeVersion,
      runtime: { fft },
    });
    const final = partial.finalize({ jobId: id, input: source.input });
    const identity = { strictKey: final.strictKey, debugKey: final.debugKey, runId: stableRunId(final) };
    const file = STUDY_LAYOUT.iterativeReconstruction(dose, view, split);
    const earlier = previousById.get(id);
    if (earlier && earlier.identity?.strictKey === identity.strictKey && earlier.file === file && fileIntact(root, earlier)) {
      records.push({ ...earlier, status: "reused" });
      log(`${step}: reused (${earlier.sha256!.slice(0, 12)})`);
      write();
      continue;
    }
    const problem = loadPtychoProblem(inputPath);
    const jobStarted = performance.now();
    const result = await reconstruct(problem, reconstructOptions);
    const target = path.join(root, file);
    saveReconstruction(target, result, inputPath);
    const wallMs = performance.now() - jobStarted;
    const history: PhaseFHistory = {
      fourierError: Array.from(result.fourierError),
      phaseMae: result.phaseMae ? Array.from(result.phaseMae) : null,
      amplitudeMae: result.amplitudeMae ? Array.from(result.amplitudeMae) : null,
    };
    const digest = sha256(readFileSync(target));
    records.push({
      id,
      dose,
      view,
      split,
      status: "succeeded",
      reason: null,
      input: source.input,
      identity,
      file,
      sha256: digest,
      positions: problem.positions.length,
      parameters: result.parameters,
      wallMs,
      positionsPerSecond: result.timings.positionsPerSecond,
      history,
    });
    const lastPhase = history.phaseMae?.at(-1);
    log(
      `${step}: ${result.parameters.algorithm} ${result.parameters.iterations} iterations over ${problem.positions.length} positions in ${(wallMs / 1000).toFixed(2)} s ` +
        `(${(result.timings.positionsPerSecond / 1000).toFixed(1)} k positions/s), Fourier error ${history.fourierError.at(-1)!.toExponential(2)}` +
        (lastPhase === undefined ? "" : `, phase MAE ${lastPhase.toFixed(4)} rad`),
    );
    write();
  }
  const manifest = write();
  log(`phase F: ${manifest.counts.succeeded} reconstructed, ${manifest.counts.reused} reused, ${manifest.counts.skipped} skipped in ${(manifest.timings.totalMs / 1000).toFixed(1)} s (FFT: ${fft})`);
  return manifest;
}
