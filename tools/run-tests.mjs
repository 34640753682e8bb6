#!/usr/bin/env node
// The README's test command (`npm test`): installs the system packages the tests need, builds every
// package and runs every package's tests through Nx, then, when anything failed, prints each failed test
// again at the very end, with its file and the start of its failure message. Nine packages' output
// interleaves (Nx runs two tasks at a time) and a CI log may keep only its start and its end, so a failure
// printed in the middle of the run is otherwise easy to lose. The failures come from the JSON copy of the
// results each vitest run writes to `.test-results/` (see vitest.shared.ts). Arguments go on to Nx's
// run-many (`npm test -- --projects=@studykit/data` runs one package's).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const resultsDir = path.join(root, ".test-results");
const MESSAGE_LINES = 30;

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit" });
  if (result.error) {
    console.error(`studykit: could not run ${command}: ${result.error.message}`);
    return 1;
  }
  return result.status ?? 1;
}

const stripAnsi = (text) => text.replace(/\u001b\[[0-9;]*m/g, "");
// Stack frames in vitest's or node's own code say nothing about the failure.
const runnerFrame = (line) => /^\s+at .*(node_modules|node:internal|<anonymous>)/.test(line);
const firstLines = (text, count) => {
  const lines = stripAnsi(text).split("\n").filter((line) => !runnerFrame(line));
  return lines.length <= count ? lines : [...lines.slice(0, count), `… (${lines.length - count} more lines above in the log)`];
};

/** Every failed test (and every test file that failed to load) in the JSON results the run left. */
function failures() {
  if (!existsSync(resultsDir)) return [];
  const found = [];
  for (const name of readdirSync(resultsDir).filter((file) => file.endsWith(".json")).sort()) {
    let report;
    try {
      report = JSON.parse(readFileSync(path.join(resultsDir, name), "utf8"));
    } catch (error) {
      found.push({ where: name, title: "(the results file could not be read)", message: String(error) });
      continue;
    }
    for (const file of report.testResults ?? []) {
      const where = path.relative(root, file.name);
      const failed = (file.assertionResults ?? []).filter((test) => test.status === "failed");
      for (const test of failed) found.push({ where, title: test.fullName, message: (test.failureMessages ?? []).join("\n") });
      if (failed.length === 0 && file.status === "failed") found.push({ where, title: "(the file failed outside its tests)", message: file.message ?? "" });
    }
  }
  return found;
}

rmSync(resultsDir, { recursive: true, force: true });
let status = run(process.execPath, [path.join(root, "tools", "ensure-system-deps.mjs")]);
if (status === 0) {
  status = run(path.join(root, "node_modules", ".bin", "nx"), ["run-many", "-t", "build", "test", "--outputStyle=stream", ...process.argv.slice(2)]);
  if (status !== 0) {
    const failed = failures();
    console.error(`\nstudykit: the test run failed (exit ${status}).`);
    if (failed.length === 0) console.error("No vitest test failed: a build, the Rust tests or a run that ended before writing its results did (see Nx's list of failed tasks above).");
    else console.error(`${failed.length} failed test(s), each printed in full above:`);
    for (const { where, title, message } of failed) {
      console.error(`\nFAIL ${where} > ${title}`);
      for (const line of firstLines(message, MESSAGE_LINES)) console.error(`  ${line}`);
    }
  }
}
process.exit(status);
