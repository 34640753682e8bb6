import { defineConfig } from "vitest/config";
import { testReporters } from "../vitest.shared.ts";

// Cross-package and end-to-end tests: they drive the built packages and the `studykit` binary.
export default defineConfig({
  test: {
    root: new URL(".", import.meta.url).pathname,
    include: ["**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: [...testReporters("tests")],
  },
});
