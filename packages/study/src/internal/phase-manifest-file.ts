/**
 * Reading a phase's `phase_manifest.json` back (Phases C, D and F): the one check every phase's reuse
 * decision and `--phase-c-root` / `--phase-d-root` start from. A manifest counts only when it is a JSON
 * object naming the expected phase and format version; anything else (no file, bad JSON, another phase,
 * an older format) is reported with the reason, and a phase treats it as "nothing to reuse".
 */
import { readFileSync } from "node:fs";

/** The phases that write a `phase_manifest.json`. */
export type ManifestPhase = "C" | "D" | "F";

/** A phase manifest as read: the parsed object and its bytes, or why it does not count. */
export type PhaseManifestRead<T> =
  | { readonly ok: true; readonly manifest: T; readonly bytes: Buffer }
  | { readonly ok: false; readonly reason: "missing" | "invalid"; readonly detail: string };

/** Reads `file` as the manifest of `phase` in `formatVersion` (see the module doc). */
export function readPhaseManifestFile<T>(file: string, phase: ManifestPhase, formatVersion: number): PhaseManifestRead<T> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    return { ok: false, reason: "missing", detail: (error as Error).message };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    return { ok: false, reason: "invalid", detail: `not valid JSON (${(error as Error).message})` };
  }
  const record = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as { phase?: unknown; formatVersion?: unknown }) : null;
  if (record === null || record.phase !== phase || record.formatVersion !== formatVersion) {
    return {
      ok: false,
      reason: "invalid",
      detail: `not a Phase ${phase} manifest of format ${formatVersion} (phase ${JSON.stringify(record?.phase ?? null)}, formatVersion ${JSON.stringify(record?.formatVersion ?? null)})`,
    };
  }
  return { ok: true, manifest: parsed as T, bytes };
}

/** The manifest, or null when there is none that counts (the phase then has nothing to reuse). */
export function readPhaseManifest<T>(file: string, phase: ManifestPhase, formatVersion: number): T | null {
  const read = readPhaseManifestFile<T>(file, phase, formatVersion);
  return read.ok ? read.manifest : null;
}
