/** The human-readable table of a run: one section per suite, one table per comparison group. */
import { describeMachine } from "./machine-info.js";
import type { BenchResults, ComparisonGroup, ContenderResult, SuiteResult } from "./results.js";

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

function contenderRow(group: ComparisonGroup, contender: ContenderResult): string {
  if (contender.status !== "ok") {
    return `| ${escapeCell(contender.label)} | ${contender.role} | **${contender.status}**: ${escapeCell(contender.reason)} | | | | |`;
  }
  const { min, median, max } = contender.summary;
  const throughput = contender.throughput ? `${contender.throughput.value.toFixed(contender.throughput.unit === "GB/s" ? 2 : 1)} ${contender.throughput.unit}` : "";
  const label = contender.detail ? `${contender.label} (${contender.detail})` : contender.label;
  return `| ${escapeCell(label)} | ${contender.role} | ${formatValue(group, min)} | ${formatValue(group, median)} | ${formatValue(group, max)} | ${throughput} | ${contender.samples.length} |`;
}

function groupSection(group: ComparisonGroup): string[] {
  const lines = [`### ${group.title}`, ""];
  const unitNote = group.kind === "time" ? "time per repetition" : "milliseconds, lower is better";
  lines.push(`| contender | role | min | median | max | throughput (median) | runs |`, `| --- | --- | --- | --- | --- | --- | --- |`);
  for (const contender of group.contenders) lines.push(contenderRow(group, contender));
  lines.push("", `<sub>${unitNote}</sub>`, "");
  if (group.ratios.length > 0) {
    lines.push(`| ours ÷ peer (speed) | ratio | goal |`, `| --- | --- | --- |`);
    for (const ratio of group.ratios) {
      // The reason is in the contender table above; here only who was missing ("X absent").
      const value = ratio.ratio === null ? `n/a (${escapeCell((ratio.reason ?? "not measured").split(":")[0]!)})` : `**${ratio.ratio.toFixed(2)}×**`;
      const goal = ratio.atLeast === undefined ? "" : `≥ ${ratio.atLeast}× ${ratio.met === undefined ? "(not measured)" : ratio.met ? "met" : "**not met**"}`;
      lines.push(`| ${escapeCell(labelOf(group, ratio.ours))} ÷ ${escapeCell(labelOf(group, ratio.peer))} | ${value} | ${goal} |`);
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

function suiteSection(suite: SuiteResult, chartFile: string | undefined): string[] {
  const lines = [`## ${suite.suite}`, "", `Suite wall time: ${formatDuration(suite.wallSeconds)}.`, ""];
  if (chartFile) lines.push(`![${suite.suite} chart](${chartFile})`, "");
  for (const note of suite.notes) lines.push(`- ${note}`);
  if (suite.notes.length > 0) lines.push("");
  for (const group of suite.groups) lines.push(...groupSection(group));
  return lines;
}

/** Renders the whole run; `chartFiles` maps a suite to its chart's file name (relative to the table). */
export function renderMarkdown(results: BenchResults, chartFiles: ReadonlyMap<string, string> = new Map()): string {
  const lines = [
    `# studykit benchmarks — ${results.date}${results.quick ? " (quick smoke run: small inputs, numbers not meaningful)" : ""}`,
    "",
    ...(results.complete ? [] : ["> **Partial results**: the run had not finished (or was interrupted) when this was written.", ""]),
    `- Machine: ${describeMachine(results.machine)}; native addon: ${results.machine.native.implementation} (sha256 ${results.machine.native.sha256Backend}); 1-min load average at start ${results.machine.loadAverageAtStart}.`,
    `- Started ${results.startedAt}; total wall time ${formatDuration(results.wallSeconds)}; command \`${results.command}\`.`,
    "- Every contender ran in this one run on the same generated inputs, with warm-up runs discarded. Ratios are ours ÷ peer as speeds from medians: above 1 means ours is faster. Absolute times vary between machines; the ratios are the claim.",
    "- A contender that could not run is listed as absent (not installed here) or failed (it ran and threw), with the reason.",
    "",
  ];
  for (const suite of results.suites) lines.push(...suiteSection(suite, chartFiles.get(suite.suite)));
  return `${lines.join("\n").trimEnd()}\n`;
}
