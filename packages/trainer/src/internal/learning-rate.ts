/** The learning rate of each epoch under a {@link LearningRateSchedule}. */
import type { LearningRateSchedule } from "../train.js";

/**
 * The learning rate for 0-based `epoch` of a run of `epochs` epochs that starts at `learningRate`
 * (no schedule: constant).
 */
export function learningRateAt(learningRate: number, schedule: LearningRateSchedule | undefined, epoch: number, epochs: number): number {
  const lr = learningRate;
  const s = schedule ?? { kind: "constant" };
  switch (s.kind) {
    case "constant":
      return lr;
    case "exponential":
      return lr * s.decay ** epoch;
    case "step":
      return lr * s.factor ** Math.floor(epoch / s.every);
    case "cosine":
      return s.minLearningRate + 0.5 * (lr - s.minLearningRate) * (1 + Math.cos((Math.PI * epoch) / Math.max(epochs, 1)));
  }
}
