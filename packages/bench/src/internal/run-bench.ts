/** Runs the chosen suites in one process, then writes the JSON, the Markdown table and one chart per suite. */
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { StudykitError } from "@studykit/native";
import { writeFileAtomic } from "./atomic-write.js";
import { machineInfo } from "./machine-info.js";
import { renderMarkdown } from "./markdown-report.js";
import { RESULTS_SCHEMA_VERSION, SUITE_NAMES, type BenchResults, type SuiteName, type SuiteResult } from "./results.js";
import { renderSuiteChartSvg } from "./suite-chart.js";
import type { SuiteContext } from "./suite-context.js";
import { runHashSuite } from "./suites/hash-suite.js";
import { runNpzSuite } from "./suites/npz-suite.js";
import { runInferSuite, runTrainSuite } from "./suites/model-suites.js";
import { runStudySuite } from "./suites/study-suite.js";

const SUITES: Record<SuiteName, (context: SuiteContext) => Promise<SuiteResult>> = {
  hash: runHashSuite,
  npz: runNpzSuite,
  train: runTrainSuite,
  infer: runInferSuite,
  study: runStudySuite,
};

const INTERRUPTS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Bad `--suite` values and the like. */
export class BenchUsageError extends StudykitError {
  constructor(message: string) {
    super("E_BENCH_USAGE", message, { userFacing: true });
  }
}

/** Checks a suite name, naming the valid ones when it is not. */
export function parseSuiteName(value: string): SuiteName {
  if ((SUITE_NAMES as readonly string[]).includes(value)) return value as SuiteName;
  throw new BenchUsageError(`unknown bench suite "${value}": use one of ${SUITE_NAMES.join(", ")}`);
}

export interface BenchOptions {
  /** Suites to run, in the harness's order; all of them when empty or absent. */
  readonly suites?: readonly SuiteName[];
  /** Small inputs and few repetitions (the CI smoke test); says nothing about speed. */
  readonly quick?: boolean;
  /** Folder for `<date>.json`, `<date>.md` and the charts (default `bench/results`, or a temp folder with `quick`). */
  readonly outDir?: string;
  /** Where to write the JSON instead of `<outDir>/<name>.json`. */
  readonly jsonFile?: string;
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
  /** Shown in the table as how to rerun it. */
  readonly command?: string;
  /** Base for relative paths (default: the process's working directory). */
  readonly cwd?: string;
}

export interface BenchRun {
  readonly results: BenchResults;
  readonly files: { readonly json: string; readonly markdown: string; readonly charts: readonly string[] };
  /** True when a suite itself crashed (a harness bug, not an absent peer). */
  readonly suiteFailed: boolean;
}

/** Runs the benchmark suites side by side and writes their results. */
export async function runBench(options: BenchOptions = {}): Promise<BenchRun> {
  const quick = options.quick ?? false;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const chosen = options.suites && options.suites.length > 0 ? SUITE_NAMES.filter((s) => options.suites!.includes(s)) : [...SUITE_NAMES];
  const cwd = options.cwd ?? process.cwd();
  const outDir = resolve(cwd, options.outDir ?? (quick ? join(tmpdir(), "studykit-bench-quick") : join("bench", "results")));
  const startedAt = new Date();
  const date = startedAt.toISOString().slice(0, 10);
  const machine = machineInfo();
  const started = performance.now();
  const scratchDir = await mkdtemp(join(tmpdir(), "studykit-bench-"));
  // The scratch folder holds gigabytes: remove it even when the run is interrupted or crashes.
  const removeScratch = () => rmSync(scratchDir, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals) => {
    removeScratch();
    process.kill(process.pid, signal);
  };
  process.once("exit", removeScratch);
  for (const signal of INTERRUPTS) process.once(signal, onSignal);
  const suites: SuiteResult[] = [];
  let suiteFailed = false;
  try {
    for (const name of chosen) {
      log(`== suite ${name}${quick ? " (quick)" : ""}`);
      const suiteStarted = performance.now();
      try {
        suites.push(await SUITES[name]({ quick, scratchDir, log }));
      } catch (error) {
        suiteFailed = true;
        const reason = error instanceof Error ? error.message.split("\n")[0]! : String(error);
        log(`suite ${name} failed: ${reason}`);
        suites.push({ suite: name, wallSeconds: (performance.now() - suiteStarted) / 1000, groups: [], notes: [`suite failed: ${reason}`] });
      }
    }
  } finally {
    process.off("exit", removeScratch);
    for (const signal of INTERRUPTS) process.off(signal, onSignal);
    await rm(scratchDir, { recursive: true, force: true });
  }

  const results: BenchResults = {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    startedAt: startedAt.toISOString(),
    date,
    quick,
    command: options.command ?? `npm run bench --${quick ? " --quick" : ""}${chosen.length < SUITE_NAMES.length ? ` ${chosen.map((s) => `--suite ${s}`).join(" ")}` : ""}`,
    machine,
    wallSeconds: (performance.now() - started) / 1000,
    suites,
  };

  await mkdir(outDir, { recursive: true });
  const baseName = `${date}${chosen.length < SUITE_NAMES.length ? `-${chosen.join("-")}` : ""}${quick ? "-quick" : ""}`;
  const charts: string[] = [];
  const chartFiles = new Map<string, string>();
  for (const suite of suites) {
    const svg = await renderSuiteChartSvg(suite, date);
    if (svg === null) continue;
    const file = join(outDir, `${baseName}-${suite.suite}.svg`);
    await writeFileAtomic(file, svg);
    charts.push(file);
    chartFiles.set(suite.suite, basename(file));
  }
  const markdown = join(outDir, `${baseName}.md`);
  await writeFileAtomic(markdown, renderMarkdown(results, chartFiles));
  const json = options.jsonFile ? resolve(cwd, options.jsonFile) : join(outDir, `${baseName}.json`);
  await mkdir(dirname(json), { recursive: true });
  await writeFileAtomic(json, `${JSON.stringify(results, null, 2)}\n`);
  log(`results: ${relative(cwd, json) || json}, ${relative(cwd, markdown) || markdown}${charts.length > 0 ? `, ${charts.length} chart(s)` : ""}`);
  return { results, files: { json, markdown, charts }, suiteFailed };
}
