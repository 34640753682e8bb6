/**
 * The contract between the study's pipeline (parent) and its training job runner (a child process per
 * job, started by `@studykit/core`'s runner): the job config every training job receives. It is JSON and
 * lands, hashed, in the job's run identity.
 */
import type { OnnxThreadLayout, PhysicsLoss } from "@studykit/trainer";
import type { PtychoModelName } from "./model-presets.js";
import type { StudyMethodName, StudyViewName } from "./study-config.js";

/** A training job's configuration. */
export interface StudyJobConfig {
  readonly study: "ptycho-dose-overlap";
  readonly dose: number;
  readonly view: StudyViewName;
  /** `supervised` (targets: the ground-truth patches) or `pinn` (the physics loss, no targets). */
  readonly method: StudyMethodName;
  readonly gridsize: 1 | 2;
  /** Pattern size N. */
  readonly size: number;
  /** C = gridsize². */
  readonly channels: number;
  readonly seed: number;
  readonly model: PtychoModelName;
  /** Gridsize 2: one network maps every pattern of a group to its patch, shared weights (`training.perPattern`). */
  readonly perPattern: boolean;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly validationFraction: number;
  readonly maxTrainSamples: number | null;
  /** Resolved engine (`onnxruntime` or `tfjs`) and back end. */
  readonly engine: string;
  readonly backend: string;
  /**
   * ONNX Runtime's thread layout when the study runs several jobs at once (one replica of ⌊cores / jobs⌋
   * threads each); absent: the engine's default (2 replicas of 1 thread on the CPU).
   */
  readonly onnxThreads?: Required<OnnxThreadLayout>;
  /** Model input = diffraction · inputScale (see `model-tensors.ts`). */
  readonly inputScale: number;
  /** Amplitude target = |Y| · amplitudeScale (= s / max |object|). */
  readonly amplitudeScale: number;
  /** Stop after `patience` epochs without a better validation loss and keep the best weights; null: all epochs, last weights. */
  readonly earlyStopping: { readonly patience: number; readonly minDelta: number } | null;
  /** `"dihedral"` when `training.augmentation` asks for it; absent otherwise (so the identities of jobs without it do not change). */
  readonly augmentation?: "dihedral";
  /** Learning rate per epoch (`training.schedule`). */
  readonly schedule: { readonly kind: "constant" } | { readonly kind: "cosine"; readonly minLearningRate: number };
  /**
   * The PINN's physics loss (null for supervised jobs): the Poisson NLL (or, with `objective:
   * "amplitudeMae"`, the mean |√I − X|) of the measured amplitudes (the model
   * input, diffraction · inputScale) against `intensityScale·|DFT(P·O)|²`, with the dataset's probe times
   * the object's maximum amplitude (so the sigmoid amplitude head spans the object), `intensityScale =
   * inputScale²`; gridsize 2 adds the overlap constraint on a canvas with margin `canvasPadding`.
   */
  readonly physics: {
    readonly objective: PhysicsLoss["objective"];
    readonly intensityScale: number;
    readonly probeScale: number;
    readonly canvasPadding: number | null;
    /** How the overlap constraint averages a group's patches (`overlap.weighting`); null at gridsize 1. */
    readonly overlapWeighting: "uniform" | "probeIntensity" | null;
  } | null;
}

/** One epoch of a training job's history (the job output, the report's loss curves). */
export interface TrainingHistoryEntry {
  readonly epoch: number;
  readonly loss: number;
  readonly validationLoss: number | null;
}

/** What the job runner returns (recorded under the job's result). */
export interface StudyJobOutput {
  readonly [key: string]: unknown;
  readonly bundlePath: string;
  readonly metrics: {
    readonly finalLoss: number | null;
    readonly finalValidationLoss: number | null;
    readonly trainingSamples: number;
    readonly epochs: number;
    readonly samplesPerSecond: number;
    /** Whether early stopping ended training, and the epoch whose weights the bundle keeps. */
    readonly stoppedEarly: boolean;
    readonly keptEpoch: number;
  };
  readonly history: readonly TrainingHistoryEntry[];
  readonly engine: { readonly engine: string; readonly backend: string };
}

/** Relative path of the job runner module inside the built package (`dist/internal/train-job.js`). */
export const TRAIN_JOB_EXPORT = "trainStudyJob";
