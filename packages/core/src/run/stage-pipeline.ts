/**
 * Sequential stage pipelines (e.g. pre-training then fine-tuning) on top of the run manifest contract.
 *
 * The manifest, with every stage's artifact paths, is written before the first stage runs. Stages run one
 * after another; a stage starts only after the previous stage's completion has been written to the
 * manifest (atomically, durably), and it can reach an upstream stage's outputs only through
 * `context.upstream()`, which reads the manifest from disk and accepts an upstream artifact only once its
 * stage is recorded as succeeded. So "stage 2 reads stage 1's results before they are written" cannot
 * happen by construction, whether stage 2 runs right after stage 1, alone in a later process, or not at
 * all because stage 1 failed.
 */
import type { JsonValue } from "../identity/canonical-json.js";
import { CoreError, CoreErrorCode } from "../errors.js";
import type { RunManifest } from "./run-manifest-schema.js";
import { createRun, openRun, type Run, type RunOptions, type RunPlan, type StagePlan } from "./run-manifest.js";
import type { FinalIdentity, IdentityMode, JsonObject, PartialIdentityInput, RunIdentity } from "../identity/run-identity.js";
import type { RequireUpstreamOptions } from "./stage.js";

/** What a stage's `run` function gets. */
export interface StageContext {
  /** This stage's name. */
  readonly stage: string;
  /** The run root (absolute). */
  readonly root: string;
  /** The run's configuration, as recorded in the manifest. */
  readonly config: JsonObject;
  /** Absolute paths of this stage's own artifacts (its directories exist). */
  readonly paths: Readonly<Record<string, string>>;
  /** The run's identity as of now. */
  readonly identity: RunIdentity;
  /** Upstream artifact paths, through the manifest only; `E_MISSING_ARTIFACT` if not produced. */
  upstream(stage: string, options?: RequireUpstreamOptions): Promise<Readonly<Record<string, string>>>;
  upstream(stage: string, artifact: string, options?: RequireUpstreamOptions): Promise<string>;
  /** The metrics an upstream stage recorded when it completed (after checking it completed). */
  upstreamMetrics(stage: string): Promise<Readonly<Record<string, JsonValue>>>;
  /** Records progress metrics while the stage runs. */
  recordMetrics(metrics: Readonly<Record<string, JsonValue>>): Promise<void>;
  /** Finalises the run identity once the run's inputs are fixed (see `Run.finalizeIdentity`). */
  finalizeIdentity(featureSignature: JsonValue): Promise<FinalIdentity>;
}

/** What a stage's `run` function may return. */
export interface StageOutcome {
  readonly metrics?: Readonly<Record<string, JsonValue>>;
  readonly outputs?: Readonly<Record<string, { readonly sha256: string }>>;
}

/** A stage of a pipeline: its manifest contract plus the code that produces it. */
export interface PipelineStage extends StagePlan {
  run(context: StageContext): Promise<StageOutcome | void> | StageOutcome | void;
}

/** A pipeline definition. */
export interface PipelineDefinition {
  readonly stages: readonly PipelineStage[];
  readonly identity: RunIdentity | PartialIdentityInput;
  readonly config?: JsonObject;
  readonly mode?: IdentityMode;
}

/** Options of {@link runPipeline}. */
export interface RunPipelineOptions extends RunOptions {
  /** Run only these stages (in plan order); the others must have been run before, for their outputs to exist. */
  readonly only?: readonly string[];
  /**
   * Continue a run whose manifest already exists in `root` (its plan must match this definition's stage
   * and artifact layout), skipping stages recorded as succeeded. Without it, an existing manifest is
   * `E_RUN_EXISTS`.
   */
  readonly resume?: boolean;
}

/** Outcome of {@link runPipeline}. */
export interface PipelineResult {
  readonly run: Run;
  /** The manifest after the last stage. */
  readonly manifest: RunManifest;
  /** Stable run id, or the best-effort fallback; null in strict mode when no stage finalised the identity. */
  readonly runId: string | null;
  readonly runIdSource: "final" | "fallback" | null;
  /** Stages run by this call, in order. */
  readonly ran: readonly string[];
}

function planOf(definition: PipelineDefinition): RunPlan {
  const stages = definition.stages.map(({ name, artifacts, dependsOn }) => ({ name, artifacts, ...(dependsOn ? { dependsOn } : {}) }));
  return {
    stages,
    identity: definition.identity,
    ...(definition.config ? { config: definition.config } : {}),
    ...(definition.mode ? { mode: definition.mode } : {}),
  };
}

// On resume the definition must describe the run on disk: same stages, same artifact paths.
function assertSameLayout(manifest: RunManifest, definition: PipelineDefinition, root: string): void {
  const problems: string[] = [];
  const onDisk = Object.keys(manifest.stages);
  const defined = definition.stages.map((stage) => stage.name);
  if (onDisk.join(",") !== defined.join(",")) problems.push(`stages are ${JSON.stringify(onDisk)} in the manifest but ${JSON.stringify(defined)} in the pipeline`);
  for (const stage of definition.stages) {
    const record = manifest.stages[stage.name];
    if (!record) continue;
    for (const [artifactName, plan] of Object.entries(stage.artifacts)) {
      const path = typeof plan === "string" ? plan : plan.path;
      const recorded = record.artifacts[artifactName]?.path;
      if (recorded !== path) problems.push(`${stage.name}.${artifactName} is ${JSON.stringify(recorded)} in the manifest but ${JSON.stringify(path)} in the pipeline`);
    }
  }
  if (problems.length > 0) {
    throw new CoreError(CoreErrorCode.PlanInvalid, `the pipeline does not match the run in ${root}:\n  ${problems.join("\n  ")}\nUse a new run root for a changed pipeline.`);
  }
}

/**
 * Runs a pipeline's stages in order in `root`: writes the manifest contract first, then for each stage
 * begins it (creating its directories), runs it, and records its completion (hashes, metrics, duration)
 * or its failure, in which case the error is rethrown and later stages do not run. In best-effort mode a
 * run whose identity no stage finalised gets a fallback run id, recorded as such.
 */
export async function runPipeline(root: string, definition: PipelineDefinition, options: RunPipelineOptions = {}): Promise<PipelineResult> {
  const known = new Set(definition.stages.map((stage) => stage.name));
  const unknown = (options.only ?? []).filter((name) => !known.has(name));
  if (unknown.length > 0) throw new CoreError(CoreErrorCode.PlanInvalid, `only: unknown stage${unknown.length === 1 ? "" : "s"} ${unknown.map((n) => `"${n}"`).join(", ")}; the pipeline has ${[...known].map((n) => `"${n}"`).join(", ")}`);

  let run: Run;
  if (options.resume) {
    try {
      run = await openRun(root, options);
      assertSameLayout(await run.read(), definition, run.root);
    } catch (error) {
      if ((error as { code?: unknown }).code !== CoreErrorCode.RunNotFound) throw error;
      run = await createRun(root, planOf(definition), options);
    }
  } else {
    run = await createRun(root, planOf(definition), options);
  }

  const ran: string[] = [];
  const recorded = await run.read();
  for (const stage of definition.stages) {
    if (options.only && !options.only.includes(stage.name)) continue;
    if (options.resume && recorded.stages[stage.name]?.status === "succeeded") continue;
    const handle = run.stage(stage.name);
    await handle.begin();
    const context: StageContext = {
      stage: stage.name,
      root: run.root,
      config: recorded.config,
      paths: handle.paths,
      get identity() {
        return run.identity;
      },
      upstream: handle.requireUpstream,
      async upstreamMetrics(upstreamName: string) {
        await handle.requireUpstream(upstreamName);
        return (await run.read()).stages[upstreamName]!.metrics;
      },
      recordMetrics: (metrics) => handle.recordMetrics(metrics),
      finalizeIdentity: (featureSignature) => run.finalizeIdentity(featureSignature),
    };
    try {
      const outcome = await stage.run(context);
      await handle.complete({ ...(outcome?.metrics ? { metrics: outcome.metrics } : {}), ...(outcome?.outputs ? { outputs: outcome.outputs } : {}) });
    } catch (error) {
      await handle.fail(error);
      throw error;
    }
    ran.push(stage.name);
  }

  let manifest = await run.read();
  if (manifest.runIdSource === null && run.mode === "best-effort") {
    await run.resolveRunId();
    manifest = await run.read();
  }
  return { run, manifest, runId: manifest.runId, runIdSource: manifest.runIdSource, ran };
}
