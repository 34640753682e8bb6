/**
 * The study as a run of `@studykit/core`: `run-manifest.json` in the study root is the contract between its
 * phases. It is written before Phase C with every stage and every artifact each will produce — per
 * replicate r, stages `C`, `D`, `E` (and `F`) for replicate 0 and `C-r<r>`, … for the others, then `G` —
 * and it is the only way one phase finds another's output: a stage reads an upstream phase manifest
 * through `requireUpstream` (only once that stage is recorded as succeeded, with the size it recorded) and
 * validates it on reading.
 *
 * Reuse goes through the same records, for every phase: a phase may reuse earlier output only when its
 * stage is recorded as succeeded and every file it recorded still has its SHA-256 (`verifyRecorded`); the
 * phase then decides by its own inputs hash and content hashes (C and D as a whole, F per reconstruction
 * by identity, E per job through core's training manifest). A stage whose record does not vouch for its
 * files (never run, killed, failed, changed on disk) reuses nothing.
 *
 * The run's identity is the study's: partial from the start (configuration, seeds, code version,
 * runtime), given its dataset snapshot hash once Phase C has fixed the data, and finalised — which gives
 * the run id — once the jobs' and reconstructions' identities are fixed. A study run again in the same
 * root starts from a partial identity again: its configuration or code may have changed.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import { CoreErrorCode, createRun, openRun, readRunManifest, updateRunManifest, RUN_MANIFEST_FILE, type Run, type RunIdentity, type RunManifest, type StagePlan } from "@studykit/core";
import { STUDY_LAYOUT } from "../study-layout.js";

/** The phases that run once per replicate. */
export type ReplicatePhase = "C" | "D" | "E" | "F";

/** Run-manifest stage of `phase` for `replicate`: `C` for replicate 0, `C-r2` for replicate 2. */
export function studyStageName(phase: ReplicatePhase, replicate: number): string {
  return replicate === 0 ? phase : `${phase}-r${replicate}`;
}

/** Phase E's manifest (core's training manifest), relative to a replicate's root. */
const TRAINING_MANIFEST = path.posix.join(STUDY_LAYOUT.trainingDir, "training_manifest.json");

/** A replicate-relative layout path placed under replicate `replicate`'s root. */
function underReplicate(replicate: number, file: string): string {
  const prefix = STUDY_LAYOUT.replicateRoot(replicate);
  return prefix === "" ? file : path.posix.join(prefix, file);
}

/**
 * The study's stages in the order they run: C, D, E of every replicate, F of every replicate (when the
 * study reconstructs iteratively), then G, which reads all of them.
 */
export function studyRunStages(replicates: number): StagePlan[] {
  const stages: StagePlan[] = [];
  const replicateIndices = Array.from({ length: replicates }, (_, index) => index);
  for (const r of replicateIndices) {
    const c = studyStageName("C", r);
    const d = studyStageName("D", r);
    stages.push({ name: c, artifacts: { manifest: underReplicate(r, STUDY_LAYOUT.phaseCManifest) } });
    stages.push({ name: d, dependsOn: [c], artifacts: { manifest: underReplicate(r, STUDY_LAYOUT.phaseDManifest) } });
    stages.push({ name: studyStageName("E", r), dependsOn: [c, d], artifacts: { manifest: underReplicate(r, TRAINING_MANIFEST) } });
  }
  for (const r of replicateIndices) {
    stages.push({ name: studyStageName("F", r), dependsOn: [studyStageName("C", r), studyStageName("D", r)], artifacts: { manifest: underReplicate(r, STUDY_LAYOUT.phaseFManifest) } });
  }
  const comparisons = Object.fromEntries(replicateIndices.map((r) => [r === 0 ? "comparison" : `comparison-r${r}`, underReplicate(r, STUDY_LAYOUT.comparisonManifest)]));
  stages.push({
    name: "G",
    dependsOn: stages.map((stage) => stage.name),
    artifacts: { ...comparisons, report: STUDY_LAYOUT.reportMarkdown, reportHtml: STUDY_LAYOUT.reportHtml },
  });
  return stages;
}

/** An artifact plan's path (a string plan is the path). */
function artifactPath(plan: StagePlan["artifacts"][string]): string {
  return typeof plan === "string" ? plan : plan.path;
}

/** Planned artifact paths of every stage, by stage name (what `study_manifest.json` lists up front). */
export function plannedArtifacts(stages: readonly StagePlan[]): Record<string, string[]> {
  return Object.fromEntries(stages.map((stage) => [stage.name, Object.values(stage.artifacts).map(artifactPath)]));
}

/** The recorded stage matches the planned one: same upstream stages, same artifact names and paths. */
function sameStage(record: RunManifest["stages"][string] | undefined, stage: StagePlan): boolean {
  if (!record || record.dependsOn.join(",") !== (stage.dependsOn ?? []).join(",")) return false;
  const planned = Object.entries(stage.artifacts).map(([artifact, plan]) => [artifact, artifactPath(plan)] as const);
  return planned.length === Object.keys(record.artifacts).length && planned.every(([artifact, file]) => record.artifacts[artifact]?.path === file);
}

function sameLayout(manifest: RunManifest, stages: readonly StagePlan[]): boolean {
  const recorded = Object.entries(manifest.stages).sort(([, a], [, b]) => a.index - b.index);
  return recorded.length === stages.length && stages.every((stage, index) => recorded[index]![0] === stage.name && sameStage(recorded[index]![1], stage));
}

/**
 * Opens the study's run in `root`, or creates it. An existing run with the same stages and artifact paths
 * keeps its stage records (what the phases reuse through) and takes `identity` as its new partial
 * identity. A run of another layout (another replicate count) is replaced by a new one that keeps the
 * records of the stages planned exactly as before (replicate 0's, say); one that cannot be read back is
 * replaced with nothing to reuse. Either is said in `log`. `keepIdentity` (planning) leaves
 * an existing run's identity and run id as recorded.
 */
export async function openStudyRun(root: string, stages: readonly StagePlan[], identity: RunIdentity, config: Record<string, unknown>, log: (line: string) => void, options: { keepIdentity?: boolean } = {}): Promise<Run> {
  const plan = { stages, identity, config: config as RunManifest["config"], mode: "strict" as const };
  let existing: RunManifest;
  try {
    existing = await readRunManifest(root);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === CoreErrorCode.RunNotFound) return createRun(root, plan);
    log(`study: ${RUN_MANIFEST_FILE} cannot be read back (${String(code ?? "error")}: ${(error as Error).message.split("\n")[0]}); starting a new run, nothing is reused from it`);
    return replaceRun(root, plan);
  }
  if (!sameLayout(existing, stages)) {
    // Another replicate count: a new run, which keeps the record of every stage planned as before.
    const kept = stages.filter((stage) => sameStage(existing.stages[stage.name], stage)).map((stage) => stage.name);
    log(`study: ${RUN_MANIFEST_FILE} records stages ${Object.keys(existing.stages).join(", ")}; starting a run of stages ${stages.map((stage) => stage.name).join(", ")}${kept.length > 0 ? ` that keeps the records of ${kept.join(", ")}` : ""}`);
    const run = await replaceRun(root, plan);
    if (kept.length > 0) {
      await updateRunManifest(root, (manifest) => {
        for (const name of kept) manifest.stages[name] = { ...existing.stages[name]!, index: manifest.stages[name]!.index };
      });
    }
    return run;
  }
  if (!options.keepIdentity) {
    await updateRunManifest(root, (manifest) => {
      withPartialIdentity(manifest, identity);
      manifest.config = plan.config;
    });
  }
  return openRun(root);
}

// A partial identity and no run id (it is given again when the identity is finalised).
function withPartialIdentity(manifest: RunManifest, identity: RunIdentity): void {
  manifest.identity = identity.toJSON() as RunManifest["identity"];
  manifest.runId = null;
  manifest.runIdSource = null;
}

// createRun never overwrites a manifest: the outdated one goes first (a study killed in between creates it next time).
async function replaceRun(root: string, plan: Parameters<typeof createRun>[1]): Promise<Run> {
  await rm(path.join(root, RUN_MANIFEST_FILE), { force: true });
  return createRun(root, plan);
}

/** Replaces the run's partial identity (e.g. with the dataset snapshot hash once Phase C has fixed the data). */
export async function setStudyIdentity(run: Run, identity: RunIdentity): Promise<void> {
  await run.update((manifest) => withPartialIdentity(manifest, identity));
}
