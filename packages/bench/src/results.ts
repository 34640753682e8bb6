/**
 * The shape of a benchmark run's results: the contract between the suites, the JSON file, the Markdown
 * table and the charts. Field names here are what `bench/results/<date>.json` holds.
 */
import type { Summary } from "./statistics.js";

/**
 * Version of the JSON layout below; bump it when a field changes meaning. 2: provenance (`code`),
 * per-contender `parallelism` and `computes`, ratio `threads`, and repeated runs (`runs`, `perRun`).
 */
export const RESULTS_SCHEMA_VERSION = 2;

/** The suites, in the order a full run executes them. */
export const SUITE_NAMES = ["hash", "npz", "train", "infer", "study", "fft", "epie", "pinn", "queue"] as const;
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

/**
 * How much of the machine a contender used: `processes` × `threads` each (ONNX Runtime's data-parallel
 * replicas are processes of one thread in spirit, but run in one process: see `detail`).
 */
export interface Parallelism {
  readonly threads: number;
  readonly processes: number;
  /** How the threads are arranged, when the two numbers do not say it (`2 replicas × 1 thread`). */
  readonly detail?: string;
}

/** Fields every contender carries, measured or not. */
interface ContenderFacts {
  readonly id: string;
  readonly label: string;
  readonly role: ContenderRole;
  /** Threads and processes it ran on; absent where the suite does not state them. */
  readonly parallelism?: Parallelism;
  /**
   * Set when the contender computes the described work differently (a rewrite with other arithmetic,
   * e.g. ×2 upsample + 3×3 conv as sub-pixel convolutions at the low resolution): what it computes instead.
   */
  readonly computes?: string;
}

export interface MeasuredContender extends ContenderFacts {
  readonly status: "ok";
  /**
   * One value per timed repetition (after warm-up), in the group's unit. In a result combined from
   * several runs (`BenchResults.runs` > 1): one value per run, that run's median.
   */
  readonly samples: readonly number[];
  /** In a combined result: every run's timed repetitions, run by run. */
  readonly runSamples?: readonly (readonly number[])[];
  readonly summary: Summary;
  /** Work per repetition when it differs from the group's. */
  readonly work?: Work;
  /** Median throughput (GB/s for bytes, samples/s for samples, GFLOP/s for flops, updates/s for updates), when the group has work. */
  readonly throughput?: { readonly value: number; readonly unit: ThroughputUnit };
  /** Version or implementation detail of what ran (e.g. `numpy 2.4.1`, `x86-sha-ni`). */
  readonly detail?: string;
}

export interface UnavailableContender extends ContenderFacts {
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
  /** Threads / processes of each side (null where the suite does not state them). */
  readonly threads?: { readonly ours: Parallelism | null; readonly peer: Parallelism | null };
  /** In a result combined from several runs: each run's ratio (null where that run could not compute it). */
  readonly perRun?: readonly (number | null)[];
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
  /** Operating system name and release (`os.type()` and `os.release()`). */
  readonly os: string;
}

/** The code that produced a results file. */
export interface CodeProvenance {
  /** Commit of the checkout the bench ran from, null outside a git checkout. */
  readonly commit: string | null;
  /** Tracked files differed from the commit: the numbers may come from code no commit holds. */
  readonly dirty: boolean | null;
}

export interface BenchResults {
  readonly schemaVersion: typeof RESULTS_SCHEMA_VERSION;
  readonly startedAt: string;
  readonly date: string;
  readonly quick: boolean;
  /** False while the run is still going (results are written after each suite) or when it was cut short. */
  readonly complete: boolean;
  readonly command: string;
  readonly code: CodeProvenance;
  readonly machine: MachineInfo;
  readonly wallSeconds: number;
  /** How many times the whole bench ran (`--runs`); `suites` combines them (see `perRun`). */
  readonly runs: number;
  /**
   * With one run, that run's results. With several, every contender's samples are its per-run medians
   * (so its summary is the median of the run medians and their min–max), and each ratio is computed from
   * the median of the run medians, with every run's own ratio in `perRun`.
   */
  readonly suites: readonly SuiteResult[];
  /** With several runs: each run's own results, in order. */
  readonly perRun?: readonly (readonly SuiteResult[])[];
}
