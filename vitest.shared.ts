import { defineConfig } from "vitest/config";

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
  },
});
