/**
 * Phase D — overlap views. For each dose, each overlap view (dense, sparse) and each split (train, test) the
 * split's positions are thinned by the spacing threshold S = (1 − f)·N; an accepted view is written as
 * `phaseD/dose_<d>/<view>/<view>_<split>.npz` (the same keys as Phase C, rows of the kept positions). A
 * training view also gets its gridsize-2 groups in `<view>_groups.json` (the networks train on them: nGroups
 * groups by K-choose-C oversampling, groups wider than the PINN canvas rejected and counted); a test
 * view is what Phase F's iterative reconstruction of that view reads. A view below the minimum count is
 * rejected by the same rule in both splits: no files, and the reason is recorded in
 * `phaseD/phase_manifest.json`, which the job matrix (train) and Phase F (train and test) turn into skip
 * events.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fingerprint, writeFileAtomicSync, writeJsonAtomicSync } from "@studykit/core";
import { datasetSnapshotHash, loadNpz, saveNpz, type ArrayInput, type NdArray } from "@studykit/data";
import type { StudyConfig } from "./study-config.js";
import type { ScanPosition } from "@studykit/ptycho";
import { partitionBySpacing, sampleScanGroups, selectBySpacing, spacingThreshold, type OverlapViewName } from "./overlap-views.js";
import type { PhaseCManifest } from "./simulate-phase.js";
import { codedFileSystemError } from "./internal/file-system-errors.js";
import { readPhaseManifest } from "./internal/phase-manifest-file.js";
import { STUDY_LAYOUT } from "./study-layout.js";
import { PhaseRootError, PhaseRootErrorCode } from "./errors.js";

/** Format version of the Phase D manifest (2: records carry their split, test views exist; 3: oversampled groups with offsets and rejections; 4: training views of several disjoint scans). */
export const PHASE_D_MANIFEST_VERSION = 4;

/** Channels per gridsize-2 group (C = gridsize²). */
export const GROUP_SIZE = 4;

/** The splits of Phase C. */
export type StudySplit = "train" | "test";

/** One (dose, view, split) outcome. */
export interface PhaseDViewRecord {
  readonly dose: number;
  readonly view: OverlapViewName;
  readonly split: StudySplit;
  readonly overlapFraction: number;
  /** S = (1 − f)·N, pixels. */
  readonly spacing: number;
  /** The split's positions considered. */
  readonly candidates: number;
  /** Positions kept by the spacing filter (all scans of a training view). */
  readonly accepted: number;
  /** Disjoint scans of the view's spacing the positions come from (a test view: 1; see `overlap.scans`). */
  readonly scans: number;
  readonly minCount: number;
  readonly status: "accepted" | "rejected";
  /** Why a rejected view was rejected. */
  readonly reason: string | null;
  /** Relative paths (null when rejected); only a training view has groups. */
  readonly files: { readonly dataset: string; readonly groups: string | null } | null;
  /** Fingerprint of the group selection: the feature signature of the view's training jobs (train only). */
  readonly groupsSha256: string | null;
  /** Snapshot hash of the view's npz, checked before it is reused. */
  readonly snapshot: string | null;
  readonly groupCount: number;
  /** Groups drawn and rejected because a member lay beyond the canvas (train only; 0 otherwise). */
  readonly groupsRejected: number;
}

/** `phaseD/phase_manifest.json`. */
export interface PhaseDManifest {
  readonly formatVersion: number;
  readonly phase: "D";
  readonly inputsHash: string;
  readonly gridsize: 2;
  readonly groupCandidates: number;
  /** nGroups asked for per training view (resolved from `overlap.groups`). */
  readonly groupsWanted: number;
  /** Canvas margin P (pixels): the largest member offset a group may have, per axis. */
  readonly canvasPadding: number;
  readonly views: readonly PhaseDViewRecord[];
}

/**
 * `<view>_groups.json`: rows of the view's npz grouped into C channels (anchor first), and each member's
 * offset (x, y) from its group's centre in pixels, `[groups][C][2]` (what the PINN overlap constraint
 * translates by).
 */
export interface GroupsFile {
  readonly view: OverlapViewName;
  readonly dose: number;
  readonly groupSize: number;
  readonly candidates: number;
  readonly canvasPadding: number;
  readonly seed: number;
  readonly groups: readonly (readonly number[])[];
  readonly offsets: readonly (readonly (readonly number[])[])[];
}

/** nGroups per training view: the configured count, or enough for as many patterns per epoch as the gridsize-1 job. */
export function groupsWanted(config: StudyConfig, trainingPatterns: number): number {
  return config.overlap.groups ?? Math.ceil(trainingPatterns / GROUP_SIZE);
}

/**
 * The canvas margin P of the overlap constraint: the configured one, or N. (Measured on the quick preset:
 * P = N/2 rejects all 805 groups of the sparse view, S = 0.8·N apart; P = N keeps 436 of 805 and every
 * dense group.)
 */
export function canvasPaddingOf(config: StudyConfig, size: number): number {
  return config.overlap.canvasPadding ?? size;
}

function rows(array: NdArray, indices: readonly number[]): ArrayInput {
  const [count, ...rest] = array.shape;
  const itemLength = rest.reduce((product, size) => product * size, 1) * (array.complex ? 2 : 1);
  const source = array.data as Float32Array | Float64Array | BigInt64Array;
  const Constructor = source.constructor as new (length: number) => typeof source;
  const out = new Constructor(indices.length * itemLength);
  indices.forEach((index, row) => {
    if (index >= (count ?? 0)) throw new RangeError(`row ${index} beyond ${count}`);
    (out as Float64Array).set((source as Float64Array).subarray(index * itemLength, (index + 1) * itemLength), row * itemLength);
  });
  return { data: out, shape: [indices.length, ...rest], dtype: array.dtype, complex: array.complex };
}

/** An accepted view's files exist and hold what was recorded; a rejected view left no files. */
function viewIntact(root: string, record: PhaseDViewRecord): boolean {
  if (record.files === null) return true;
  try {
    if (record.files.groups !== null) {
      const file = JSON.parse(readFileSync(path.join(root, record.files.groups), "utf8")) as GroupsFile;
      if (fingerprint({ groups: file.groups, offsets: file.offsets } as never) !== record.groupsSha256) return false;
    }
    return datasetSnapshotHash(path.join(root, record.files.dataset)) === record.snapshot;
  } catch {
    return false;
  }
}

function readManifest(file: string): PhaseDManifest | null {
  return readPhaseManifest<PhaseDManifest>(file, "D", PHASE_D_MANIFEST_VERSION);
}

/** The record of (dose, view, split), or null (baseline, or a view the configuration lacks). */
export function findViewRecord(manifest: PhaseDManifest, dose: number, view: string, split: StudySplit): PhaseDViewRecord | null {
  return manifest.views.find((record) => record.dose === dose && record.view === view && record.split === split) ?? null;
}

/** The overlap views of the configuration (baseline has none). */
export function overlapViewsOf(config: StudyConfig): OverlapViewName[] {
  return config.views.filter((view): view is OverlapViewName => view === "dense" || view === "sparse");
}

/** Options of {@link runPhaseD}. */
export interface PhaseDOptions {
  readonly log?: (line: string) => void;
  /** Rebuild even when the manifest says the views are current. */
  readonly force?: boolean;
  /** Seed of the gridsize-2 group sampling (a replicate's seed); default the study's seed. */
  readonly groupSeed?: number;
  /**
   * The manifest an earlier run of this phase left, as the study's run manifest vouches for it (its stage
   * recorded as succeeded, its SHA-256 unchanged); null: nothing to reuse. Left out, the phase reads its
   * own manifest file (a phase run on its own, or data placed from an earlier study).
   */
  readonly previous?: PhaseDManifest | null;
  /**
   * The views under `root` were placed there from an earlier study (`--phase-d-root DIR`, named here):
   * reuse them or fail (`E_PHASE_ROOT_MISMATCH`), never rebuild over them.
   */
  readonly reuseOnly?: string;
}

/** Runs Phase D under `root` from Phase C's manifest; reuses current files, and reports files it cannot write, like Phase C. */
export function runPhaseD(config: StudyConfig, root: string, phaseC: PhaseCManifest, options: PhaseDOptions = {}): { manifest: PhaseDManifest; reused: boolean } {
  try {
    return buildViews(config, root, phaseC, options);
  } catch (error) {
    throw codedFileSystemError(error);
  }
}

function buildViews(config: StudyConfig, root: string, phaseC: PhaseCManifest, options: PhaseDOptions): { manifest: PhaseDManifest; reused: boolean } {
  const log = options.log ?? (() => {});
  const views = overlapViewsOf(config);
  const seed = options.groupSeed ?? config.seed;
  const inputsHash = fingerprint({ formatVersion: PHASE_D_MANIFEST_VERSION, phaseC: phaseC.inputsHash, overlap: config.overlap, views, seed } as never);
  const manifestPath = path.join(root, STUDY_LAYOUT.phaseDManifest);
  const previous = options.force ? null : options.previous !== undefined && !options.reuseOnly ? options.previous : readManifest(manifestPath);
  if (previous?.inputsHash === inputsHash && previous.views.every((record) => viewIntact(root, record))) {
    log(`phase D: views are current, not rebuilt${options.reuseOnly ? ` (from ${options.reuseOnly})` : ""}`);
    return { manifest: previous, reused: true };
  }
  if (options.reuseOnly) {
    if (previous === null) throw new PhaseRootError(PhaseRootErrorCode.Invalid, `${options.reuseOnly}: its Phase D manifest could not be read back from ${manifestPath}`);
    if (previous.inputsHash !== inputsHash) {
      throw new PhaseRootError(
        PhaseRootErrorCode.Mismatch,
        `${options.reuseOnly}: its Phase D views were built for other inputs than this study's (its Phase C data, the overlap settings, the views or the seed differ: its inputs hash ${previous.inputsHash}, this study's ${inputsHash}); reuse its Phase C data too (--phase-c-root) with the configuration it was made with, or drop the flag`,
      );
    }
    const changed = previous.views.find((record) => !viewIntact(root, record))!;
    throw new PhaseRootError(PhaseRootErrorCode.Mismatch, `${options.reuseOnly}: ${changed.files?.dataset ?? "a view"} (or its groups) no longer holds what its Phase D manifest records; restore it or rerun Phase D there`);
  }
  const size = phaseC.probe.size;
  const wanted = groupsWanted(config, phaseC.positions.train);
  const canvasPadding = canvasPaddingOf(config, size);
  const records: PhaseDViewRecord[] = [];
  for (const doseRecord of phaseC.doses) {
    for (const split of ["train", "test"] as const) {
      const source = path.join(root, doseRecord.files[split]);
      const arrays = loadNpz(source);
      const xs = arrays["xcoords"]!.data as Float64Array;
      const ys = arrays["ycoords"]!.data as Float64Array;
      const positions: ScanPosition[] = Array.from(xs, (x, index) => ({ x, y: ys[index]! }));
      for (const view of views) {
        const overlapFraction = config.overlap[view];
        const spacing = spacingThreshold(overlapFraction, size);
        // A training view takes up to `overlap.scans` disjoint scans of its spacing (more distinct patterns,
        // each group inside one scan); a test view is one scan, what Phase F reconstructs.
        const scans = split === "train" ? partitionBySpacing(positions, spacing, config.overlap.scans) : [selectBySpacing(positions, spacing)];
        const firstScan = scans[0] ?? [];
        const kept = scans.flat();
        const base = { dose: doseRecord.dose, view, split, overlapFraction, spacing, candidates: positions.length, accepted: kept.length, scans: scans.length, minCount: config.overlap.minCount };
        const dataset = STUDY_LAYOUT.viewDataset(doseRecord.dose, view, split);
        const groupsPath = split === "train" ? STUDY_LAYOUT.viewGroups(doseRecord.dose, view) : null;
        // The rule is the first scan's (one scan of the view), the same in both splits.
        if (firstScan.length < config.overlap.minCount || firstScan.length < GROUP_SIZE) {
          const reason = `overlap view ${view} rejected by the spacing threshold: S = (1 − ${overlapFraction})·${size} = ${spacing.toFixed(1)} px keeps ${firstScan.length} of ${positions.length} ${split === "train" ? "training" : "test"} positions, below the minimum of ${Math.max(config.overlap.minCount, GROUP_SIZE)}`;
          records.push({ ...base, status: "rejected", reason, files: null, groupsSha256: null, snapshot: null, groupCount: 0, groupsRejected: 0 });
          // Files of an earlier, accepted build of this view must not make its jobs look runnable.
          rmSync(path.join(root, dataset), { force: true });
          if (groupsPath !== null) rmSync(path.join(root, groupsPath), { force: true });
          log(`phase D: dose ${doseRecord.dose} ${view} ${split}: rejected (${firstScan.length} < ${config.overlap.minCount})`);
          continue;
        }
        const target = path.join(root, dataset);
        mkdirSync(path.dirname(target), { recursive: true });
        const out: Record<string, ArrayInput> = {};
        for (const [key, array] of Object.entries(arrays)) {
          out[key] = key === "objectGuess" || key === "probeGuess" ? array : rows(array, kept);
        }
        saveNpz(target, out);
        let groupsSha256: string | null = null;
        let groupCount = 0;
        let groupsRejected = 0;
        if (groupsPath !== null) {
          const sampled = sampleScanGroups(positions, scans, { groupSize: GROUP_SIZE, candidates: config.overlap.candidates, count: wanted, maxOffset: canvasPadding, seed });
          const groupsFile: GroupsFile = { view, dose: doseRecord.dose, groupSize: GROUP_SIZE, candidates: config.overlap.candidates, canvasPadding, seed, groups: sampled.groups, offsets: sampled.offsets };
          writeFileAtomicSync(path.join(root, groupsPath), `${JSON.stringify(groupsFile)}\n`);
          groupsSha256 = fingerprint({ groups: sampled.groups, offsets: sampled.offsets } as never);
          groupCount = sampled.groups.length;
          groupsRejected = sampled.rejected;
          if (groupCount === 0) {
            const reason = `overlap view ${view} rejected: none of its ${sampled.rejected} candidate groups of ${GROUP_SIZE} fits the canvas (a member farther than P = ${canvasPadding} px from the group centre); raise overlap.canvasPadding`;
            records.push({ ...base, status: "rejected", reason, files: null, groupsSha256: null, snapshot: null, groupCount: 0, groupsRejected });
            rmSync(target, { force: true });
            rmSync(path.join(root, groupsPath), { force: true });
            log(`phase D: dose ${doseRecord.dose} ${view} ${split}: rejected (no group fits the canvas)`);
            continue;
          }
        }
        records.push({ ...base, status: "accepted", reason: null, files: { dataset, groups: groupsPath }, groupsSha256, snapshot: datasetSnapshotHash(target), groupCount, groupsRejected });
        log(`phase D: dose ${doseRecord.dose} ${view} ${split}: ${kept.length} of ${positions.length} positions in ${scans.length} scan(s) (S = ${spacing.toFixed(1)} px)${groupsPath !== null ? `, ${groupCount} groups (${groupsRejected} rejected: a member beyond P = ${canvasPadding} px)` : ""}`);
      }
    }
  }
  const manifest: PhaseDManifest = { formatVersion: PHASE_D_MANIFEST_VERSION, phase: "D", inputsHash, gridsize: 2, groupCandidates: config.overlap.candidates, groupsWanted: wanted, canvasPadding, views: records };
  mkdirSync(path.dirname(manifestPath), { recursive: true });
  writeJsonAtomicSync(manifestPath, manifest);
  return { manifest, reused: false };
}
