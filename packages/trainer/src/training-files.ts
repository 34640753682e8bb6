/**
 * Names of the files `train` writes in a job's `outDir`. The checkpoint, best weights and metrics are
 * replaced atomically after every epoch; the loss curve and the bundle are written once, at the end.
 */

/** Weights, optimizer state and history after the last completed epoch (see `internal/checkpoint-codec.ts`). */
export const CHECKPOINT_FILE = "checkpoint.bin";
/** One JSON line of metrics per epoch. */
export const METRICS_JSONL_FILE = "metrics.jsonl";
/** The same metrics as CSV. */
export const METRICS_CSV_FILE = "metrics.csv";
/** The loss curve (also a bundle member). */
export const LOSS_CURVE_FILE = "loss-curve.svg";
/** The checksummed bundle. */
export const BUNDLE_FILE = "bundle.zip";
/** The best epoch's weights, kept with `earlyStopping.restoreBestWeights` (checkpoint format). */
export const BEST_WEIGHTS_FILE = "best-weights.bin";
