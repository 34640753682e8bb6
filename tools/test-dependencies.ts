/**
 * Test dependencies that a machine may lack (python3 with numpy, redis-server, the files in ../shared/data,
 * the native addon): one rule for every package's tests. Outside CI, tests that need a missing dependency
 * are skipped with a warning that says what to install. Under CI (`CI` set to anything but "", "0" or
 * "false"; `.ci/run` exports it) a missing dependency is a failing test that names it, so CI cannot pass by
 * skipping. `tools/ensure-system-deps.mjs` installs the system packages before `npm test`.
 *
 * Used by test files only (vitest transpiles it); no package imports it.
 */
import { spawnSync } from "node:child_process";
import { it, type TestContext } from "vitest";

/** Whether this run is CI. */
export function isCI(): boolean {
  const value = (process.env.CI ?? "").trim().toLowerCase();
  return value !== "" && value !== "0" && value !== "false";
}

export interface TestDependency {
  /** What the tests need, as a reader would name it ("python3 with numpy", "redis-server"). */
  readonly name: string;
  /** Whether it is usable on this machine. */
  readonly available: boolean;
  /** How to get it ("apt-get install -y redis-server"). */
  readonly install: string;
}

function missingMessage(dependency: TestDependency): string {
  return `${dependency.name} is not available: ${dependency.install}`;
}

/**
 * Whether the tests that need `dependency` must be skipped (use with `it.skipIf` / `describe.skipIf`).
 * False when it is available. When it is missing: outside CI, true with a warning; under CI, true as well,
 * but a failing test named after the dependency is registered in its place, so the run fails.
 * Call it while tests are being collected (module scope or inside `describe`).
 */
export function skipWithout(dependency: TestDependency): boolean {
  if (dependency.available) return false;
  if (isCI()) {
    it(`has ${dependency.name} (required under CI)`, () => {
      throw new Error(`${missingMessage(dependency)}; under CI a missing test dependency is a failure, not a skip (tools/ensure-system-deps.mjs installs the system packages)`);
    });
  } else {
    console.warn(`skipping the tests that need ${dependency.name}: ${missingMessage(dependency)}`);
  }
  return true;
}

/**
 * The same rule for a dependency found missing inside a running test: skips it outside CI, fails it under CI.
 */
export function skipOrFail(context: TestContext, dependency: TestDependency): void {
  if (dependency.available) return;
  if (isCI()) throw new Error(`${missingMessage(dependency)}; under CI a missing test dependency is a failure, not a skip`);
  context.skip(missingMessage(dependency));
}

/** The python interpreters tried, in order: the one on PATH (often pyenv's), then Debian's. */
export const PYTHON_CANDIDATES = ["python3", "/usr/bin/python3"] as const;

/** The first python3 of {@link PYTHON_CANDIDATES} that imports every one of `modules`, or null. */
export function findPython(...modules: string[]): string | null {
  const probe = modules.length > 0 ? `import ${modules.join(", ")}` : "pass";
  return PYTHON_CANDIDATES.find((python) => spawnSync(python, ["-c", probe], { stdio: "ignore" }).status === 0) ?? null;
}

/** The dependency "a python3 that imports `modules`", with the Debian packages that provide it. */
export function pythonDependency(python: string | null, modules: readonly string[], debianPackages: readonly string[]): TestDependency {
  return {
    name: `python3 with ${modules.join(" and ")}`,
    available: python !== null,
    install: `none of ${PYTHON_CANDIDATES.join(", ")} imports ${modules.join(", ")}; apt-get install -y ${debianPackages.join(" ")} (for /usr/bin/python3), or pip install ${modules.join(" ")}`,
  };
}
