/**
 * JSON documents shared between processes: validated reads, and read-modify-write updates that hold the
 * document's lock (`<path>.lock`) and replace the file atomically, so concurrent writers never lose each
 * other's updates and a writer killed at any instant leaves the old or the new document, never a torn one.
 */
import { readFile } from "node:fs/promises";
import type { ZodType } from "zod";
import { sweepStaleTempFiles, writeJsonAtomic } from "../../fs/atomic-file.js";
import { CoreError, CoreErrorCode } from "../../errors.js";
import { withLock, type LockOptions } from "./file-lock.js";

const MAX_REPORTED_ISSUES = 20;

/** Options of {@link readJsonFile}. */
export interface ReadJsonOptions<T> {
  /** Validates the parsed document; every problem is reported (capped at 20) in one `E_JSON_INVALID`. */
  readonly schema?: ZodType<T>;
}

/** Options of {@link updateJsonFile}. */
export interface UpdateJsonOptions<T> extends ReadJsonOptions<T> {
  /** Lock timeout and staleness (see `acquireLock`); the purpose defaults to `update <path>`. */
  readonly lock?: Partial<LockOptions>;
}

/** Checks `value` against `schema`, reporting every issue with its JSON path. */
export function validateJson<T>(value: unknown, schema: ZodType<T>, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const lines = issues.slice(0, MAX_REPORTED_ISSUES).map((issue) => {
    const at = issue.path.length === 0 ? "(root)" : issue.path.map(String).join(".");
    return `  ${at}: ${issue.message}`;
  });
  if (issues.length > MAX_REPORTED_ISSUES) lines.push(`  ... and ${issues.length - MAX_REPORTED_ISSUES} more`);
  return failInvalid(`${what} does not match its schema (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n${lines.join("\n")}`);
}

function failInvalid(message: string): never {
  throw new CoreError(CoreErrorCode.JsonInvalid, message);
}

async function readParsed(path: string): Promise<{ found: boolean; value: unknown }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { found: false, value: undefined };
    throw error;
  }
  try {
    return { found: true, value: JSON.parse(text) };
  } catch (error) {
    throw new CoreError(CoreErrorCode.JsonInvalid, `${path} is not valid JSON (${(error as Error).message}); restore it from a backup or delete it to start over`, { cause: error });
  }
}

/** Reads and parses the JSON file at `path`, validating it when a schema is given. */
export async function readJsonFile<T = unknown>(path: string, options: ReadJsonOptions<T> = {}): Promise<T> {
  const { found, value } = await readParsed(path);
  if (!found) {
    const error = new Error(`ENOENT: no such file, open '${path}'`) as NodeJS.ErrnoException;
    error.code = "ENOENT";
    error.path = path;
    throw error;
  }
  return options.schema ? validateJson(value, options.schema, path) : (value as T);
}

/**
 * Read-modify-write of the JSON document at `path` under its lock (`<path>.lock`), written atomically.
 *
 * `mutate` receives the current document (validated when a schema is given), or `undefined` when the file
 * does not exist yet, and returns the new document (it may also modify the one it got and return it).
 * The result is validated before it is written, so an invalid update never reaches the disk. Returns the
 * document as written.
 */
export async function updateJsonFile<T>(
  path: string,
  mutate: (current: T | undefined) => T | Promise<T>,
  options: UpdateJsonOptions<T> = {},
): Promise<T> {
  return withLock(
    `${path}.lock`,
    async (lock) => {
      // Writers killed mid-update leave temp files of the document or of its lock behind; sweep them
      // while holding the lock (a live writer's temp files are never touched: their pid is alive).
      await sweepStaleTempFiles(path);
      await sweepStaleTempFiles(lock.path);
      const { found, value } = await readParsed(path);
      const current = found ? (options.schema ? validateJson(value, options.schema, path) : (value as T)) : undefined;
      const next = await mutate(current);
      const checked = options.schema ? validateJson(next, options.schema, `update of ${path}`) : next;
      await writeJsonAtomic(path, checked);
      return checked;
    },
    { ...options.lock, purpose: options.lock?.purpose ?? `update ${path}` },
  );
}
