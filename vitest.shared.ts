import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** Where each package's vitest run leaves its results as JSON (`.test-results/<folder>.json`). */
export const TEST_RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), ".test-results");

/**
 * The console reporter, plus a JSON copy of the results that `tools/run-tests.mjs` reads after the whole
 * run to print every failure again at the end: with nine packages' output interleaved, a failure printed
 * in the middle of a long log is easy to miss and may not survive a CI log's truncation.
 */
export function testReporters(folder: string = path.basename(process.cwd())) {
  return ["default", ["json", { outputFile: path.join(TEST_RESULTS_DIR, `${folder}.json`) }]] as const;
}

/**
 * Settings every package's vitest config starts from. Timeouts are generous on purpose: the suite runs on
 * 2-core CI machines, often beside other jobs, where a property test or a process start-up can take
 * seconds; speed is measured in the bench package, never asserted by a timeout here.
 */
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: [...testReporters()],
  },
});
