/**
 * Cross-process advisory locks built from lock files, portable to any local file system.
 *
 * A lock file holds `{ pid, host, createdAt, purpose, token }`. It is created complete and atomically:
 * the record is written and fsynced to a temp file which is then hard-linked to the lock path, and
 * `link` fails (`E_IO_EXISTS`) when the lock exists; so a lock file is never empty or half-written, even when
 * its creator is killed. (Node exposes neither `flock` nor `fcntl` locks, hence files.)
 *
 * A lock whose holder is dead is *stale* and is taken over: on the same host, the holder's pid no longer
 * exists; on another host (a shared file system) its pid cannot be checked, so it is stale once it has
 * not been refreshed for `staleAfterMs` (holders refresh the file's mtime while they hold it).
 * Takeover never moves or removes a lock file it has not proven stale. A lock file's text is unique (it
 * holds a random token), so takers of one stale lock first compete for a *takeover marker* named after
 * the SHA-256 of that text (`.<lock>.takeover-<first 32 hex>`, created with the same exclusive link). Only the
 * marker's winner may delete the lock file, and only after re-reading it and finding that same stale text.
 * That is race-free: a lock file can only be deleted by its live holder (on release) or by the one winner
 * for its exact text, so a live lock created after the stale one was removed can never be deleted by a
 * slow taker (its text, hence its marker, differs). Then every taker competes with an exclusive create
 * like any new acquirer. A marker whose taker died is itself stale and is removed the same way (a marker
 * for the marker), so a crash mid-takeover cannot wedge the lock.
 *
 * Within one process, waiters for the same lock queue in memory instead of polling the file.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import { readFile, readdir, stat, unlink, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { hasErrorCode, IoErrorCode, sha256 } from "@studykit/native";
import { isProcessAlive, sweepStaleTempFiles, writeFileAtomic } from "../../fs/atomic-file.js";
import { LockedError } from "../../errors.js";

/** What a lock file records about its holder. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** ISO 8601 time the lock was taken. */
  readonly createdAt: string;
  /** Why it is held, e.g. `"update run-manifest.json"`; shown in `E_LOCKED` messages. */
  readonly purpose: string;
  /** Random per-acquisition token, so a holder only ever releases its own lock file. */
  readonly token: string;
}

/** Options of {@link acquireLock}. */
export interface LockOptions {
  /** Why the lock is taken; recorded in the lock file and named in `E_LOCKED`. */
  readonly purpose: string;
  /** Give up with `E_LOCKED` after this many milliseconds of waiting (default 10 000; 0 = one try). */
  readonly timeoutMs?: number;
  /**
   * A lock held from *another host* counts as stale (and is taken over) once its file has not been
   * refreshed for this long. Holders refresh it every `staleAfterMs / 3`. Default: never stale, since a
   * remote holder's liveness cannot be checked otherwise. Same-host locks are stale exactly when the
   * holder's pid is dead, whatever this says.
   */
  readonly staleAfterMs?: number;
}

/** A held lock. */
export interface LockHandle {
  /** Absolute path of the lock file. */
  readonly path: string;
  readonly holder: LockHolder;
  /** True when this acquisition removed a stale lock (its holder died holding it); one taker per stale lock. */
  readonly tookOver: boolean;
  /** Releases the lock; idempotent. */
  release(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
// A lock file we cannot parse was not written by this module (which writes complete files); give a
// foreign writer this long before treating it as stale.
const UNREADABLE_LOCK_GRACE_MS = 2_000;
const MAX_POLL_MS = 50;

const heldLocks = new Map<string, LockHolder>();
// Tokens of this process's locks, held or being created: a lock file with our pid and one of these tokens
// is live even before its acquisition has finished.
const ownTokens = new Set<string>();
const inProcessTails = new Map<string, Promise<void>>();
let exitHookInstalled = false;

// Locks still held when the process exits are removed, so the next taker need not detect staleness.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const [path, holder] of heldLocks) {
      try {
        if (readFileSync(path, "utf8").includes(holder.token)) unlinkSync(path);
      } catch {
        // already gone
      }
    }
  });
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

async function readHolder(path: string): Promise<{ text: string; holder: LockHolder | null; mtimeMs: number } | null> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, mtimeMs] = await Promise.all([readFile(path, "utf8"), stat(path).then((info) => info.mtimeMs)]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid === "number" && typeof parsed.host === "string") {
      return { text, holder: { pid: parsed.pid, host: parsed.host, createdAt: String(parsed.createdAt ?? ""), purpose: String(parsed.purpose ?? ""), token: String(parsed.token ?? "") }, mtimeMs };
    }
  } catch {
    // fall through: unreadable
  }
  return { text, holder: null, mtimeMs };
}

function isStale(found: { holder: LockHolder | null; mtimeMs: number }, staleAfterMs: number | undefined): boolean {
  const age = Date.now() - found.mtimeMs;
  const { holder } = found;
  if (!holder) return age > (staleAfterMs ?? UNREADABLE_LOCK_GRACE_MS);
  if (holder.host === hostname()) {
    // Our own pid: stale unless this process really holds it (a reused pid or a leftover of an earlier
    // process with our pid).
    if (holder.pid === process.pid) return !ownTokens.has(holder.token);
    return !isProcessAlive(holder.pid);
  }
  return staleAfterMs !== undefined && age > staleAfterMs;
}

const TAKEOVER_MARK = ".takeover-";

// The marker that takers of the stale lock file `path` with text `staleText` compete for.
function takeoverMarkerPath(path: string, staleText: string): string {
  return join(dirname(path), `.${basename(path)}${TAKEOVER_MARK}${sha256(Buffer.from(staleText, "utf8")).slice(0, 32)}`);
}

/**
 * Deletes the stale lock file at `path` if it still has the text `staleText`; see the module doc for why
 * this is race-free. Returns whether this call deleted it: false when another taker is doing it or has
 * done it (the caller re-reads the lock).
 */
async function removeStaleLock(path: string, staleText: string, staleAfterMs: number | undefined): Promise<boolean> {
  const marker = takeoverMarkerPath(path, staleText);
  const taker: LockHolder = { pid: process.pid, host: hostname(), createdAt: new Date().toISOString(), purpose: `take over stale ${basename(path)}`, token: randomBytes(12).toString("hex") };
  ownTokens.add(taker.token);
  try {
    try {
      await writeFileAtomic(marker, `${JSON.stringify(taker)}\n`, { exclusive: true });
    } catch (error) {
      if (!hasErrorCode(error, IoErrorCode.Exists)) throw error;
      // Another taker holds the marker. If it died there, clear its marker (same protocol, one level up).
      const found = await readHolder(marker);
      if (found && isStale(found, staleAfterMs)) await removeStaleLock(marker, found.text, staleAfterMs);
      return false;
    }
    try {
      const current = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return null;
        throw error;
      });
      // Still the stale file: no one else may delete it while we hold its marker, and its holder is dead.
      if (current !== staleText) return false;
      return await unlink(path).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code === "ENOENT") return false;
          throw error;
        },
      );
    } finally {
      await unlink(marker).catch(() => undefined);
    }
  } finally {
    ownTokens.delete(taker.token);
  }
}

// Clears what takers that died mid-takeover left of `lockPath`: their markers (at any level) and the temp
// files of markers they were creating. Runs after every acquisition (a taker can die after removing the
// stale lock, so the next acquirer need not be a taker); a live taker's marker is never touched.
async function sweepStaleTakeoverMarkers(lockPath: string, staleAfterMs: number | undefined): Promise<void> {
  const directory = dirname(lockPath);
  const mark = `${basename(lockPath)}${TAKEOVER_MARK}`;
  for (const entry of await readdir(directory)) {
    if (!entry.startsWith(".") || !entry.includes(mark)) continue;
    const path = join(directory, entry);
    const tempWriter = /\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(entry);
    if (tempWriter) {
      const pid = Number(tempWriter[1]);
      if (pid !== process.pid && !isProcessAlive(pid)) await unlink(path).catch(() => undefined);
      continue;
    }
    const found = await readHolder(path);
    if (found && isStale(found, staleAfterMs)) await removeStaleLock(path, found.text, staleAfterMs);
  }
}

function describeHolder(holder: LockHolder | null, path: string): string {
  if (!holder) return `lock ${path} is held (its lock file could not be read)`;
  const self = holder.pid === process.pid && holder.host === hostname() ? " (this process: a nested acquire of the same lock?)" : "";
  return `lock ${path} is held by pid ${holder.pid} on host ${holder.host}${self} since ${holder.createdAt} for "${holder.purpose}"`;
}

// Creates the lock file for `holder`, taking over stale locks, until `deadline`. Returns whether it took over.
async function createLockFile(lockPath: string, holder: LockHolder, deadline: number, timeoutMs: number, staleAfterMs: number | undefined): Promise<boolean> {
  const record = `${JSON.stringify(holder)}\n`;
  let tookOver = false;
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFileAtomic(lockPath, record, { exclusive: true });
      return tookOver;
    } catch (error) {
      if (!hasErrorCode(error, IoErrorCode.Exists)) throw error;
    }
    const found = await readHolder(lockPath);
    if (!found) continue; // released in between: try again at once
    if (isStale(found, staleAfterMs)) {
      if (await removeStaleLock(lockPath, found.text, staleAfterMs)) tookOver = true;
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LockedError(`${describeHolder(found.holder, lockPath)}; waited ${timeoutMs} ms. Wait for it to finish or raise the timeout.`, found.holder);
    }
    // Jittered, growing poll interval: contention between processes is short (one manifest update).
    const wait = Math.min(MAX_POLL_MS, 1 + attempt * 2) * (0.5 + Math.random());
    await sleep(Math.min(wait, Math.max(1, deadline - Date.now())));
  }
}

/**
 * Acquires the cross-process lock at `path` (the lock file itself, e.g. `run-manifest.json.lock`),
 * waiting up to `timeoutMs`. Throws `E_LOCKED` naming the holder's pid and host when it stays held.
 * The lock file's directory must exist.
 */
export async function acquireLock(path: string, options: LockOptions = { purpose: "lock" }): Promise<LockHandle> {
  const lockPath = resolve(path);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;

  // Queue behind other acquisitions of this lock within this process.
  const previous = inProcessTails.get(lockPath) ?? Promise.resolve();
  let leaveQueue!: () => void;
  const ours = new Promise<void>((done) => (leaveQueue = done));
  const tail = previous.then(() => ours);
  inProcessTails.set(lockPath, tail);
  const forgetTail = () => {
    leaveQueue();
    if (inProcessTails.get(lockPath) === tail) inProcessTails.delete(lockPath);
  };

  try {
    let timer: NodeJS.Timeout | undefined;
    const queued = await Promise.race([
      previous.then(() => true),
      new Promise<boolean>((done) => (timer = setTimeout(() => done(false), Math.max(0, timeoutMs)))),
    ]);
    clearTimeout(timer);
    if (!queued) {
      const found = await readHolder(lockPath);
      throw new LockedError(`${describeHolder(found?.holder ?? null, lockPath)}; waited ${timeoutMs} ms. Wait for it to finish or raise the timeout.`, found?.holder ?? null);
    }

    const holder: LockHolder = {
      pid: process.pid,
      host: hostname(),
      createdAt: new Date().toISOString(),
      purpose: options.purpose ?? "lock",
      token: randomBytes(12).toString("hex"),
    };
    ownTokens.add(holder.token);
    let tookOver: boolean;
    try {
      tookOver = await createLockFile(lockPath, holder, deadline, timeoutMs, options.staleAfterMs);
    } catch (error) {
      ownTokens.delete(holder.token);
      throw error;
    }

    heldLocks.set(lockPath, holder);
    installExitHook();
    if (tookOver) {
      // A dead holder may also have left temp files of the lock behind.
      await sweepStaleTempFiles(lockPath).catch(() => undefined);
    }
    await sweepStaleTakeoverMarkers(lockPath, options.staleAfterMs).catch(() => undefined);
    let refresh: NodeJS.Timeout | undefined;
    if (options.staleAfterMs !== undefined && Number.isFinite(options.staleAfterMs)) {
      refresh = setInterval(() => {
        const now = new Date();
        utimes(lockPath, now, now).catch(() => undefined);
      }, Math.max(10, options.staleAfterMs / 3));
      refresh.unref();
    }
    let released = false;
    return {
      path: lockPath,
      holder,
      tookOver,
      async release() {
        if (released) return;
        released = true;
        clearInterval(refresh);
        heldLocks.delete(lockPath);
        try {
          const found = await readHolder(lockPath);
          // Only remove our own lock file; if it was (wrongly) taken over, the new holder keeps it.
          if (found?.holder?.token === holder.token) await unlink(lockPath).catch(() => undefined);
        } finally {
          ownTokens.delete(holder.token);
          forgetTail();
        }
      },
    };
  } catch (error) {
    forgetTail();
    throw error;
  }
}

/** Runs `fn` while holding the lock at `path`, releasing it afterwards whatever happens. */
export async function withLock<T>(path: string, fn: (lock: LockHandle) => Promise<T> | T, options: Partial<LockOptions> = {}): Promise<T> {
  const lock = await acquireLock(path, { ...options, purpose: options.purpose ?? "withLock" });
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
