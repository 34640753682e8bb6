/**
 * Whole-number flag values (`--concurrency 4`): digits only, at least 1. Commander hands option values
 * over as strings; these parsers turn a bad one into a usage error naming the flag and the value.
 */
import { availableParallelism } from "node:os";
import { UsageError } from "../errors.js";

/**
 * A parser for `flag` that accepts a whole number ≥ 1 written in decimal digits; `alternative` (a word the
 * caller accepts before calling it, such as `auto`) is named in the error.
 */
export function positiveIntegerFlag(flag: string, alternative?: string): (text: string) => number {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
      throw new UsageError(`${flag} must be a whole number ≥ 1${alternative === undefined ? "" : ` or ${alternative}`}, got ${JSON.stringify(text)}`);
    }
    return value;
  };
}

/** `--concurrency N`: how many jobs or files at once. */
export const parseConcurrency = positiveIntegerFlag("--concurrency");

const parseJobCount = positiveIntegerFlag("--concurrency", "auto");

/** `--concurrency N|auto` of `study run`: `auto` is one training job per core (`os.availableParallelism()`). */
export function parseJobConcurrency(text: string): number {
  return text === "auto" ? availableParallelism() : parseJobCount(text);
}
