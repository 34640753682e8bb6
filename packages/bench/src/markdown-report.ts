/** The human-readable table of a run: one section per suite, one table per comparison group. */
import { describeMachine } from "./machine-info.js";
import { ratioSpread } from "./repeated-runs.js";
import type { BenchResults, CodeProvenance, ComparisonGroup, ContenderResult, Parallelism, SuiteResult } from "./results.js";

/** A duration in the unit a reader takes in at a glance. */
export function formatDuration(seconds: number): string {
  if (seconds >= 100) return `${seconds.toFixed(0)} s`;
  if (seconds >= 1) return `${seconds.toFixed(2)} s`;
  if (seconds >= 1e-3) return `${(seconds * 1e3).toFixed(1)} ms`;
  return `${(seconds * 1e6).toFixed(0)} µs`;
}

function formatValue(group: ComparisonGroup, value: number): string {
  return group.kind === "time" ? formatDuration(value) : `${value.toFixed(2)} ms`;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function labelOf(group: ComparisonGroup, id: string): string {
  return group.contenders.find((c) => c.id === id)?.label ?? id;
}

/** "2 threads", "2 processes × 1 thread", or "not stated". */
export function formatParallelism(parallelism: Parallelism | null | undefined, withDetail = true): string {
  if (!parallelism) return "not stated";
  const threads = `${parallelism.threads} thread${parallelism.threads === 1 ? "" : "s"}`;
  const shown = parallelism.processes > 1 ? `${parallelism.processes} processes × ${threads}` : threads;
  return parallelism.detail && withDetail ? `${shown} (${parallelism.detail})` : shown;
}

/** The code line of the header: which commit, and whether the checkout had uncommitted changes. */
export function formatProvenance(code: CodeProvenance | undefined): string {
  if (!code || code.commit === null) return "commit unknown (not run from a git checkout)";
  const dirty = code.dirty === null ? "dirty state unknown" : code.dirty ? "**dirty**: uncommitted changes to tracked files" : "clean";
  return `commit \`${code.commit}\` (${dirty})`;
}

function contenderRow(group: ComparisonGroup, contender: ContenderResult, runs: number): string {
  const label = contender.computes ? `${contender.label} — computes ${contender.computes}` : contender.label;
  const threads = escapeCell(formatParallelism(contender.parallelism));
  if (contender.status !== "ok") {
    return `| ${escapeCell(label)} | ${contender.role} | ${threads} | **${contender.status}**: ${escapeCell(contender.reason)} | | | | |`;
  }
  const { min, median, max } = contender.summary;
  const throughput = contender.throughput ? `${contender.throughput.value.toFixed(contender.throughput.unit === "GB/s" ? 2 : 1)} ${contender.throughput.unit}` : "";
  const shown = contender.detail ? `${label} (${contender.detail})` : label;
  const count = runs > 1 && contender.runSamples ? contender.runSamples.map((r) => r.length).join(" + ") : String(contender.samples.length);
  return `| ${escapeCell(shown)} | ${contender.role} | ${threads} | ${formatValue(group, min)} | ${formatValue(group, median)} | ${formatValue(group, max)} | ${throughput} | ${count} |`;
}

function groupSection(group: ComparisonGroup, runs: number): string[] {
  const lines = [`### ${group.title}`, ""];
  const unitNote = group.kind === "time" ? "time per repetition" : "milliseconds, lower is better";
  const stats = runs > 1 ? `min of ${runs} run medians | median of ${runs} run medians | max of ${runs} run medians` : "min | median | max";
  lines.push(`| contender | role | threads | ${stats} | throughput (median) | timed runs |`, `| --- | --- | --- | --- | --- | --- | --- | --- |`);
  for (const contender of group.contenders) lines.push(contenderRow(group, contender, runs));
  lines.push("", `<sub>${unitNote}${runs > 1 ? `; timed runs per bench run, ${runs} bench runs` : ""}</sub>`, "");
  if (group.ratios.length > 0) {
    const perRunHeader = runs > 1 ? ` each run (min–max) |` : "";
    lines.push(`| ours ÷ peer (speed) | threads, ours ÷ peer | ratio |${perRunHeader} goal |`, `| --- | --- | --- |${runs > 1 ? " --- |" : ""} --- |`);
    for (const ratio of group.ratios) {
      // The reason is in the contender table above; here only who was missing ("X absent").
      const value = ratio.ratio === null ? `n/a (${escapeCell((ratio.reason ?? "not measured").split(":")[0]!)})` : `**${ratio.ratio.toFixed(2)}×**`;
      const goal = ratio.atLeast === undefined ? "" : `≥ ${ratio.atLeast}× ${ratio.met === undefined ? "(not measured)" : ratio.met ? "met" : "**not met**"}`;
      const threads = ratio.threads ? `${formatParallelism(ratio.threads.ours, false)} ÷ ${formatParallelism(ratio.threads.peer, false)}` : "not stated";
      const rewrite = group.contenders.find((c) => c.id === ratio.ours)?.computes ? " (ours rewrites the computation, see above)" : "";
      let perRun = "";
      if (runs > 1) {
        const spread = ratioSpread(ratio.perRun ?? []);
        perRun = ` ${(ratio.perRun ?? []).map((r) => (r === null ? "n/a" : `${r.toFixed(2)}×`)).join(", ")}${spread ? ` (${spread.min.toFixed(2)}–${spread.max.toFixed(2)}×)` : ""} |`;
      }
      lines.push(`| ${escapeCell(labelOf(group, ratio.ours))}${rewrite} ÷ ${escapeCell(labelOf(group, ratio.peer))} | ${escapeCell(threads)} | ${value} |${perRun} ${goal} |`);
    }
    lines.push("");
  }
  for (const check of group.checks) {
    const value = check.median === null ? `not measured (${check.reason ?? ""})` : `${check.median.toFixed(2)} ${group.unit}`;
    const verdict = check.met === undefined ? "" : check.met ? " — met" : " — **not met**";
    lines.push(`- goal: ${labelOf(group, check.contender)} ≤ ${check.atMost} ${group.unit}: ${value}${verdict}`);
  }
  for (const note of group.notes) lines.push(`- ${note}`);
  if (group.checks.length > 0 || group.notes.length > 0) lines.push("");
  return lines;
}

function suiteSection(suite: SuiteResult, chartFile: string | undefined, runs: number): string[] {
  const lines = [`## ${suite.suite}`, "", `Suite wall time: ${formatDuration(suite.wallSeconds)}.`, ""];
  if (chartFile) lines.push(`![${suite.suite} chart](${chartFile})`, "");
  for (const note of suite.notes) lines.push(`- ${note}`);
  if (suite.notes.length > 0) lines.push("");
  for (const group of suite.groups) lines.push(...groupSection(group, runs));
  return lines;
}

/** Renders the whole run; `chartFiles` maps a suite to its chart's file name (relative to the table). */
export function renderMarkdown(results: BenchResults, chartFiles: ReadonlyMap<string, string> = new Map()): string {
  const lines = [
    `# studykit benchmarks — ${results.date}${results.quick ? " (quick smoke run: small inputs, numbers not meaningful)" : ""}`,
    "",
    ...(results.complete ? [] : ["> **Partial results**: the run had not finished (or was interrupted) when this was written.", ""]),
    `- Machine: ${describeMachine(results.machine)}; native addon: ${results.machine.native.implementation} (sha256 ${results.machine.native.sha256Backend}); 1-min load average at start ${results.machine.loadAverageAtStart}.`,
    `- Code: ${formatProvenance(results.code)}.`,
    `- Started ${results.startedAt}; total wall time ${formatDuration(results.wallSeconds)}; command \`${results.command}\`.`,
    ...((results.runs ?? 1) > 1
      ? [`- The whole bench ran ${results.runs} times, one full pass after another. Each figure below is the median of the ${results.runs} run medians with their min and max; each ratio is computed from those medians, and every run's own ratio is listed beside it (the JSON keeps every run's samples).`]
      : []),
    "- Every contender ran in this one run on the same generated inputs, with warm-up runs discarded. Ratios are ours ÷ peer as speeds from medians: above 1 means ours is faster. Absolute times vary between machines; the ratios are the claim.",
    "- A contender that could not run is listed as absent (not installed here) or failed (it ran and threw), with the reason.",
    "",
  ];
  for (const suite of results.suites) lines.push(...suiteSection(suite, chartFiles.get(suite.suite), results.runs ?? 1));
  return `${lines.join("\n").trimEnd()}\n`;
}
