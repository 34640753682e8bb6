/**
 * `study` suite: wall time of the reference study's quick preset, per phase (C simulate, D overlap views,
 * E train, F iterative reconstruction, G compare and report), as the study pipeline records it in
 * `study_manifest.json`, from a fresh output folder each run. One run: the
 * preset takes minutes, and its phases are what a user waits for. `--quick` runs a tiny configuration
 * (one dose, one view, one epoch) to check the wiring only.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import * as study from "@studykit/study";
import { absent, GroupBuilder } from "../measure.js";
import type { SuiteResult } from "../../results.js";
import type { SuiteContext } from "../suite-context.js";

/** The study API this suite drives; looked up at run time so it is reported absent until the study exports it. */
interface StudyApi {
  presetConfig(name: "quick" | "full"): unknown;
  mergeStudyConfig(base: unknown, overrides: unknown, source?: string): unknown;
  runStudyPipeline(options: { config: unknown; preset: string; out: string; log?: (line: string) => void; progress?: string }): Promise<{
    readonly manifest: { readonly timings?: Readonly<Record<string, number>>; readonly runtime?: { readonly engine?: string; readonly backend?: string }; readonly phases?: { readonly E?: { readonly counts?: unknown } } };
    readonly failed: boolean;
  }>;
}

function studyApi(): StudyApi {
  const api = study as unknown as Partial<StudyApi>;
  for (const name of ["presetConfig", "mergeStudyConfig", "runStudyPipeline"] as const) {
    if (typeof api[name] !== "function") absent(`@studykit/study does not export ${name} yet`);
  }
  return api as StudyApi;
}

/** Smallest configuration that still goes through every phase (smoke runs only). */
const TINY_OVERRIDES = {
  object: { height: 64, width: 64 },
  probe: { size: 16 },
  scan: { count: 120 },
  doses: [1e4],
  views: ["baseline", "dense"],
  overlap: { minCount: 4 },
  training: { epochs: 1, maxTrainSamples: 64 },
  compare: { stitchWindow: 8 },
};

const PHASES: ReadonlyArray<readonly [string, string]> = [
  ["phaseC_ms", "Phase C: simulate diffraction datasets"],
  ["phaseD_ms", "Phase D: overlap views and groups"],
  ["phaseE_ms", "Phase E: train every job"],
  ["phaseF_ms", "Phase F: iterative reconstruction (ePIE) of every test view"],
  ["phaseG_ms", "Phase G: compare and report"],
  ["total_ms", "Whole study"],
];

export async function runStudySuite(context: SuiteContext): Promise<SuiteResult> {
  const started = performance.now();
  const title = context.quick ? "Reference study, tiny smoke configuration, wall time per phase (one run)" : "Reference study, quick preset (`studykit study run --preset quick`), wall time per phase (one run)";
  const group = new GroupBuilder({ id: "study-quick-preset", title, kind: "time", log: context.log });
  const notes: string[] = [];
  let timings: Readonly<Record<string, number>> | null = null;
  let unavailable: { status: "absent" | "failed"; reason: string } | null = null;
  try {
    const api = studyApi();
    const preset = api.presetConfig("quick");
    const config = context.quick ? api.mergeStudyConfig(preset, TINY_OVERRIDES, "bench --quick") : preset;
    // A fresh output folder for every run: with `--runs K` the scratch folder is shared, and a study run
    // again into the same folder would reuse its jobs and time nothing.
    const out = await mkdtemp(join(context.scratchDir, "study-"));
    let result: Awaited<ReturnType<StudyApi["runStudyPipeline"]>>;
    try {
      result = await api.runStudyPipeline({ config, preset: context.quick ? "custom" : "quick", out, log: (line) => context.log(`  | ${line}`), progress: "silent" });
    } finally {
      await rm(out, { recursive: true, force: true });
    }
    if (result.failed) throw new Error("the study reported a failed job; see its manifest");
    const counts = result.manifest.phases?.E?.counts as { reused?: number } | null | undefined;
    if (counts?.reused) throw new Error(`the study reused ${counts.reused} trained job(s) instead of training them: the suite must time a fresh run`);
    timings = result.manifest.timings ?? null;
    const runtime = result.manifest.runtime;
    if (runtime?.engine) notes.push(`Phase E trained on ${runtime.engine} (${runtime.backend ?? "?"}), the study's \`auto\` choice on this machine.`);
    if (!timings) throw new Error("the study manifest has no timings");
  } catch (error) {
    const isAbsent = error instanceof Error && error.name === "ContenderAbsentError";
    unavailable = { status: isAbsent ? "absent" : "failed", reason: error instanceof Error ? error.message.split("\n")[0]! : String(error) };
  }
  for (const [key, label] of PHASES) {
    const spec = { id: key.replace(/_ms$/, ""), label, role: "ours" as const };
    if (unavailable) group.addUnavailable(spec, unavailable.status, unavailable.reason);
    else if (typeof timings?.[key] === "number") group.addSamples(spec, [timings[key] / 1000]);
    else group.addUnavailable(spec, "absent", `the study manifest records no ${key}`);
  }
  notes.push("One run, no warm-up: the preset takes minutes and its phases are what a user waits for. Outputs go to the OS temp folder and are removed after the run.");
  return { suite: "study", wallSeconds: (performance.now() - started) / 1000, groups: [group.finish()], notes };
}
