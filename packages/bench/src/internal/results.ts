/**
 * The shape of a benchmark run's results: the contract between the suites, the JSON file, the Markdown
 * table and the charts. Field names here are what `bench/results/<date>.json` holds.
 */
import type { Summary } from "../statistics.js";

/** Version of the JSON layout below; bump it when a field changes meaning. */
export const RESULTS_SCHEMA_VERSION = 1;

/** The suites, in the order a full run executes them. */
export const SUITE_NAMES = ["hash", "npz", "train", "infer", "study", "fft", "epie", "pinn"] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

/**
 * `ours` is studykit's code under test; `peer` is what a user would otherwise pick (numpy, PyTorch,
 * sha256sum...); `reference` is a bar that is neither (e.g. in-memory hashing speed, our own single-file rate).
 */
export type ContenderRole = "ours" | "peer" | "reference";

/** What one unit of measured work is, so that times can be turned into throughput. */
export interface Work {
  readonly amount: number;
  /**
   * `flops`: floating-point operations (2 per multiply-add), shown as GFLOP/s; `updates`: position updates
   * of an iterative reconstruction, shown as updates/s.
   */
  readonly unit: "bytes" | "samples" | "flops" | "updates";
}

/** Units of a contender's median throughput. */
export type ThroughputUnit = "GB/s" | "samples/s" | "GFLOP/s" | "updates/s";

export interface MeasuredContender {
  readonly id: string;
  readonly label: string;
  readonly role: ContenderRole;
  readonly status: "ok";
  /** One value per timed repetition (after warm-up), in the group's unit. */
  readonly samples: readonly number[];
  readonly summary: Summary;
  /** Work per repetition when it differs from the group's. */
  readonly work?: Work;
  /** Median throughput (GB/s for bytes, samples/s for samples, GFLOP/s for flops, updates/s for updates), when the group has work. */
  readonly throughput?: { readonly value: number; readonly unit: ThroughputUnit };
  /** Version or implementation detail of what ran (e.g. `numpy 2.4.1`, `x86-sha-ni`). */
  readonly detail?: string;
}

export interface UnavailableContender {
  readonly id: string;
  readonly label: string;
  readonly role: ContenderRole;
  /** `absent`: not installed / not present on this machine; `failed`: present but it threw. */
  readonly status: "absent" | "failed";
  readonly reason: string;
}

export type ContenderResult = MeasuredContender | UnavailableContender;

/**
 * A goal from the issues, checked against this run's numbers (never asserted by tests); a ratio without
 * `atLeast` is a comparison reported beside the goals, with no goal of its own.
 */
export type Goal =
  | { readonly kind: "ratio"; readonly ours: string; readonly peer: string; readonly atLeast?: number }
  | { readonly kind: "value"; readonly contender: string; readonly atMost: number };

export interface RatioResult {
  readonly ours: string;
  readonly peer: string;
  /** Speed of `ours` divided by speed of `peer` (medians); null when either side did not run. */
  readonly ratio: number | null;
  readonly atLeast?: number;
  readonly met?: boolean;
  readonly reason?: string;
}

export interface ValueCheck {
  readonly contender: string;
  readonly median: number | null;
  readonly atMost: number;
  readonly met?: boolean;
  readonly reason?: string;
}

/**
 * One comparison: contenders doing the same work on the same inputs in the same run. `time` groups hold
 * seconds per repetition (lower is better, ratios apply); `latency` groups hold a measured quantity in
 * milliseconds (main-thread stall, open time) where only value goals apply.
 */
export interface ComparisonGroup {
  readonly id: string;
  readonly title: string;
  readonly kind: "time" | "latency";
  readonly unit: "s" | "ms";
  readonly work?: Work;
  readonly contenders: readonly ContenderResult[];
  readonly ratios: readonly RatioResult[];
  readonly checks: readonly ValueCheck[];
  readonly notes: readonly string[];
}

export interface SuiteResult {
  readonly suite: SuiteName;
  readonly wallSeconds: number;
  readonly groups: readonly ComparisonGroup[];
  readonly notes: readonly string[];
}

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly cpuFlags: readonly string[];
  readonly memoryGiB: number;
  readonly platform: string;
  readonly node: string;
  readonly native: { readonly implementation: string; readonly sha256Backend: string };
  /** 1-minute load average when the run started: a busy machine slows every contender alike. */
  readonly loadAverageAtStart: number;
}

export interface BenchResults {
  readonly schemaVersion: typeof RESULTS_SCHEMA_VERSION;
  readonly startedAt: string;
  readonly date: string;
  readonly quick: boolean;
  /** False while the run is still going (results are written after each suite) or when it was cut short. */
  readonly complete: boolean;
  readonly command: string;
  readonly machine: MachineInfo;
  readonly wallSeconds: number;
  readonly suites: readonly SuiteResult[];
}
