import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

// The --quick smoke run spawns many measured processes; give it more room than the shared default.
export default mergeConfig(shared, defineConfig({ test: { testTimeout: 120_000 } }));
