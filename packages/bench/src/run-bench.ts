/** Runs the chosen suites in one process, then writes the JSON, the Markdown table and one chart per suite. */
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { hasErrorCode, writeFileAtomic } from "@studykit/native";
import { BenchUsageError } from "./errors.js";
import { contenderProblems } from "./contender-requirements.js";
import { codeProvenance, machineInfo } from "./machine-info.js";
import { renderMarkdown } from "./markdown-report.js";
import { RESULTS_SCHEMA_VERSION, SUITE_NAMES, type BenchResults, type SuiteName, type SuiteResult } from "./results.js";
import { combineRuns } from "./repeated-runs.js";
import { renderSuiteChartSvg } from "./internal/suite-chart.js";
import type { SuiteContext } from "./internal/suite-context.js";
import { runHashSuite } from "./internal/suites/hash-suite.js";
import { runNpzSuite } from "./internal/suites/npz-suite.js";
import { runInferSuite, runTrainSuite } from "./internal/suites/model-suites.js";
import { runStudySuite } from "./internal/suites/study-suite.js";
import { runFftSuite } from "./internal/suites/fft-suite.js";
import { runEpieSuite } from "./internal/suites/epie-suite.js";
import { runPinnSuite } from "./internal/suites/pinn-suite.js";
import { runQueueSuite } from "./internal/suites/queue-suite.js";

const SUITES: Record<SuiteName, (context: SuiteContext) => Promise<SuiteResult>> = {
  hash: runHashSuite,
  npz: runNpzSuite,
  train: runTrainSuite,
  infer: runInferSuite,
  study: runStudySuite,
  fft: runFftSuite,
  epie: runEpieSuite,
  pinn: runPinnSuite,
  queue: runQueueSuite,
};

const INTERRUPTS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Most `--runs` a bench takes: a full run takes many minutes, and more runs narrow nothing a reader needs. */
export const MAX_RUNS = 20;

/** Checks a `--runs` value: a whole number from 1 to {@link MAX_RUNS}. */
export function parseRunCount(value: string | number): number {
  const runs = typeof value === "number" ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(runs) || runs < 1 || runs > MAX_RUNS) throw new BenchUsageError(`--runs must be a whole number from 1 to ${MAX_RUNS}, got "${String(value)}"`);
  return runs;
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
  /**
   * Times the whole bench runs, one full pass after another (default 1): the results quote the median of
   * the run medians with their min–max, and keep every run (see repeated-runs.ts).
   */
  readonly runs?: number;
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
  /**
   * Why this run counts as failed, one line each (see contender-requirements.ts): a required contender
   * not measured, a contender that failed, a crashed suite. Empty for a passing run.
   */
  readonly problems: readonly string[];
}

/** Runs the benchmark suites side by side and writes their results. */
export async function runBench(options: BenchOptions = {}): Promise<BenchRun> {
  const quick = options.quick ?? false;
  const runs = parseRunCount(options.runs ?? 1);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const chosen = options.suites && options.suites.length > 0 ? SUITE_NAMES.filter((s) => options.suites!.includes(s)) : [...SUITE_NAMES];
  const cwd = options.cwd ?? process.cwd();
  const outDir = resolve(cwd, options.outDir ?? (quick ? join(tmpdir(), "studykit-bench-quick") : join("bench", "results")));
  const startedAt = new Date();
  const date = startedAt.toISOString().slice(0, 10);
  const baseName = `${date}${chosen.length < SUITE_NAMES.length ? `-${chosen.join("-")}` : ""}${quick ? "-quick" : ""}${runs > 1 ? `-runs${runs}` : ""}`;
  const files = {
    json: options.jsonFile ? resolve(cwd, options.jsonFile) : join(outDir, `${baseName}.json`),
    markdown: join(outDir, `${baseName}.md`),
    charts: [] as string[],
  };
  const machine = machineInfo();
  const code = codeProvenance();
  const started = performance.now();
  // Each run's suites; the last one may still be going.
  const perRun: SuiteResult[][] = [];
  const snapshot = (complete: boolean): BenchResults => {
    // A partial file combines the runs that finished (or shows the first run while it is going).
    const finished = complete ? perRun : perRun.filter((run) => run.length === chosen.length);
    const shown = finished.length > 0 ? finished : perRun.slice(0, 1);
    return {
      schemaVersion: RESULTS_SCHEMA_VERSION,
      startedAt: startedAt.toISOString(),
      date,
      quick,
      complete,
      command: options.command ?? `npm run bench --${quick ? " --quick" : ""}${runs > 1 ? ` --runs ${runs}` : ""}${chosen.length < SUITE_NAMES.length ? ` ${chosen.map((s) => `--suite ${s}`).join(" ")}` : ""}`,
      code,
      machine,
      wallSeconds: (performance.now() - started) / 1000,
      runs,
      suites: shown.length > 0 ? combineRuns(shown) : [],
      ...(runs > 1 ? { perRun: perRun.map((run) => [...run]) } : {}),
    };
  };
  await mkdir(outDir, { recursive: true });
  await mkdir(dirname(files.json), { recursive: true });

  const scratchDir = await mkdtemp(join(tmpdir(), "studykit-bench-"));
  // The scratch folder holds gigabytes: remove it even when the run is interrupted or crashes.
  const removeScratch = () => rmSync(scratchDir, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals) => {
    removeScratch();
    process.kill(process.pid, signal);
  };
  process.once("exit", removeScratch);
  for (const signal of INTERRUPTS) process.once(signal, onSignal);
  let suiteFailed = false;
  try {
    for (let run = 0; run < runs; run++) {
      const suites: SuiteResult[] = [];
      perRun.push(suites);
      for (const name of chosen) {
        log(`== suite ${name}${quick ? " (quick)" : ""}${runs > 1 ? `, run ${run + 1} of ${runs}` : ""}`);
        const suiteStarted = performance.now();
        let suite: SuiteResult;
        try {
          suite = await SUITES[name]({ quick, scratchDir, log });
        } catch (error) {
          suiteFailed = true;
          const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
          const reason = hasErrorCode(error) ? `[${error.code}] ${message}` : message;
          log(`suite ${name} failed: ${reason}`);
          suite = { suite: name, wallSeconds: (performance.now() - suiteStarted) / 1000, groups: [], notes: [`suite failed: ${reason}`] };
        }
        suites.push(suite);
        // The chart of the suite as combined over the runs so far.
        const svg = await renderSuiteChartSvg(combineRuns(perRun.map((r) => r.filter((s) => s.suite === name)))[0]!, date);
        if (svg !== null) {
          const chart = join(outDir, `${baseName}-${suite.suite}.svg`);
          await writeFileAtomic(chart, svg);
          if (!files.charts.includes(chart)) files.charts.push(chart);
        }
        // Written after every suite, so an interrupted run still leaves the suites it finished.
        await writeResults(files, snapshot(false));
      }
    }
  } finally {
    process.off("exit", removeScratch);
    for (const signal of INTERRUPTS) process.off(signal, onSignal);
    await rm(scratchDir, { recursive: true, force: true });
  }
  const results = snapshot(true);
  await writeResults(files, results);
  log(`results: ${relative(cwd, files.json) || files.json}, ${relative(cwd, files.markdown) || files.markdown}${files.charts.length > 0 ? `, ${files.charts.length} chart(s)` : ""}`);
  // Each run on its own as well as combined: a suite that crashed in one run only is still a problem.
  const problems = [...new Set([...perRun.flatMap((suites, i) => contenderProblems({ suites }).map((p) => (runs > 1 ? `run ${i + 1}: ${p}` : p))), ...(runs > 1 ? contenderProblems(results) : [])])];
  return { results, files, suiteFailed, problems };
}

async function writeResults(files: { json: string; markdown: string; charts: readonly string[] }, results: BenchResults): Promise<void> {
  const chartFiles = new Map<string, string>();
  for (const chart of files.charts) {
    const suite = results.suites.find((s) => chart.endsWith(`-${s.suite}.svg`));
    if (suite) chartFiles.set(suite.suite, basename(chart));
  }
  await writeFileAtomic(files.markdown, renderMarkdown(results, chartFiles));
  await writeFileAtomic(files.json, `${JSON.stringify(results, null, 2)}\n`);
}
