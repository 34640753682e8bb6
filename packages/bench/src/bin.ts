#!/usr/bin/env node
/** `npm run bench [-- --suite NAME ...] [--quick] [--runs K] [--json FILE] [--out DIR]`: runs the harness. */
import { parseArgs } from "node:util";
import { hasErrorCode } from "@studykit/native";
import { BenchErrorCode } from "./errors.js";
import { parseRunCount, parseSuiteName, runBench } from "./run-bench.js";
import { assertNoContenderProblems } from "./contender-requirements.js";
import { SUITE_NAMES } from "./results.js";

const USAGE = `usage: studykit-bench [--suite ${SUITE_NAMES.join("|")}]... [--quick] [--runs K] [--json FILE] [--out DIR]`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: { suite: { type: "string", multiple: true }, quick: { type: "boolean" }, runs: { type: "string" }, json: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`error[E_BENCH_USAGE]: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const suites = (values.suite ?? []).flatMap((s) => s.split(",")).map(parseSuiteName);
    const runs = values.runs === undefined ? 1 : parseRunCount(values.runs);
    const run = await runBench({ suites, quick: values.quick ?? false, runs, ...(values.json ? { jsonFile: values.json } : {}), ...(values.out ? { outDir: values.out } : {}) });
    process.stdout.write(`${run.files.markdown}\n`);
    assertNoContenderProblems(run.problems);
    return run.suiteFailed ? 1 : 0;
  } catch (error) {
    const code = hasErrorCode(error) ? error.code : BenchErrorCode.Internal;
    process.stderr.write(`error[${code}]: ${(error as Error).message}\n`);
    return hasErrorCode(error) && (error as { userFacing?: boolean }).userFacing ? 2 : 1;
  }
}

process.exitCode = await main();
