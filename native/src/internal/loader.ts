/**
 * Finds and loads the native addon, once.
 *
 * Order: `STUDYKIT_NATIVE_PATH`, then the local build (`native/build/studykit-native.<platform>-<arch>.node`,
 * skipped when `STUDYKIT_NATIVE_DISABLE=1`).
 * Every failed attempt is recorded with the Error it threw (its code and stack intact). If none loads:
 * with `STUDYKIT_REQUIRE_NATIVE=1` we throw one error whose `cause` is an `AggregateError` of those
 * Errors; otherwise we fall back to pure TypeScript and warn once.
 */
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { IoError, IoErrorCode, NativeError, NativeErrorCode } from "../errors.js";
import { BINDING_FUNCTIONS, type NativeBinding } from "./binding.js";

/** One attempt to load the addon from a path. */
export interface LoadAttempt {
  readonly source: "STUDYKIT_NATIVE_PATH" | "local-build";
  readonly path: string;
  /**
   * Why it failed, as thrown: an `IoError` (`E_IO_NOT_FOUND`) for a missing file, Node's dlopen error
   * (`ERR_DLOPEN_FAILED`) for a file that is not a loadable addon, a `NativeError` (`E_NATIVE_MISMATCH`)
   * for an addon of another version or one missing a function.
   */
  readonly error: Error;
}

/** What the loader ended up with. */
export interface LoadOutcome {
  readonly binding: NativeBinding | null;
  readonly path: string | null;
  readonly attempts: readonly LoadAttempt[];
}

const requireNode = createRequire(import.meta.url);

function packageVersion(): string {
  const packageJson = fileURLToPath(new URL("../../package.json", import.meta.url));
  return (JSON.parse(readFileSync(packageJson, "utf8")) as { version: string }).version;
}

/** Path of the addon produced by `tools/build-native.mjs` for this platform. */
export function localBuildPath(): string {
  return fileURLToPath(new URL(`../../build/studykit-native.${process.platform}-${process.arch}.node`, import.meta.url));
}

function tryLoad(path: string, expectedVersion: string): NativeBinding {
  if (!existsSync(path)) throw new IoError(IoErrorCode.NotFound, `no file at ${path}`, path);
  const binding = requireNode(path) as Partial<NativeBinding>;
  for (const name of BINDING_FUNCTIONS) {
    if (typeof binding[name] !== "function") {
      throw new NativeError(NativeErrorCode.Mismatch, `${path} does not export ${name}(); it was built from other sources, rebuild it with \`npm run build\``);
    }
  }
  const full = binding as NativeBinding;
  const version = full.version();
  if (version !== expectedVersion) {
    throw new NativeError(
      NativeErrorCode.Mismatch,
      `native addon at ${path} is version ${version} but @studykit/native is ${expectedVersion}; rebuild it with \`npm run build\``,
    );
  }
  return full;
}

/** Loads the addon without caching (tests use this with a modified environment). */
export function loadNativeBinding(env: NodeJS.ProcessEnv = process.env): LoadOutcome {
  const expectedVersion = packageVersion();
  const candidates: { source: LoadAttempt["source"]; path: string }[] = [];
  if (env.STUDYKIT_NATIVE_PATH) candidates.push({ source: "STUDYKIT_NATIVE_PATH", path: env.STUDYKIT_NATIVE_PATH });
  // STUDYKIT_NATIVE_DISABLE=1 skips the local build, to run on the fallback on purpose.
  if (env.STUDYKIT_NATIVE_DISABLE !== "1") candidates.push({ source: "local-build", path: localBuildPath() });
  const attempts: LoadAttempt[] = [];
  for (const candidate of candidates) {
    try {
      return { binding: tryLoad(candidate.path, expectedVersion), path: candidate.path, attempts };
    } catch (error) {
      attempts.push({ ...candidate, error: error instanceof Error ? error : new Error(String(error), { cause: error }) });
    }
  }
  return { binding: null, path: null, attempts };
}

/** Builds the error thrown when native is required but nothing loaded. */
export function unavailableError(attempts: readonly LoadAttempt[]): NativeError {
  const list = attempts.map((attempt) => `  - ${attempt.source} ${attempt.path}: ${attempt.error.message}`).join("\n");
  return new NativeError(
    NativeErrorCode.Unavailable,
    `the studykit native addon could not be loaded and STUDYKIT_REQUIRE_NATIVE=1 forbids the fallback.\n` +
      `Attempts:\n${list}\nBuild it with \`npm run build\` (needs Rust/cargo), or point STUDYKIT_NATIVE_PATH at a built .node file.`,
    { cause: new AggregateError(attempts.map((attempt) => attempt.error), "every native addon load attempt failed"), userFacing: false },
  );
}

let cached: LoadOutcome | undefined;
let warned = false;

/**
 * The loaded binding, or `null` for the fallback. Throws `E_NATIVE_UNAVAILABLE` when native is required.
 */
export function nativeBinding(): NativeBinding | null {
  cached ??= loadNativeBinding();
  if (cached.binding) return cached.binding;
  if (process.env.STUDYKIT_REQUIRE_NATIVE === "1") throw unavailableError(cached.attempts);
  if (!warned) {
    warned = true;
    const reasons = cached.attempts.map((attempt) => `${attempt.source}: ${attempt.error.message}`).join("; ");
    process.emitWarning(`studykit native addon not loaded, using the pure-TypeScript fallback (${reasons})`, {
      code: "STUDYKIT_NATIVE_FALLBACK",
    });
  }
  return null;
}

/** The outcome of the (cached) load, for diagnostics. */
export function nativeLoadOutcome(): LoadOutcome {
  cached ??= loadNativeBinding();
  return cached;
}

let override: { readonly binding: NativeBinding | null } | undefined;

/**
 * Test hook: runs `body` with `binding` (`null`: the pure-TS fallback) in place of the loaded addon, so
 * one suite can run against every implementation. Public functions read the binding synchronously when
 * called, so an async function started inside `body` keeps it to the end.
 */
export function withBinding<T>(binding: NativeBinding | null, body: () => T): T {
  const previous = override;
  override = { binding };
  try {
    return body();
  } finally {
    override = previous;
  }
}

/** The binding public functions use: the test override if any, else the loaded addon (or `null`). */
export function activeBinding(): NativeBinding | null {
  return override ? override.binding : nativeBinding();
}
