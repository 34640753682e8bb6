/**
 * Timing of repeated runs and the builder that turns contenders' samples into a comparison group with
 * ratios and goal checks. Every contender of a group goes through here, so all are timed the same way.
 */
import { speedRatio, summarize } from "../statistics.js";
import type { ComparisonGroup, ContenderResult, ContenderRole, Goal, MeasuredContender, Parallelism, RatioResult, ThroughputUnit, ValueCheck, Work } from "../results.js";

/** How many times to run a contender: warm-up runs are discarded; a slow contender stops at the budget. */
export interface RepeatPlan {
  readonly warmup: number;
  readonly repetitions: number;
  /** Stop adding repetitions once this much time was spent (but always take `minRepetitions`). */
  readonly budgetSeconds: number;
  readonly minRepetitions: number;
}

/** Thrown by a contender that cannot run here (not installed, no GPU...): reported as absent, never dropped. */
export class ContenderAbsentError extends Error {
  override readonly name = "ContenderAbsentError";
}

/** Marks a contender absent with `reason`. */
export function absent(reason: string): never {
  throw new ContenderAbsentError(reason);
}

/** Runs `run` per `plan` and returns the timed repetitions in seconds. */
export async function timeRepeated(run: () => unknown, plan: RepeatPlan, onProgress?: (samples: readonly number[]) => void): Promise<number[]> {
  const started = performance.now();
  for (let i = 0; i < plan.warmup; i++) await run();
  const samples: number[] = [];
  while (samples.length < plan.repetitions) {
    const t0 = performance.now();
    await run();
    samples.push((performance.now() - t0) / 1000);
    onProgress?.(samples);
    const spent = (performance.now() - started) / 1000;
    if (samples.length >= plan.minRepetitions && spent > plan.budgetSeconds) break;
  }
  return samples;
}

export interface ContenderSpec {
  readonly id: string;
  readonly label: string;
  readonly role: ContenderRole;
  /** Work per repetition when it differs from the group's (e.g. a single file of a set). */
  readonly work?: Work;
  /** Threads and processes it runs on (shown beside every ratio it is part of). */
  readonly parallelism?: Parallelism;
  /** What it computes instead of the described work, when it rewrites it (see `ContenderResult.computes`). */
  readonly computes?: string;
}

/** `processes` × `threads` as a contender's parallelism (one process unless said). */
export function onThreads(threads: number, processes = 1, detail?: string): Parallelism {
  return { threads, processes, ...(detail ? { detail } : {}) };
}

export interface GroupOptions {
  readonly id: string;
  readonly title: string;
  readonly kind: "time" | "latency";
  readonly work?: Work;
  readonly log?: (line: string) => void;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${typeof code === "string" ? `[${code}] ` : ""}${error.message.split("\n")[0]}`;
  }
  return String(error);
}

function formatSeconds(value: number): string {
  return value >= 1 ? `${value.toFixed(2)} s` : `${(value * 1000).toFixed(1)} ms`;
}

/** Collects one group's contenders, then computes ratios (ours ÷ each peer and reference) and goals. */
export class GroupBuilder {
  private readonly contenders: ContenderResult[] = [];
  private readonly notes: string[] = [];

  constructor(private readonly options: GroupOptions) {
    options.log?.(`${options.title}`);
  }

  /** Records samples measured elsewhere (e.g. by a python peer timing itself with the same plan). */
  addSamples(spec: ContenderSpec, samples: readonly number[], detail?: string): void {
    const summary = summarize(samples);
    const work = spec.work ?? this.options.work;
    const throughput = work && this.options.kind === "time" ? throughputOf(work, summary.median) : undefined;
    const result: MeasuredContender = { ...spec, status: "ok", samples: [...samples], summary, ...(throughput ? { throughput } : {}), ...(detail ? { detail } : {}) };
    this.contenders.push(result);
    const shown = this.options.kind === "time" ? formatSeconds(summary.median) : `${summary.median.toFixed(2)} ms`;
    this.options.log?.(`  ${spec.label}: median ${shown}${throughput ? ` (${throughput.value.toFixed(throughput.unit === "GB/s" ? 2 : 1)} ${throughput.unit})` : ""} over ${samples.length}`);
  }

  /** Records a contender that could not run, with the reason. */
  addUnavailable(spec: ContenderSpec, status: "absent" | "failed", reason: string): void {
    const facts = { ...(spec.parallelism ? { parallelism: spec.parallelism } : {}), ...(spec.computes ? { computes: spec.computes } : {}) };
    this.contenders.push({ id: spec.id, label: spec.label, role: spec.role, ...facts, status, reason });
    this.options.log?.(`  ${spec.label}: ${status} (${reason})`);
  }

  /**
   * Runs `measure` (which returns samples) and records its outcome: samples, absent (it threw
   * {@link ContenderAbsentError}) or failed (anything else).
   */
  async run(spec: ContenderSpec, measure: () => Promise<{ samples: readonly number[]; detail?: string }>): Promise<void> {
    try {
      const { samples, detail } = await measure();
      this.addSamples(spec, samples, detail);
    } catch (error) {
      if (error instanceof ContenderAbsentError) this.addUnavailable(spec, "absent", error.message);
      else this.addUnavailable(spec, "failed", describeError(error));
    }
  }

  /** Times `run` per `plan` after `prepare` (untimed) succeeds. */
  async time(spec: ContenderSpec, plan: RepeatPlan, prepare: () => Promise<{ run: () => unknown; detail?: string; cleanup?: () => unknown }>): Promise<void> {
    await this.run(spec, async () => {
      const prepared = await prepare();
      try {
        const samples = await timeRepeated(prepared.run, plan);
        return { samples, ...(prepared.detail ? { detail: prepared.detail } : {}) };
      } finally {
        await prepared.cleanup?.();
      }
    });
  }

  note(text: string): void {
    this.notes.push(text);
  }

  /** The contender result with `id`, once recorded. */
  get(id: string): ContenderResult | undefined {
    return this.contenders.find((c) => c.id === id);
  }

  finish(goals: readonly Goal[] = []): ComparisonGroup {
    const ratios: RatioResult[] = [];
    const checks: ValueCheck[] = [];
    const pairKey = (a: string, b: string) => `${a}\u0000${b}`;
    const seen = new Set<string>();
    const addRatio = (oursId: string, peerId: string, atLeast?: number) => {
      if (seen.has(pairKey(oursId, peerId))) return;
      seen.add(pairKey(oursId, peerId));
      const ours = this.get(oursId);
      const peer = this.get(peerId);
      // Stated wherever either side states its threads (every suite of this harness does; a group built
      // elsewhere without them keeps its old shape).
      const threads = ours?.parallelism || peer?.parallelism ? { threads: { ours: ours?.parallelism ?? null, peer: peer?.parallelism ?? null } } : {};
      const goal = { ...(atLeast === undefined ? {} : { atLeast }), ...threads };
      if (!ours || !peer) {
        ratios.push({ ours: oursId, peer: peerId, ratio: null, ...goal, reason: `${!ours ? oursId : peerId} was not measured` });
      } else if (ours.status !== "ok" || peer.status !== "ok") {
        const missing = ours.status !== "ok" ? ours : peer;
        ratios.push({ ours: oursId, peer: peerId, ratio: null, ...goal, reason: `${missing.label} ${missing.status}: ${(missing as { reason: string }).reason}` });
      } else {
        const ratio = this.ratioOf(ours, peer);
        ratios.push({ ours: oursId, peer: peerId, ratio, ...goal, ...(atLeast === undefined ? {} : { met: ratio >= atLeast }) });
      }
    };
    for (const goal of goals) if (goal.kind === "ratio") addRatio(goal.ours, goal.peer, goal.atLeast);
    if (this.options.kind === "time") {
      for (const ours of this.contenders.filter((c) => c.role === "ours")) {
        for (const peer of this.contenders.filter((c) => c.role !== "ours")) addRatio(ours.id, peer.id);
      }
    }
    for (const goal of goals) {
      if (goal.kind !== "value") continue;
      const contender = this.get(goal.contender);
      if (contender?.status === "ok") checks.push({ contender: goal.contender, median: contender.summary.median, atMost: goal.atMost, met: contender.summary.median <= goal.atMost });
      else checks.push({ contender: goal.contender, median: null, atMost: goal.atMost, reason: contender ? `${contender.status}: ${(contender as { reason: string }).reason}` : "not measured" });
    }
    return {
      id: this.options.id,
      title: this.options.title,
      kind: this.options.kind,
      unit: this.options.kind === "time" ? "s" : "ms",
      ...(this.options.work ? { work: this.options.work } : {}),
      contenders: this.contenders,
      ratios,
      checks,
      notes: this.notes,
    };
  }

  private ratioOf(ours: MeasuredContender, peer: MeasuredContender): number {
    const groupWork = this.options.work;
    const oursWork = ours.work ?? groupWork;
    const peerWork = peer.work ?? groupWork;
    // Same work per repetition (the usual case): a plain ratio of median times. Otherwise compare rates.
    if (!oursWork || !peerWork || oursWork.amount === peerWork.amount) return speedRatio(ours.summary, peer.summary);
    return oursWork.amount / ours.summary.median / (peerWork.amount / peer.summary.median);
  }
}

function throughputOf(work: Work, medianSeconds: number): { value: number; unit: ThroughputUnit } {
  switch (work.unit) {
    case "bytes":
      return { value: work.amount / medianSeconds / 1e9, unit: "GB/s" };
    case "flops":
      return { value: work.amount / medianSeconds / 1e9, unit: "GFLOP/s" };
    case "updates":
      return { value: work.amount / medianSeconds, unit: "updates/s" };
    case "samples":
      return { value: work.amount / medianSeconds, unit: "samples/s" };
  }
}
