import { defineConfig } from "vitest/config";

// CLI tests spawn real `studykit` processes; on a loaded 2-core machine start-up alone can take seconds.
export default defineConfig({ test: { include: ["src/**/*.test.ts", "test/**/*.test.ts"], testTimeout: 60_000 } });
