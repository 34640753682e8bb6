/**
 * `studykit runs compare A B [--mode strict|warn|off] [--json]` (also `studykit study compare A B`): whether two runs (study output roots, run
 * roots, or their manifests) can be compared — `@studykit/core`'s comparability verdict on their recorded
 * identities, through `@studykit/study`'s `compareRuns` — what differs in their identities (config,
 * dataset snapshot, code version, runtime, seeds), and the metric deltas (B − A) of every network job and
 * iterative reconstruction both studies scored in Phase G.
 *
 * `strict` (the default) refuses incomparable runs with `error[E_RUNS_INCOMPARABLE]` listing the reasons
 * (exit 2); `warn` prints them as warnings on stderr and goes on; `off` goes on silently.
 */
import type { Command } from "commander";
import type { CellDelta, RunComparison, RunComparisonMode } from "@studykit/study";
import type { CliContext } from "../../cli-context.js";
import { UsageError } from "../../errors.js";

const MODES: readonly RunComparisonMode[] = ["strict", "warn", "off"];

function parseMode(value: string): RunComparisonMode {
  if (!(MODES as readonly string[]).includes(value)) throw new UsageError(`--mode must be strict, warn or off, got ${JSON.stringify(value)}`);
  return value as RunComparisonMode;
}

const number = (value: number): string => (Number.isFinite(value) ? (Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(3) : value.toFixed(4)) : String(value));

function formatComparison(result: RunComparison): string {
  const lines = [
    `A: ${result.a.runId ?? "(no run id)"} (${result.a.manifest})`,
    `B: ${result.b.runId ?? "(no run id)"} (${result.b.manifest})`,
    `comparability (${result.mode}): ${result.comparability.level}${result.comparability.comparable ? "" : " — NOT comparable"}`,
    "identity:",
  ];
  const parts: [string, readonly string[]][] = [
    ["config", result.differences.config],
    ["dataset snapshot", result.differences.datasetSnapshot],
    ["code version", result.differences.codeVersion],
    ["runtime", result.differences.runtime],
    ["seeds", result.differences.seeds],
    ["other", result.differences.other],
  ];
  for (const [name, messages] of parts) {
    if (name === "other" && messages.length === 0) continue;
    lines.push(messages.length === 0 ? `  ${name}: same` : `  ${name}: differs`);
    for (const message of messages) lines.push(`    ${message}`);
  }
  if (result.metrics === null) {
    lines.push("metrics: not compared (a run has no Phase G comparison.json)");
  } else {
    lines.push("metric deltas (B − A):");
    let current = "";
    for (const delta of result.metrics.deltas) {
      const key = `${delta.section}: ${delta.id}`;
      if (key !== current) {
        lines.push(`  ${key}`);
        current = key;
      }
      const value = (entry: number | null): string => (entry === null ? "none" : number(entry));
      const change = delta.delta === null ? "—" : `${delta.delta >= 0 ? "+" : ""}${number(delta.delta)}`;
      lines.push(`    ${delta.metric.padEnd(22)} ${value(delta.a).padStart(11)} → ${value(delta.b).padStart(11)}  Δ ${change}`);
    }
    for (const id of result.metrics.onlyInA) lines.push(`  only in A: ${id}`);
    for (const id of result.metrics.onlyInB) lines.push(`  only in B: ${id}`);
    const { replicates } = result.metrics;
    // With replicates, each cell over all of them: the mean ± 95% interval in A and B and whether it supports the change.
    if (replicates.a > 1 || replicates.b > 1) {
      lines.push(`replicate cells (mean ± 95% interval over A's ${replicates.a} and B's ${replicates.b} replicates; B − A):`);
      const interval = (entry: CellDelta["a"]): string => (entry === null ? "none" : `${number(entry.mean)}${entry.halfWidth === null ? "" : ` ± ${number(entry.halfWidth)}`} (n=${entry.n})`);
      let current = "";
      for (const cell of result.metrics.cells) {
        const key = `dose ${cell.dose}, ${cell.view}, ${cell.method}`;
        if (key !== current) {
          lines.push(`  ${key}`);
          current = key;
        }
        const change = cell.delta === null ? "—" : `${cell.delta >= 0 ? "+" : ""}${number(cell.delta)}`;
        lines.push(`    ${cell.metric.padEnd(22)} ${interval(cell.a)} → ${interval(cell.b)}  Δ ${change} (${cell.verdict})`);
      }
    }
  }
  return lines.join("\n");
}

export function registerRunsCommand(program: Command, context: CliContext): void {
  const runs = program.command("runs").description("work with finished runs and studies");
  registerCompareCommand(runs, context);
}

/** Adds `compare A B` under `parent` (`studykit runs compare`, and `studykit study compare` for two study outputs). */
export function registerCompareCommand(parent: Command, context: CliContext): void {
  parent
    .command("compare")
    .description("say whether two runs are comparable, what differs in their identities, and their metric deltas (B − A)")
    .argument("<a>", "a study output root, a run root, or its study_manifest.json / run-manifest.json")
    .argument("<b>", "the run to compare it with")
    .option("--mode <mode>", "strict (refuse incomparable runs, exit 2), warn (print the reasons and go on) or off", parseMode, "strict" as RunComparisonMode)
    .option("--json", "print the comparison as JSON")
    .action(async (a: string, b: string, flags: { mode: RunComparisonMode; json?: boolean }) => {
      const path = await import("node:path");
      const { compareRuns } = await import("@studykit/study");
      const result = await compareRuns(path.resolve(context.cwd, a), path.resolve(context.cwd, b), { mode: flags.mode });
      for (const warning of result.warnings) context.stderr(`warning: ${warning}\n`);
      context.stdout(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatComparison(result)}\n`);
    });
}
