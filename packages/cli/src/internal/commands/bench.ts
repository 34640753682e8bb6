/** `studykit bench`: runs the benchmarking harness (see `@studykit/bench`) and prints where the table is. */
import type { Command } from "commander";
import type { CliContext } from "../../cli-context.js";

interface BenchFlags {
  suite?: string[];
  quick?: boolean;
  runs?: string;
  json?: string;
  out?: string;
}

export function registerBenchCommand(program: Command, context: CliContext): void {
  program
    .command("bench")
    .description("measure studykit side by side with its peers (numpy, PyTorch, node:crypto, sha256sum) and write JSON, a Markdown table and charts")
    .option("--suite <name>", "suite to run, repeatable: hash|npz|train|infer|study|fft|epie|pinn|queue (default: all)", (value: string, previous?: string[]) => [...(previous ?? []), value])
    .option("--quick", "small inputs and few repetitions: a smoke test of the harness, not a measurement")
    .option("--runs <k>", "run the whole bench K times and report the median of the K run medians with their min–max (default 1)")
    .option("--json <file>", "write the JSON results to FILE")
    .option("--out <dir>", "folder for the results (default bench/results, or a temp folder with --quick)")
    .action(async (flags: BenchFlags) => {
      // Loaded on use: the harness pulls in every package's heavy dependencies (TF.js, ONNX Runtime, vega),
      // which other commands should not pay for at start-up.
      const { assertNoContenderProblems, parseRunCount, parseSuiteName, runBench } = await import("@studykit/bench");
      const suites = (flags.suite ?? []).flatMap((s) => s.split(",")).map(parseSuiteName);
      const runs = flags.runs === undefined ? 1 : parseRunCount(flags.runs);
      const args = [...suites.map((s) => `--suite ${s}`), ...(flags.quick ? ["--quick"] : []), ...(runs > 1 ? [`--runs ${runs}`] : []), ...(flags.json ? [`--json ${flags.json}`] : [])];
      const run = await runBench({
        suites,
        quick: flags.quick ?? false,
        runs,
        cwd: context.cwd,
        ...(flags.json ? { jsonFile: flags.json } : {}),
        ...(flags.out ? { outDir: flags.out } : {}),
        log: (line) => context.stderr(`${line}\n`),
        command: ["studykit bench", ...args].join(" "),
      });
      context.stdout(`${run.files.markdown}\n`);
      // The same decision as `studykit-bench`: a broken required engine or peer fails the run (exit 1).
      assertNoContenderProblems(run.problems);
      if (run.suiteFailed) context.exitCode = 1;
    });
}
