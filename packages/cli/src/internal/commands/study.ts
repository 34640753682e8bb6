/**
 * `studykit study run|plan|compare`: the ptychography dose/overlap study.
 *
 * - `run` simulates (Phase C), cuts the overlap views (Phase D), trains the job matrix (Phase E),
 *   reconstructs every dose × view × split iteratively (Phase F) and compares the models and Phase F in a
 *   report (Phase G); it prints each phase's progress and time, the skip summary, the wall time and where
 *   the report is. `--dry-run` stops after planning the training jobs.
 * - `plan` prepares the data (Phases C and D, which the plan needs) and prints which jobs would run, which
 *   would be reused (and why) and which are skipped (and why), without training.
 *
 * - `compare A B` is `studykit runs compare` (see runs.ts) for two study outputs.
 *
 * The configuration is the preset (`quick` by default), then `--config FILE` (a JSON object deep-merged
 * over it), then `--replicates R`, then `--object-from`. `--dose`, `--view`, `--gridsize`, `--method` and `--job-id` filter the job matrix
 * without changing job ids.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import type { JobFilters } from "@studykit/core";
import type { StudyConfig } from "@studykit/study";
import type { CliContext } from "../../cli-context.js";
import { UsageError } from "../../errors.js";
import { parseJobConcurrency } from "../integer-flags.js";
import { registerCompareCommand } from "./runs.js";

// The study pulls in the trainer (TF.js, ONNX Runtime): load it only when a study command runs, so the
// other commands start fast.
const loadStudy = () => import("@studykit/study");
const loadCore = () => import("@studykit/core");

interface StudyFlags {
  preset?: string;
  config?: string;
  out?: string;
  artifactRoot?: string;
  objectFrom?: string;
  reuseCoordinates?: boolean;
  engine?: string;
  backend?: string;
  concurrency?: number;
  dryRun?: boolean;
  dose?: string[];
  view?: string[];
  gridsize?: string[];
  method?: string[];
  jobId?: string[];
  strict?: boolean;
  force?: boolean;
  failFast?: boolean;
  json?: boolean;
  executor?: string;
  redis?: string;
  replicates?: string;
  phaseCRoot?: string;
  phaseDRoot?: string;
}

/** `--dose 1e3 1e4` and `--dose 1e3,1e4` both work. */
function splitList(values: readonly string[] | undefined): string[] | undefined {
  if (!values) return undefined;
  const out = values.flatMap((value) => value.split(",")).map((value) => value.trim()).filter((value) => value.length > 0);
  return out.length > 0 ? out : undefined;
}

async function resolveConfig(flags: StudyFlags, cwd: string): Promise<{ config: StudyConfig; preset: string }> {
  const { configForObjectFile, mergeStudyConfig, parsePresetName, presetConfig, StudyConfigError } = await loadStudy();
  const preset = parsePresetName(flags.preset ?? "quick");
  let config = presetConfig(preset);
  let label: string = preset;
  if (flags.config) {
    const file = path.resolve(cwd, flags.config);
    if (!existsSync(file)) throw new StudyConfigError(file, ["the file does not exist: pass a JSON file with the fields to override (see `studykit study run --help`)"]);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
      throw new StudyConfigError(file, [`not valid JSON: ${(error as Error).message}`]);
    }
    config = mergeStudyConfig(config, parsed, file);
    label = `${preset}+${path.basename(file)}`;
  }
  if (flags.replicates !== undefined) {
    // Validated by the configuration schema: a whole number from 1 to 100, else E_STUDY_CONFIG naming the flag.
    config = mergeStudyConfig(config, { replicates: flags.replicates.trim() === "" ? Number.NaN : Number(flags.replicates) }, `--replicates ${flags.replicates}`);
    label = `${label}+replicates${config.replicates}`;
  }
  if (flags.objectFrom) {
    config = configForObjectFile(config, path.resolve(cwd, flags.objectFrom), flags.reuseCoordinates ?? false);
    label = `${label}+object-from`;
  } else if (flags.reuseCoordinates) {
    throw new UsageError("--reuse-coordinates needs --object-from FILE (the coordinates come from that file)");
  }
  return { config, preset: label };
}

function filtersOf(flags: StudyFlags): JobFilters {
  const dose = splitList(flags.dose);
  const view = splitList(flags.view);
  const gridsize = splitList(flags.gridsize);
  const method = splitList(flags.method);
  const jobId = splitList(flags.jobId);
  return { ...(dose ? { dose } : {}), ...(view ? { view } : {}), ...(gridsize ? { gridsize } : {}), ...(method ? { params: { method } } : {}), ...(jobId ? { jobId } : {}) };
}

function addSharedOptions(command: Command): Command {
  return command
    .option("--preset <name>", "quick (minutes on a laptop, the default) or full (publishable)")
    .option("--config <file>", "JSON object deep-merged over the preset (e.g. {\"doses\": [1e3, 1e4]})")
    .option("--out <dir>", "output root for every phase (default study-out/<preset>)")
    .option("--artifact-root <dir>", "same as --out")
    .option("--object-from <file>", "npz with objectGuess and probeGuess to simulate from (instead of the procedural object)")
    .option("--reuse-coordinates", "with --object-from: use the file's xcoords/ycoords as scan positions")
    .option("--replicates <R>", "replicates of every job and reconstruction (noise, groups and network seeds re-drawn; default: the preset's, 1 in quick, 3 in full)")
    .option("--phase-c-root <dir>", "reuse an earlier study's Phase C data (its output root or phaseC/ directory) instead of simulating; it must match this configuration")
    .option("--phase-d-root <dir>", "reuse an earlier study's Phase D overlap views (its output root or phaseD/ directory); they must come from the Phase C data in use")
    .option("--engine <name>", "auto (ONNX Runtime when it loads, else TF.js), onnxruntime or tfjs", "auto")
    .option("--backend <name>", "TF.js back end (auto, tensorflow-gpu, tensorflow, wasm, cpu) or ONNX Runtime provider (cpu, cuda)", "auto")
    .option("--dose <values...>", "only jobs at these doses (filter; ids unchanged)")
    .option("--view <names...>", "only these views: baseline, dense, sparse")
    .option("--gridsize <values...>", "only these gridsizes (1, 2)")
    .option("--method <names...>", "only these training methods: supervised, pinn")
    .option("--job-id <globs...>", "only jobs whose id matches a glob (e.g. 'dose_1000/*')")
    .option("--strict", "a rejected view (missing inputs) is an error (E_MISSING_INPUT) instead of a skip event")
    .option("--force", "rerun every phase and job even when reusable results exist")
    .option("--json", "print JSON instead of text");
}

/** `--phase-c-root` / `--phase-d-root`, resolved against the working directory. */
function phaseRootsOf(flags: StudyFlags, cwd: string): { phaseCRoot?: string; phaseDRoot?: string } {
  return { ...(flags.phaseCRoot ? { phaseCRoot: path.resolve(cwd, flags.phaseCRoot) } : {}), ...(flags.phaseDRoot ? { phaseDRoot: path.resolve(cwd, flags.phaseDRoot) } : {}) };
}

function outDirOf(flags: StudyFlags, preset: string, cwd: string): string {
  const chosen = flags.out ?? flags.artifactRoot;
  if (flags.out && flags.artifactRoot && path.resolve(cwd, flags.out) !== path.resolve(cwd, flags.artifactRoot)) {
    throw new UsageError(`--out ${flags.out} and --artifact-root ${flags.artifactRoot} name different directories: give one`);
  }
  return path.resolve(cwd, chosen ?? path.join("study-out", preset.split("+")[0]!));
}

export function registerStudyCommand(program: Command, context: CliContext): void {
  const study = program.command("study").description("the ptychography dose/overlap study: simulate, overlap views, train, reconstruct iteratively, compare, report");

  addSharedOptions(study.command("run").description("run the study end to end and write the report"))
    .option("--concurrency <n>", "training jobs at once, or auto: one per core (default 1; above 1 each ONNX Runtime job gets ⌊cores / n⌋ threads, recorded in the identities)", parseJobConcurrency)
    .option("--dry-run", "plan the training jobs (data is prepared), train nothing, write no report")
    .option("--fail-fast", "stop starting jobs after the first failure")
    .option("--executor <name>", "local (child processes here, the default) or bullmq (studykit worker processes, see --redis)", "local")
    .option("--redis <url>", "Redis URL of the BullMQ queue (with --executor bullmq)")
    .action(async (flags: StudyFlags) => {
      if (flags.executor !== "local" && flags.executor !== "bullmq") throw new UsageError(`unknown executor ${JSON.stringify(flags.executor)}: use local or bullmq`);
      if (flags.redis && flags.executor !== "bullmq") throw new UsageError("--redis is the queue of the BullMQ executor: add --executor bullmq, or drop --redis");
      const started = performance.now();
      const { config, preset } = await resolveConfig(flags, context.cwd);
      const out = outDirOf(flags, preset, context.cwd);
      const { runStudyPipeline } = await loadStudy();
      const { formatSkipSummary } = await loadCore();
      const log = (line: string): void => context.stderr(`${line}\n`);
      const result = await runStudyPipeline({
        config,
        preset,
        out,
        engine: flags.engine ?? "auto",
        backend: flags.backend ?? "auto",
        concurrency: flags.concurrency ?? 1,
        dryRun: flags.dryRun ?? false,
        force: flags.force ?? false,
        failFast: flags.failFast ?? false,
        strict: flags.strict ?? false,
        filters: filtersOf(flags),
        log,
        progress: flags.json ? "silent" : "auto",
        cancelOnSignals: true,
        executor: flags.executor,
        ...(flags.redis ? { redisUrl: flags.redis } : {}),
        ...phaseRootsOf(flags, context.cwd),
      });
      const seconds = (performance.now() - started) / 1000;
      if (result.failed) context.exitCode = 1;
      if (flags.json) {
        context.stdout(`${JSON.stringify({ ...result.manifest, wallTimeSeconds: seconds, manifestPath: result.manifestPath }, null, 2)}\n`);
        return;
      }
      const counts = result.training?.counts;
      const lines = [
        `study ${result.manifest.runId} (${preset}) ${flags.dryRun ? "planned" : "finished"} in ${seconds.toFixed(1)} s`,
        counts ? `jobs${result.manifest.replicates.length > 0 ? " (replicate 0)" : ""}: ${counts.succeeded} trained, ${counts.reused} reused, ${counts.skipped} skipped, ${counts.failed} failed` : "",
        result.manifest.replicates.length > 0 ? `replicates: ${result.manifest.replicates.length + 1} (replicate 0 at the root, the others under replicates/; the report gives the mean ± 95% interval over them)` : "",
        result.training ? formatSkipSummary(result.training.skipped_views) : "",
        `manifest: ${result.manifestPath}`,
        result.report ? `report: ${result.report.html}\n        ${result.report.markdown}` : "report: none (dry run)",
      ];
      context.stdout(`${lines.filter((line) => line.length > 0).join("\n")}\n`);
    });

  // Two study outputs: the comparability verdict by mode, then the metric deltas (B − A).
  registerCompareCommand(study, context);

  addSharedOptions(study.command("plan").description("prepare the data and print which jobs would run, be reused or be skipped (and why)")).action(async (flags: StudyFlags) => {
    const { config, preset } = await resolveConfig(flags, context.cwd);
    const out = outDirOf(flags, preset, context.cwd);
    const { planStudyPipeline } = await loadStudy();
    const { formatPlanSummary, formatSkipSummary } = await loadCore();
    const { plan, replicates } = await planStudyPipeline({
      config,
      preset,
      out,
      engine: flags.engine ?? "auto",
      backend: flags.backend ?? "auto",
      force: flags.force ?? false,
      strict: flags.strict ?? false,
      filters: filtersOf(flags),
      log: (line) => context.stderr(`${line}\n`),
      ...phaseRootsOf(flags, context.cwd),
    });
    const jobsOf = (planned: typeof plan) => planned.jobs.map((entry) => ({ id: entry.job.id, action: entry.action, reason: entry.reason, params: entry.job.params, runId: entry.identity.runId }));
    if (flags.json) {
      // Replicate 0 at the top level (as with one replicate); every replicate under `replicates` when there are several.
      const others = replicates.length > 1 ? { replicates: replicates.map((entry) => ({ replicate: entry.replicate, seed: entry.seed, artifactRoot: entry.plan.artifactRoot, counts: entry.plan.counts, jobs: jobsOf(entry.plan), skipped: entry.plan.skipped })) } : {};
      context.stdout(`${JSON.stringify({ artifactRoot: plan.artifactRoot, counts: plan.counts, jobs: jobsOf(plan), skipped: plan.skipped, ...others }, null, 2)}\n`);
      return;
    }
    if (replicates.length === 1) {
      context.stdout(`${formatPlanSummary(plan)}\n${formatSkipSummary(plan.skipped)}\n`);
      return;
    }
    for (const entry of replicates) context.stdout(`replicate ${entry.replicate} (seed ${entry.seed}):\n${formatPlanSummary(entry.plan)}\n${formatSkipSummary(entry.plan.skipped)}\n`);
  });
}
