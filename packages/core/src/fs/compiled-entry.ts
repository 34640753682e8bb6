/**
 * Finds a package's compiled JavaScript entry for a worker thread or child process.
 *
 * A child process (`fork`) or worker thread needs plain JavaScript. Beside a module in `dist/` the entry is
 * its compiled neighbour; but when the calling module runs from `src/` (vitest runs the TypeScript
 * directly) there is no `.js` beside it, so the package's built twin under `dist/` (same relative folder)
 * is used instead. Test targets depend on the build, so that twin exists whenever tests run.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CoreError, CoreErrorCode } from "../errors.js";

/** Options of {@link resolveCompiledEntry}. */
export interface ResolveCompiledEntryOptions {
  /** The package to name in the "build it first" advice (default: "the package"). */
  readonly packageName?: string;
}

/**
 * The absolute path of `fileName` (e.g. `"job-child-entry.js"`) beside the module `fromModule` (pass
 * `import.meta.url`), or, when that module runs from `src/`, of its twin in the package's `dist/`.
 * Throws `E_ENTRY_MISSING` naming every path it looked at when neither exists.
 */
export function resolveCompiledEntry(fromModule: string | URL, fileName: string, options: ResolveCompiledEntryOptions = {}): string {
  const modulePath = fromModule instanceof URL || fromModule.startsWith("file:") ? fileURLToPath(fromModule) : fromModule;
  const here = path.dirname(path.resolve(modulePath));
  const beside = path.join(here, fileName);
  if (existsSync(beside)) return beside;
  const looked = [beside];
  const parts = here.split(path.sep);
  const srcIndex = parts.lastIndexOf("src");
  if (srcIndex >= 0) {
    const built = path.join([...parts.slice(0, srcIndex), "dist", ...parts.slice(srcIndex + 1)].join(path.sep), fileName);
    if (existsSync(built)) return built;
    looked.push(built);
  }
  const packageName = options.packageName ?? "the package";
  const build = options.packageName ? ` (npx nx run ${options.packageName}:build)` : "";
  throw new CoreError(CoreErrorCode.EntryMissing, `the compiled entry ${fileName} is missing (looked for ${looked.join(" and ")}): build ${packageName} first${build}`, { userFacing: false });
}
