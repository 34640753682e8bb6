/**
 * `--runs K`: the whole bench runs K times and the results are combined here, so that a reader is quoted
 * the median of K run medians with their spread, never the best of several runs. A combined contender's
 * `samples` are its K run medians (its summary is their median and min–max) and `runSamples` keeps every
 * run's repetitions; a combined ratio is computed from the median of the run medians, with each run's own
 * ratio in `perRun`. A contender that did not run in one of the runs is reported as not run, with which.
 */
import { GroupBuilder, type ContenderSpec } from "./internal/measure.js";
import type { ComparisonGroup, ContenderResult, Goal, MeasuredContender, SuiteResult } from "./results.js";
import { summarize } from "./statistics.js";

function specOf(contender: ContenderResult): ContenderSpec {
  return {
    id: contender.id,
    label: contender.label,
    role: contender.role,
    ...(contender.status === "ok" && contender.work ? { work: contender.work } : {}),
    ...(contender.parallelism ? { parallelism: contender.parallelism } : {}),
    ...(contender.computes ? { computes: contender.computes } : {}),
  };
}

/** Values in first-seen order of `key`, across every list. */
function uniqueInOrder<T>(lists: readonly (readonly T[])[], key: (item: T) => string): string[] {
  const seen: string[] = [];
  for (const list of lists) for (const item of list) if (!seen.includes(key(item))) seen.push(key(item));
  return seen;
}

/** Notes of every run: a note all runs share once, others prefixed with the run(s) that wrote them. */
function combineNotes(perRun: readonly (readonly string[] | undefined)[]): string[] {
  const all = uniqueInOrder(perRun.map((notes) => notes ?? []), (note) => note);
  return all.map((note) => {
    const runs = perRun.flatMap((notes, i) => (notes?.includes(note) ? [i + 1] : []));
    return runs.length === perRun.length ? note : `run ${runs.join(", ")} of ${perRun.length}: ${note}`;
  });
}

/** One group measured in each run (undefined where a run lacks it) as one group with per-run statistics. */
export function combineGroup(perRun: readonly (ComparisonGroup | undefined)[]): ComparisonGroup {
  const present = perRun.filter((g): g is ComparisonGroup => g !== undefined);
  const first = present[0];
  if (!first) throw new RangeError("combineGroup() needs the group from at least one run");
  const runs = perRun.length;
  const builder = new GroupBuilder({ id: first.id, title: first.title, kind: first.kind, ...(first.work ? { work: first.work } : {}) });
  const contenderIds = uniqueInOrder(present.map((g) => g.contenders), (c) => c.id);
  const runSamples = new Map<string, number[][]>();
  for (const id of contenderIds) {
    const results = perRun.map((group) => group?.contenders.find((c) => c.id === id));
    const known = results.find((c): c is ContenderResult => c !== undefined)!;
    const missing = results.findIndex((c) => c === undefined || c.status !== "ok");
    if (missing === -1) {
      const measured = results as MeasuredContender[];
      builder.addSamples(specOf(known), measured.map((c) => c.summary.median), measured.find((c) => c.detail)?.detail);
      runSamples.set(id, measured.map((c) => [...c.samples]));
    } else {
      const result = results[missing];
      const status = result && result.status !== "ok" ? result.status : "failed";
      const reason = result && result.status !== "ok" ? result.reason : "not run (its group or suite did not run)";
      builder.addUnavailable(specOf(known), status, `run ${missing + 1} of ${runs}: ${reason}`);
    }
  }
  for (const note of combineNotes(perRun.map((g) => g?.notes))) builder.note(note);
  // The goals and explicit comparisons, in the first run's order (finish() adds the ours × peer pairs).
  const goals: Goal[] = [
    ...first.ratios.map((r): Goal => ({ kind: "ratio", ours: r.ours, peer: r.peer, ...(r.atLeast === undefined ? {} : { atLeast: r.atLeast }) })),
    ...first.checks.map((c): Goal => ({ kind: "value", contender: c.contender, atMost: c.atMost })),
  ];
  const combined = builder.finish(goals);
  const perRunRatio = (ours: string, peer: string) => perRun.map((group) => group?.ratios.find((r) => r.ours === ours && r.peer === peer)?.ratio ?? null);
  return {
    ...combined,
    contenders: combined.contenders.map((c) => (c.status === "ok" && runSamples.has(c.id) ? { ...c, runSamples: runSamples.get(c.id)! } : c)),
    ratios: combined.ratios.map((r) => ({ ...r, perRun: perRunRatio(r.ours, r.peer) })),
  };
}

/** Each run's suites (in the harness's order) as one list of suites with per-run statistics. */
export function combineRuns(perRun: readonly (readonly SuiteResult[])[]): SuiteResult[] {
  if (perRun.length === 1) return [...perRun[0]!];
  const suiteNames = uniqueInOrder(perRun, (s) => s.suite);
  return suiteNames.map((name) => {
    const suites = perRun.map((run) => run.find((s) => s.suite === name));
    const present = suites.filter((s): s is SuiteResult => s !== undefined);
    const groupIds = uniqueInOrder(present.map((s) => s.groups), (g) => g.id);
    return {
      suite: present[0]!.suite,
      wallSeconds: present.reduce((sum, s) => sum + s.wallSeconds, 0),
      groups: groupIds.map((id) => combineGroup(suites.map((s) => s?.groups.find((g) => g.id === id)))),
      notes: combineNotes(suites.map((s) => s?.notes)),
    };
  });
}

/** min / median / max of the per-run ratios that exist (null when none does). */
export function ratioSpread(perRun: readonly (number | null)[]): { min: number; median: number; max: number } | null {
  const values = perRun.filter((r): r is number => r !== null);
  if (values.length === 0) return null;
  const { min, median, max } = summarize(values);
  return { min, median, max };
}
