/**
 * Which implementation serves `@studykit/native` (the Rust addon or the pure-TypeScript fallback), and
 * why: every failed attempt to load the addon, with the Error it threw.
 */
import { nativeBinding, nativeLoadOutcome, type LoadAttempt } from "./internal/loader.js";

export type { LoadAttempt } from "./internal/loader.js";

/** Which implementation serves the API, and why. */
export interface NativeStatus {
  readonly implementation: "native" | "fallback";
  /** Path of the loaded `.node` file, when native. */
  readonly path: string | null;
  /** SHA-256 kernel in use: `x86-sha-ni`, `armv8-crypto`, `portable` or `node:crypto`. */
  readonly sha256Backend: string;
  readonly version: string | null;
  /** Every failed load attempt, in order. */
  readonly attempts: readonly LoadAttempt[];
}

/** Reports whether the addon is loaded (throws `E_NATIVE_UNAVAILABLE` when required but missing). */
export function nativeStatus(): NativeStatus {
  const binding = nativeBinding();
  const outcome = nativeLoadOutcome();
  if (binding) {
    const info = binding.nativeInfo();
    return { implementation: "native", path: outcome.path, sha256Backend: info.sha256Backend, version: info.version, attempts: outcome.attempts };
  }
  return { implementation: "fallback", path: null, sha256Backend: "node:crypto", version: null, attempts: outcome.attempts };
}
