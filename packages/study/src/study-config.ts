/**
 * The study's configuration: what is simulated, which views and doses are trained, how, and how the
 * models are compared. Presets give complete configurations; a JSON file (`--config study.json`) and flags
 * override parts of one. Every field lands in the run identity, so two runs with equal configurations (and
 * seeds, data and code) are comparable.
 */
import { z } from "zod";
import { RECONSTRUCTION_ALGORITHMS, type ReconstructionAlgorithm } from "@studykit/ptycho";
import type { PresetName } from "./presets.js";
import { PTYCHO_MODEL_NAMES } from "./model-presets.js";
import { StudyConfigError } from "./errors.js";

/** The study's views: all patterns at gridsize 1, and the two overlap views at gridsize 2. */
export const STUDY_VIEWS = ["baseline", "dense", "sparse"] as const;
export type StudyViewName = (typeof STUDY_VIEWS)[number];

/** Phase E's training methods: `supervised` (ground-truth patches) and `pinn` (physics-informed, PtychoPINN). */
export const STUDY_METHODS = ["supervised", "pinn"] as const;
export type StudyMethodName = (typeof STUDY_METHODS)[number];

const positiveInt = z.number().int().positive();

const objectSchema = z.discriminatedUnion("source", [
  z.object({ source: z.literal("procedural"), height: positiveInt, width: positiveInt }).strict(),
  z
    .object({
      source: z.literal("file"),
      /** An npz holding `objectGuess` and `probeGuess` (e.g. a real reconstruction). */
      path: z.string().min(1),
      /** Use the file's `xcoords`/`ycoords` instead of random positions. */
      reuseCoordinates: z.boolean(),
    })
    .strict(),
]);

/** Schema of a complete configuration. */
export const studyConfigSchema = z
  .object({
    /** Master seed: object, positions, noise, groups, model initialisation and shuffling derive from it. */
    seed: z.number().int().nonnegative(),
    /**
     * R: replicates of every training job and Phase F reconstruction. Each replicate re-draws what a
     * replication should vary — the photon-noise realisation, the gridsize-2 group sampling, the network
     * initialisation and shuffling — from its own seed (replicate 0 uses `seed`); the object and the scan
     * positions stay fixed. Phase G reports the mean ± 95% confidence interval of every cell over them.
     */
    replicates: z.number().int().min(1).max(100).default(1),
    object: objectSchema,
    probe: z
      .object({
        /** N: probe and pattern size (a power of two; the models need a multiple of 8). */
        size: z.number().int().min(8).refine((n) => (n & (n - 1)) === 0, "must be a power of two"),
        apertureFraction: z.number().positive().max(0.5),
        /** Quadratic phase at the aperture edge (radians); the sign picks the side of focus. */
        defocusRadians: z.number().min(-1000).max(1000),
      })
      .strict(),
    /** Random scan positions (ignored when the object file's coordinates are reused). */
    scan: z.object({ count: positiveInt }).strict(),
    doses: z.array(z.number().positive()).min(1),
    views: z.array(z.enum(STUDY_VIEWS)).min(1),
    overlap: z
      .object({
        dense: z.number().min(0).lt(1),
        sparse: z.number().min(0).lt(1),
        /** A view with fewer accepted training positions is rejected (its jobs become skip events). */
        minCount: positiveInt,
        /** K: nearest-neighbour candidates a gridsize-2 group's partners are drawn from. */
        candidates: z.number().int().min(3),
        /** nGroups: gridsize-2 groups per training view (K-choose-C oversampling); null: ⌈training patterns / 4⌉, so a gridsize-2 job sees as many patterns per epoch as the gridsize-1 job. */
        groups: positiveInt.nullable(),
        /**
         * Disjoint scans per training view: the spacing filter runs again on the training positions earlier
         * scans left, up to this many times (null: until every position is in a scan); groups never mix scans,
         * so each keeps the view's overlap, and the scans together give the networks more distinct patterns.
         * 1: one scan (a test view always has one: what Phase F reconstructs).
         */
        scans: positiveInt.nullable(),
        /**
         * How the PINN's overlap constraint averages a group's patches on the canvas: `uniform`, every patch
         * pixel alike; `probeIntensity`, weighted by the probe's intensity |P|² there (iterative
         * ptychography's overlap projection), so a patch's unilluminated border does not overwrite its
         * neighbour's illuminated centre.
         */
        weighting: z.enum(["uniform", "probeIntensity"]),
        /** Canvas margin P of the PINN overlap constraint (pixels); groups with a member farther than P from the group centre are rejected. null: N. */
        canvasPadding: z.number().int().nonnegative().nullable(),
      })
      .strict(),
    /** Phase E's jobs: the views each method trains on (the matrix is dose × method × view, restricted to `views`). */
    methods: z
      .object({
        supervised: z.array(z.enum(STUDY_VIEWS)),
        pinn: z.array(z.enum(STUDY_VIEWS)),
      })
      .strict(),
    training: z
      .object({
        model: z.enum(PTYCHO_MODEL_NAMES),
        /**
         * Gridsize 2: one network maps each pattern of a group to its own patch (shared weights; the group's
         * patterns meet only in the PINN's overlap constraint), instead of one network seeing the C patterns
         * together as channels (PtychoPINN's).
         */
        perPattern: z.boolean(),
        epochs: positiveInt,
        /** Epochs of the PINN jobs (null: `epochs`). */
        pinnEpochs: positiveInt.nullable(),
        batchSize: positiveInt,
        learningRate: z.number().positive(),
        validationFraction: z.number().min(0).lt(1),
        /** Cap on training samples per job (null: all). */
        maxTrainSamples: positiveInt.nullable(),
        /** Stop once the validation loss has not improved for `patience` epochs and keep the best epoch's weights (null: train every epoch, keep the last). */
        earlyStopping: z.object({ patience: positiveInt, minDelta: z.number().nonnegative() }).strict().nullable(),
        /**
         * The PINN's physics objective: `poissonNll`, the Poisson negative log-likelihood of the measured
         * counts (PtychoPINN's), or `amplitudeMae`, the mean |√I − X| between predicted and measured
         * amplitudes (the amplitude-based cost of iterative phase retrieval).
         */
        pinnObjective: z.enum(["poissonNll", "amplitudeMae"]).default("poissonNll"),
        /**
         * `dihedral`: every training sample goes through one of the 8 rotations and reflections of its square
         * about the centre pixel (drawn per sample and epoch), patterns, target patches and group offsets
         * alike — exact physics for the study's centred, radially symmetric probe (a job whose probe the maps
         * change is refused). `none`: the samples as measured.
         */
        augmentation: z.enum(["none", "dihedral"]).default("none"),
        /**
         * Learning rate per epoch: `constant`, or `cosine` from `learningRate` down to `minLearningRate` over
         * the job's epochs (`@studykit/trainer`'s schedules).
         */
        schedule: z.union([z.object({ kind: z.literal("constant") }).strict(), z.object({ kind: z.literal("cosine"), minLearningRate: z.number().nonnegative() }).strict()]).default({ kind: "constant" }),
      })
      .strict(),
    compare: z
      .object({
        /** Side of each predicted patch's central window used for stitching (≤ N). */
        stitchWindow: positiveInt,
      })
      .strict(),
    /** Phase F: the iterative reconstruction (`@studykit/ptycho`) of every dose × view × split. */
    reconstruction: z
      .object({
        algorithm: z.enum(RECONSTRUCTION_ALGORITHMS as unknown as [ReconstructionAlgorithm, ...ReconstructionAlgorithm[]]),
        /** Sweeps over all positions. */
        iterations: positiveInt,
        /** The probe is updated from this iteration on (0-based); null: the simulated probe is known and kept. */
        probeUpdateFrom: z.number().int().nonnegative().nullable(),
        /** Positions per step of the mini-batch variant (ePIE and rPIE ignore it). */
        batchSize: positiveInt,
        /** ePIE's object step α ∈ (0, 2], or rPIE's / the mini-batch's regularisation α ∈ [0, 1]; null: ptycho's default. */
        alpha: z.number().nullable(),
        /** Seed of the position order in every sweep. */
        seed: z.number().int().nonnegative(),
      })
      .strict(),
  })
  .strict()
  .superRefine((config, context) => {
    const reconstruction = config.reconstruction;
    const alpha = reconstruction.alpha;
    if (alpha !== null) {
      const ok = reconstruction.algorithm === "epie" ? alpha > 0 && alpha <= 2 : alpha >= 0 && alpha <= 1;
      if (!ok) context.addIssue({ code: "custom", path: ["reconstruction", "alpha"], message: `${alpha} is outside ${reconstruction.algorithm === "epie" ? "(0, 2] for epie" : `[0, 1] for ${reconstruction.algorithm}`}` });
    }
    if (reconstruction.probeUpdateFrom !== null && reconstruction.probeUpdateFrom >= reconstruction.iterations) {
      context.addIssue({ code: "custom", path: ["reconstruction", "probeUpdateFrom"], message: `${reconstruction.probeUpdateFrom} would never update the probe in ${reconstruction.iterations} iterations: use a smaller value, or null for a known probe` });
    }
    if (config.compare.stitchWindow > config.probe.size) {
      context.addIssue({ code: "custom", path: ["compare", "stitchWindow"], message: `must be ≤ probe.size (${config.probe.size})` });
    }
    if (new Set(config.doses).size !== config.doses.length) context.addIssue({ code: "custom", path: ["doses"], message: "repeats a dose" });
    if (new Set(config.views).size !== config.views.length) context.addIssue({ code: "custom", path: ["views"], message: "repeats a view" });
    for (const method of STUDY_METHODS) {
      if (new Set(config.methods[method]).size !== config.methods[method].length) context.addIssue({ code: "custom", path: ["methods", method], message: "repeats a view" });
    }
  });

/** A complete study configuration. */
export type StudyConfig = z.infer<typeof studyConfigSchema>;

/** A partial configuration, as a `--config` file may give it (deep-merged over the preset). */
export type StudyConfigOverrides = { readonly [K in keyof StudyConfig]?: StudyConfig[K] extends readonly unknown[] ? StudyConfig[K] : Partial<StudyConfig[K]> };

const PRESETS: Readonly<Record<PresetName, StudyConfig>> = {
  // Minutes on a 2-core laptop: 32×32 patterns of a 192×192 object, a small network, many short steps.
  // Probe (both presets): aperture radius 0.3·N with a defocus of 0.375·N rad at its edge, so the bright-field
  // disc holds an upright shadow image of the illuminated spot (half maximum ~0.5·N across, 10% ~0.85·N; the
  // same geometry at every N): each diffraction pixel then correlates with the object pixel it sees
  // (measured at 1e5 photons: ~0.5 with both amplitude and phase), which convolutional networks pick up far
  // sooner than a far-field inversion. A wider spot than the former 0.25·N defocus also leaves fewer
  // unilluminated (unlearnable) pixels in each target patch.
  // Measured on this preset (ridge regression and the tiny network alike): the error falls as patterns are
  // added (600 → 2000 training patterns: −10%), so it simulates 4000 positions, and the tiny network gains
  // more from steps than from width or depth (a 4-level U-Net of the same budget did worse), hence batch 16.
  quick: {
    seed: 20251122,
    replicates: 1,
    object: { source: "procedural", height: 192, width: 192 },
    probe: { size: 32, apertureFraction: 0.3, defocusRadians: -12 },
    scan: { count: 4000 },
    doses: [1e3, 1e4, 1e5],
    views: ["baseline", "dense", "sparse"],
    overlap: { dense: 0.7, sparse: 0.2, minCount: 8, candidates: 7, groups: null, scans: null, weighting: "probeIntensity", canvasPadding: null },
    methods: { supervised: ["baseline"], pinn: ["baseline", "dense", "sparse"] },
    // The strided compact network (`compactStrided`: compact's layout with stride-2 convs in place of its
    // max-pools, which drop where in each window the largest response was: just what a pattern says about
    // the phase under the spot, a sub-pixel shift or defocus of the bright-field disc; and leaky ReLUs, with
    // which no supervised job of 16 lost all its units, against one with ReLUs). At 1e5, 3 replicates:
    // PINN gs2 dense / sparse 0.199 / 0.230, PINN gs1 0.248, against compact's 0.234 / 0.249 and 0.259 (see
    // the README for the runs). The history, with compact:
    // The compact network (receptive field 54 px, so it sees the whole pattern; tiny's is 12 px). Measured at
    // 1e5 and 1e4, PINN gs2 phase MAE dense / sparse, mean of 3 replicates (predicting the mean: 0.353), 20
    // PINN epochs unless said: tiny, learning rate 3e-3: 1e5 0.271 / 0.273; compact, 3e-3: 1e5 0.236 / 0.250
    // (every replicate: dense 0.65–0.68×, sparse 0.71×), 1e4 0.240 / 0.263. Not kept (compact): 4e-3 (1e5
    // 0.238 / 0.251), a cosine decay 3e-3 → 1e-4 (0.243 / 0.259); the amplitude-MAE objective
    // (`pinnObjective`) at 1.5e-3 and 2e-3 reaches 1e5 0.235 / 0.240 but stays on its constant-object plateau
    // at 1e4 (1.01× the mean in one replicate of three, every PINN job at 1.5e-3), and at 3e-3 one replicate
    // in three lands at 0.31 at 1e5 in both views (same validation loss: amplitude/phase cross-talk). The
    // supervised baseline levels off sooner with this network (1e5: 24 epochs 0.2385, 40 0.2368), so 16
    // epochs leave the time for 20 PINN epochs in the 5-minute budget. Dihedral augmentation
    // (`augmentation`), 3 replicates at 1e5: supervised phase 0.230 (amplitude 0.088) against 0.234 (0.098)
    // without, but PINN gs2 dense / sparse 0.243 / 0.257 against 0.236 / 0.250, so it stays off.
    training: { model: "compactStrided", perPattern: true, epochs: 16, pinnEpochs: 20, batchSize: 16, learningRate: 3e-3, validationFraction: 0.1, maxTrainSamples: null, earlyStopping: null, schedule: { kind: "constant" }, pinnObjective: "poissonNll", augmentation: "none" },
    compare: { stitchWindow: 16 },
    // ePIE with the known probe. Measured on this preset's test split (2008 positions, seed 0), phase MAE at
    // 10 / 20 / 30 / 50 / 100 iterations: 1e3 0.150 / 0.151 / 0.145 / 0.148 / 0.148 (noise-limited from the
    // start), 1e4 0.058 / 0.054 / 0.054 / 0.053 / 0.053, 1e5 0.027 / 0.020 / 0.018 / 0.018 / 0.018, at
    // ~21–24 k positions/s on 2 busy cores; the overlap views' few positions converge more slowly, so 50.
    reconstruction: { algorithm: "epie", iterations: 50, probeUpdateFrom: null, batchSize: 32, alpha: null, seed: 0 },
  },
  // What a scientist would publish: 64×64 patterns of a 512×512 object, the reference network.
  full: {
    seed: 20251122,
    // Three replicates: the least that gives a confidence interval worth printing (t with 2 dof).
    replicates: 3,
    object: { source: "procedural", height: 512, width: 512 },
    probe: { size: 64, apertureFraction: 0.3, defocusRadians: -24 },
    scan: { count: 6000 },
    doses: [1e3, 1e4, 1e5],
    views: ["baseline", "dense", "sparse"],
    // The quick preset's gridsize-2 setup: disjoint scans over the whole training split, the probe-weighted
    // overlap average, one network per pattern (the former channels setup with one scan and a uniform
    // average learned no phase here: 0.39–0.52 rad against the mean's 0.397; per pattern, 5 epochs already
    // reach 0.341 on sparse at 1e5).
    overlap: { dense: 0.7, sparse: 0.2, minCount: 16, candidates: 7, groups: null, scans: null, weighting: "probeIntensity", canvasPadding: null },
    methods: { supervised: ["baseline"], pinn: ["baseline", "dense", "sparse"] },
    // The baselines overfit after about epoch 18–23 of 40 (at 1e3, patience 5 stopped the supervised job at
    // epoch 28, best 23): stop after 5 epochs without improvement, keep the best, at most 30. The budget is
    // one replicate in 90 minutes on 2 cores: an epoch of the 3008 baseline patterns takes 25 s (supervised
    // and PINN gs1 alike, measured idle), one of the 752 gridsize-2 groups through the per-pattern network
    // 27 s; 30 supervised and 12 PINN epochs bound Phase E at 3 × (12.3 + 5 + 2 × 5.4) ≈ 84 minutes.
    training: { model: "reference", perPattern: true, epochs: 30, pinnEpochs: 12, batchSize: 32, learningRate: 1e-3, validationFraction: 0.1, maxTrainSamples: null, earlyStopping: { patience: 5, minDelta: 0 }, schedule: { kind: "constant" }, pinnObjective: "poissonNll", augmentation: "none" },
    compare: { stitchWindow: 32 },
    // Not time-bounded: 100 sweeps, past where the quick preset's errors level off (~30).
    reconstruction: { algorithm: "epie", iterations: 100, probeUpdateFrom: null, batchSize: 32, alpha: null, seed: 0 },
  },
};

/** A copy of a preset's configuration. */
export function presetConfig(name: PresetName): StudyConfig {
  return structuredClone(PRESETS[name]) as StudyConfig;
}

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`);
}

/** Validates a complete configuration; `E_STUDY_CONFIG` lists every problem. */
export function validateStudyConfig(value: unknown, source = "configuration"): StudyConfig {
  const parsed = studyConfigSchema.safeParse(value);
  if (!parsed.success) throw new StudyConfigError(source, formatIssues(parsed.error));
  return parsed.data;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep-merges `overrides` into `base` (objects merge, arrays and scalars replace) and validates the result. */
export function mergeStudyConfig(base: StudyConfig, overrides: unknown, source = "overrides"): StudyConfig {
  if (!isPlainObject(overrides)) throw new StudyConfigError(source, [`expected a JSON object, got ${Array.isArray(overrides) ? "an array" : typeof overrides}`]);
  const merge = (target: unknown, patch: unknown): unknown => {
    if (!isPlainObject(target) || !isPlainObject(patch)) return patch;
    // A different object source replaces the whole object block (the two variants share no fields).
    if ("source" in patch && patch.source !== target.source) return patch;
    // So does another kind of a tagged block (a learning-rate schedule).
    if ("kind" in patch && patch.kind !== target.kind) return patch;
    const out: Record<string, unknown> = { ...target };
    for (const [key, value] of Object.entries(patch)) out[key] = key in target ? merge(target[key], value) : value;
    return out;
  };
  return validateStudyConfig(merge(base, overrides), source);
}
