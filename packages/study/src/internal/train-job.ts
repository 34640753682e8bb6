/**
 * Phase E's job runner: `@studykit/core`'s runner loads this module in a child process per job and calls
 * {@link trainStudyJob}. It reads the job's dataset through the ptycho schema (the legacy `diffraction`
 * key arrives as `diff3d`), forms the model's channels-last inputs (gridsize-2 views use the Phase D
 * groups) and trains with `@studykit/trainer`, which writes the bundle: a `supervised` job against the
 * ground-truth patches, a `pinn` job with the physics loss (the dataset's probe, Poisson NLL of the
 * measured amplitudes; at gridsize 2 the group's patches share one canvas at the Phase D offsets), which
 * needs no ground truth.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { SeededRandom, type RunnerContext } from "@studykit/core";
import { datasetSnapshotHash, loadDataset } from "@studykit/data";
import { DIHEDRAL_PROBE_TOLERANCE, dihedralProbeMismatch, inMemoryTrainingData, train, type LossDescription } from "@studykit/trainer";
import { ptychoModelPreset } from "../model-presets.js";
import { TrainingInputError, TrainingInputErrorCode } from "../errors.js";
import { groupedInputs, groupedTargets } from "./model-tensors.js";
import type { GroupsFile } from "../overlap-phase.js";
import type { StudyJobConfig, StudyJobOutput } from "../study-job.js";

/** Picks `limit` groups (seeded, order kept) when a job caps its training samples; returns the kept indices. */
function capGroups(count: number, limit: number | null, seed: number): number[] {
  const all = Array.from({ length: count }, (_, index) => index);
  if (limit === null || count <= limit) return all;
  const random = SeededRandom.derive(seed, "training-subset");
  const indices = all;
  for (let index = indices.length - 1; index > 0; index--) {
    const other = random.nextInt(index + 1);
    [indices[index], indices[other]] = [indices[other]!, indices[index]!];
  }
  return indices.slice(0, limit).sort((a, b) => a - b);
}

/** The probe of a dataset (`probeGuess`, complex, N×N) times `scale`, as the physics loss takes it. */
function probeOf(file: string, probe: { shape: readonly number[]; data: ArrayLike<number>; complex?: boolean } | undefined, size: number, scale: number) {
  if (!probe || probe.shape.length !== 2 || probe.shape[0] !== size || probe.shape[1] !== size || !probe.complex) {
    throw new TrainingInputError(TrainingInputErrorCode.SchemaMissingKey, `${file}: the PINN's physics loss needs probeGuess, a complex ${size}×${size} array${probe ? ` (found ${probe.shape.join("×")}${probe.complex ? "" : ", real"})` : ""}`);
  }
  const real = new Float32Array(size * size);
  const imag = new Float32Array(size * size);
  for (let index = 0; index < size * size; index++) {
    real[index] = Number(probe.data[2 * index]) * scale;
    imag[index] = Number(probe.data[2 * index + 1]) * scale;
  }
  return { height: size, width: size, real, imag };
}

/** Trains one (dose, view) model; see the module doc. */
export async function trainStudyJob(context: RunnerContext): Promise<StudyJobOutput> {
  const config = context.config as unknown as StudyJobConfig;
  const trainFile = context.job.inputs["train"];
  if (!trainFile) throw new TrainingInputError(TrainingInputErrorCode.MissingInput, `job ${context.job.id} has no train input`);
  const dataset = loadDataset(trainFile, { schema: "ptycho" });
  for (const warning of dataset.warnings) context.log.warn(warning);
  const diffraction = dataset.arrays["diff3d"];
  const patches = dataset.arrays["Y"];
  const supervised = config.method === "supervised";
  if (!diffraction || (supervised && !patches)) {
    throw new TrainingInputError(TrainingInputErrorCode.SchemaMissingKey, `${trainFile} lacks ${!diffraction ? "diff3d (diffraction)" : "Y"}: ${supervised ? "supervised training needs both" : "training needs the diffraction"}`);
  }
  const count = diffraction.shape[0]!;
  const size = diffraction.shape[1]!;
  if (size !== config.size) throw new TrainingInputError(TrainingInputErrorCode.TrainingData, `${trainFile}: patterns are ${size}×${size} but the job expects ${config.size}×${config.size}`);

  let groups: number[][];
  let offsets: number[][][] | null = null;
  if (config.gridsize === 1) {
    groups = Array.from({ length: count }, (_, index) => [index]);
  } else {
    const groupsFile = context.job.inputs["groups"];
    if (!groupsFile) throw new TrainingInputError(TrainingInputErrorCode.MissingInput, `job ${context.job.id} (gridsize 2) has no groups input`);
    const parsed = JSON.parse(readFileSync(groupsFile, "utf8")) as GroupsFile;
    groups = parsed.groups.map((group) => [...group]);
    const bad = groups.find((group) => group.length !== config.channels || group.some((row) => !Number.isInteger(row) || row < 0 || row >= count));
    if (bad) throw new TrainingInputError(TrainingInputErrorCode.TrainingData, `${groupsFile}: group ${JSON.stringify(bad)} does not hold ${config.channels} rows of ${trainFile} (0..${count - 1})`);
    offsets = (parsed.offsets ?? []).map((group) => group.map((member) => [...member]));
    if (offsets.length !== groups.length) throw new TrainingInputError(TrainingInputErrorCode.TrainingData, `${groupsFile}: ${offsets.length} offset lists for ${groups.length} groups; rerun Phase D (--force) to rebuild the groups`);
  }
  const kept = capGroups(groups.length, config.maxTrainSamples, config.seed);
  groups = kept.map((index) => groups[index]!);
  if (offsets !== null) offsets = kept.map((index) => offsets![index]!);

  const diffractionData = Float32Array.from(diffraction.data as Float32Array);
  const inputs = groupedInputs(diffractionData, size, groups, config.inputScale);
  const targets = supervised ? groupedTargets(patches!.data as Float32Array | Float64Array, size, groups, config.amplitudeScale) : null;
  const physics = config.physics;
  if (!supervised && physics === null) throw new TrainingInputError(TrainingInputErrorCode.TrainingData, `job ${context.job.id}: a pinn job needs its physics settings in the job config`);
  const overlap = !supervised && config.gridsize > 1;
  if (overlap && physics!.canvasPadding === null) throw new TrainingInputError(TrainingInputErrorCode.TrainingData, `job ${context.job.id}: a gridsize-${config.gridsize} pinn job needs a canvas padding`);
  const loss: LossDescription = supervised
    ? { kind: "supervised", metric: "mae", amplitudeWeight: 1, phaseWeight: 1 }
    : {
        kind: "physics",
        objective: physics!.objective,
        probe: probeOf(trainFile, dataset.arrays["probeGuess"] as never, size, physics!.probeScale),
        intensityScale: physics!.intensityScale,
        fftshift: true,
        ...(overlap ? { overlap: { canvasPadding: physics!.canvasPadding!, weighting: physics!.overlapWeighting ?? "uniform" } } : {}),
      };
  if (config.augmentation === "dihedral") {
    // The trainer checks the physics loss's probe; a supervised job's samples are physical under the maps
    // only when the probe that made them is symmetric too.
    const mismatch = dihedralProbeMismatch(probeOf(trainFile, dataset.arrays["probeGuess"] as never, size, 1));
    if (mismatch > DIHEDRAL_PROBE_TOLERANCE) {
      throw new TrainingInputError(TrainingInputErrorCode.TrainingData, `${trainFile}: training.augmentation "dihedral" needs a probe (probeGuess) that rotations and reflections about pixel (N/2, N/2) leave unchanged; this one changes by up to ${mismatch.toExponential(2)} of its peak — set training.augmentation to "none" for this data`);
    }
  }
  const offsetData = overlap ? Float32Array.from(offsets!.flat(2)) : null;
  const modelOptions = { size, channels: config.channels, seed: config.seed, name: `ptycho-${config.model}-${supervised ? "" : "pinn-"}gs${config.gridsize}`, ...(config.perPattern ? { perPattern: true } : {}) };
  const description = ptychoModelPreset(config.model)(modelOptions);
  context.log(`training ${description.name} (${config.method}) on ${groups.length} samples of ${size}×${size}×${config.channels} (${config.engine}/${config.backend})`);

  // The bundle carries the job's final identity (the record the training manifest holds, plus its run id),
  // with the code version the study captured once at its start: a commit landing while the study runs
  // cannot change what a bundle says. Only a job run outside a planned study lets train() build one.
  const identity = context.job.identity ? { ...context.job.identity.fields, runId: context.job.identity.runId } : undefined;
  context.log(identity ? `bundle identity: final, run id ${identity.runId}` : "bundle identity: none planned for this job; train() builds a partial one (no run id)");

  const started = performance.now();
  const result = await train({
    description,
    data: inMemoryTrainingData({
      sampleShape: [size, size, config.channels],
      inputs,
      ...(targets ? { amplitude: targets.amplitude, phase: targets.phase } : {}),
      ...(offsetData ? { offsets: offsetData } : {}),
    }),
    loss,
    ...(config.earlyStopping ? { earlyStopping: { ...config.earlyStopping, restoreBestWeights: true } } : {}),
    // Jobs planned before the schedule was a study option carry none: constant.
    ...(config.schedule && config.schedule.kind !== "constant" ? { schedule: config.schedule } : {}),
    ...(config.augmentation === "dihedral" ? { augmentation: "dihedral" as const } : {}),
    epochs: config.epochs,
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    validationSplit: config.validationFraction,
    seeds: { shuffle: config.seed, dropout: config.seed },
    engine: config.engine === "onnxruntime" ? "onnxruntime" : "tfjs",
    // A TF.js back end, or the ONNX Runtime execution provider the job's identity records.
    backend: config.backend,
    ...(config.onnxThreads ? { onnxThreads: config.onnxThreads } : {}),
    outDir: context.job.artifactDir,
    signal: context.signal,
    progress: false,
    ...(identity ? { identity } : { datasetSnapshotHash: datasetSnapshotHash(trainFile) }),
    onEpoch: (metrics) =>
      context.log(`epoch ${metrics.epoch}/${config.epochs}: loss ${metrics.loss.toFixed(5)}${metrics.valLoss === null ? "" : `, validation ${metrics.valLoss.toFixed(5)}`}, ${metrics.samplesPerSecond.toFixed(0)} samples/s`),
    onWarning: (warning) => context.log.warn(`${warning.code}: ${warning.message}`),
  });
  const seconds = (performance.now() - started) / 1000;
  const last = result.history[result.history.length - 1];
  return {
    bundlePath: path.relative(context.job.artifactDir, result.bundlePath).split(path.sep).join("/"),
    metrics: {
      finalLoss: last?.loss ?? null,
      finalValidationLoss: last?.valLoss ?? null,
      trainingSamples: groups.length,
      epochs: result.epochsRun,
      samplesPerSecond: seconds > 0 ? (groups.length * result.epochsRun) / seconds : 0,
      stoppedEarly: result.stoppedEarly,
      keptEpoch: result.keptEpoch,
    },
    history: result.history.map((entry) => ({ epoch: entry.epoch, loss: entry.loss, validationLoss: entry.valLoss })),
    engine: { engine: result.engine, backend: result.backend },
    // Whether the bundle holds model.onnx (compare falls back to compiling the description when not).
    onnxExport: result.onnxExport,
    // "given": the bundle holds the planned final identity; "built": a partial one (no planned identity).
    identitySource: result.identitySource,
  };
}
