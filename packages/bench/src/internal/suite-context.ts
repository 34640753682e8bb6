/** What every suite gets from the harness: the mode, a scratch folder outside the repo, logging, plans. */
import { open } from "node:fs/promises";
import type { RepeatPlan } from "./measure.js";

export interface SuiteContext {
  /** Small inputs and few repetitions: a smoke test of the harness, not a measurement. */
  readonly quick: boolean;
  /** Per-run folder under the OS temp dir; removed when the run ends. Never inside the repository. */
  readonly scratchDir: string;
  readonly log: (line: string) => void;
}

/** Repetition plans: `fast` contenders take well under a second per run, `slow` ones seconds. */
export function repeatPlan(context: SuiteContext, speed: "fast" | "slow"): RepeatPlan {
  if (context.quick) return { warmup: 1, repetitions: 2, minRepetitions: 1, budgetSeconds: 2 };
  // Budgets keep a full run near ten minutes on a 2-core machine; medians of 3-5 runs are the claim.
  return speed === "fast" ? { warmup: 1, repetitions: 5, minRepetitions: 3, budgetSeconds: 10 } : { warmup: 1, repetitions: 3, minRepetitions: 2, budgetSeconds: 10 };
}

/** The plan as the python peers' command-line flags (they time themselves with the same loop). */
export function planArguments(plan: RepeatPlan): string[] {
  return ["--warmup", String(plan.warmup), "--repetitions", String(plan.repetitions), "--min-repetitions", String(plan.minRepetitions), "--budget", String(plan.budgetSeconds)];
}

/**
 * Writes a `bytes`-long file by repeating one pseudo-random block: cheap to generate (page-cache speed),
 * and hashing speed does not depend on the contents.
 */
export async function writeRepeatedFile(path: string, bytes: number, seed: number): Promise<void> {
  const blockSize = Math.min(bytes, 8 * 1024 * 1024);
  const block = Buffer.allocUnsafe(blockSize);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i + 4 <= blockSize; i += 4) {
    // xorshift32: any bytes will do, they only need to differ between files.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    block.writeUInt32LE(state >>> 0, i);
  }
  const handle = await open(path, "w");
  try {
    for (let written = 0; written < bytes; written += blockSize) {
      const length = Math.min(blockSize, bytes - written);
      await handle.write(block, 0, length, written);
    }
  } finally {
    await handle.close();
  }
}
