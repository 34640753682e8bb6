import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, readdir, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { deadPid, fixture, useTempDirs } from "../../../test/helpers.js";
import { acquireLock, withLock } from "./file-lock.js";

const tempDir = useTempDirs();

function startHolder(lockPath: string) {
  const child = spawn(process.execPath, [fixture("lock-holder.mjs"), lockPath], { stdio: ["ignore", "pipe", "inherit"] });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("locked") && resolve());
    child.on("exit", (code) => reject(new Error(`holder exited early with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return { child, ready, exited };
}

// A racer process (test/fixtures/lock-racer.mjs) driven line by line over stdin/stdout.
function startRacer(lockPath: string, logPath: string) {
  const child = spawn(process.execPath, [fixture("lock-racer.mjs"), lockPath, logPath], { stdio: ["pipe", "pipe", "inherit"] });
  const waiting: ((line: string) => void)[] = [];
  const early: string[] = [];
  let buffered = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const next = waiting.shift();
      if (next) next(line);
      else early.push(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const nextLine = () =>
    early.length > 0
      ? Promise.resolve(early.shift()!)
      : Promise.race([new Promise<string>((resolve) => waiting.push(resolve)), exited.then((code) => Promise.reject(new Error(`racer exited with ${code}`)))]);
  return { child, nextLine, exited };
}

describe("acquireLock", () => {
  it("processes racing to take over one dead holder's lock hold it one at a time", async () => {
    const dir = await tempDir();
    const lockPath = join(dir, "contested.lock");
    const logPath = join(dir, "holders.log");
    const racers = Array.from({ length: 8 }, () => startRacer(lockPath, logPath));
    try {
      const dead = deadPid();
      for (const racer of racers) expect(await racer.nextLine()).toBe("ready");
      for (let round = 0; round < 16; round++) {
        await writeFile(logPath, "");
        await writeFile(lockPath, JSON.stringify({ pid: dead, host: hostname(), createdAt: new Date().toISOString(), purpose: "crashed", token: `dead-${round}` }));
        for (const racer of racers) racer.child.stdin.write("go\n");
        const answers = await Promise.all(racers.map((racer) => racer.nextLine()));
        // Exactly one racer removed the dead holder's lock file.
        expect(answers.filter((answer) => answer === "done true")).toHaveLength(1);
        expect(answers.filter((answer) => answer === "done false")).toHaveLength(racers.length - 1);
        // Mutual exclusion: the log is enter/exit pairs of one pid each, never interleaved.
        const lines = (await readFile(logPath, "utf8")).trim().split("\n");
        expect(lines).toHaveLength(2 * racers.length);
        for (let index = 0; index < lines.length; index += 2) {
          const [enter, exit] = [lines[index]!, lines[index + 1]!];
          expect(enter).toMatch(/^enter \d+$/);
          expect(exit).toBe(enter.replace("enter", "exit"));
        }
        expect(new Set(lines.filter((line) => line.startsWith("enter"))).size).toBe(racers.length);
        // No lock file, takeover marker or temp file is left behind.
        expect((await readdir(dir)).sort()).toEqual(["holders.log"]);
      }
    } finally {
      for (const racer of racers) racer.child.stdin.end();
      await Promise.all(racers.map((racer) => racer.exited));
    }
  }, 60_000);

  it("a taker that died mid-takeover (its marker left behind) does not wedge the lock", async () => {
    const dir = await tempDir();
    const lockPath = join(dir, "wedged.lock");
    const staleText = JSON.stringify({ pid: deadPid(), host: hostname(), createdAt: new Date().toISOString(), purpose: "crashed", token: "gone" });
    await writeFile(lockPath, staleText);
    // The marker a killed taker of exactly this stale lock would have left (named by the module doc's rule).
    const markerName = `.wedged.lock.takeover-${createHash("sha256").update(staleText).digest("hex").slice(0, 32)}`;
    const deadTaker = { pid: deadPid(), host: hostname(), createdAt: new Date().toISOString(), purpose: "take over stale wedged.lock", token: "taker" };
    await writeFile(join(dir, markerName), JSON.stringify(deadTaker));
    await writeFile(join(dir, ".wedged.lock.takeover-0123456789abcdef0123456789abcdef"), JSON.stringify({ ...deadTaker, token: "other" }));
    // ...and a temp file of a marker whose writer was killed before linking it.
    await writeFile(join(dir, `.${markerName}.${deadTaker.pid}.0123456789ab.tmp`), JSON.stringify({ ...deadTaker, token: "half" }));
    const lock = await acquireLock(lockPath, { purpose: "after a crashed taker", timeoutMs: 5_000 });
    expect(lock.tookOver).toBe(true);
    expect(await readdir(dir)).toEqual(["wedged.lock"]);
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });


  it("records pid, host, time and purpose, and removes the file on release", async () => {
    const dir = await tempDir();
    const path = join(dir, "a.lock");
    const lock = await acquireLock(path, { purpose: "testing" });
    const record = JSON.parse(await readFile(path, "utf8"));
    expect(record).toMatchObject({ pid: process.pid, host: hostname(), purpose: "testing" });
    expect(Number.isNaN(Date.parse(record.createdAt))).toBe(false);
    await lock.release();
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it("E_LOCKED names the holding process, and its lock is taken over once it is killed", async () => {
    const dir = await tempDir();
    const path = join(dir, "b.lock");
    const holder = startHolder(path);
    await holder.ready;
    const attempt = acquireLock(path, { purpose: "second", timeoutMs: 100 });
    await expect(attempt).rejects.toMatchObject({ code: "E_LOCKED", message: expect.stringContaining(`pid ${holder.child.pid} on host ${hostname()}`) });
    await expect(attempt).rejects.toMatchObject({ holder: { pid: holder.child.pid, purpose: "lock-holder fixture" } });
    holder.child.kill("SIGKILL");
    await holder.exited;
    const lock = await acquireLock(path, { purpose: "after the kill", timeoutMs: 1_000 });
    expect(lock.tookOver).toBe(true);
    expect(JSON.parse(await readFile(path, "utf8")).pid).toBe(process.pid);
    await lock.release();
  });

  it("takes over a same-host lock whose pid is dead", async () => {
    const dir = await tempDir();
    const path = join(dir, "c.lock");
    await writeFile(path, JSON.stringify({ pid: deadPid(), host: hostname(), createdAt: new Date().toISOString(), purpose: "ghost", token: "t" }));
    const lock = await acquireLock(path, { purpose: "taker", timeoutMs: 0 });
    expect(lock.tookOver).toBe(true);
    await lock.release();
  });

  it("treats another host's lock as live until it is older than staleAfterMs", async () => {
    const dir = await tempDir();
    const path = join(dir, "d.lock");
    await writeFile(path, JSON.stringify({ pid: 1, host: "some-other-host", createdAt: "2020-01-01T00:00:00Z", purpose: "remote", token: "t" }));
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    await expect(acquireLock(path, { purpose: "x", timeoutMs: 30 })).rejects.toMatchObject({ code: "E_LOCKED", message: expect.stringContaining("some-other-host") });
    await expect(acquireLock(path, { purpose: "x", timeoutMs: 30, staleAfterMs: 120_000 })).rejects.toMatchObject({ code: "E_LOCKED" });
    const lock = await acquireLock(path, { purpose: "x", timeoutMs: 30, staleAfterMs: 10_000 });
    expect(lock.tookOver).toBe(true);
    await lock.release();
  });

  it("serialises concurrent holders within one process", async () => {
    const dir = await tempDir();
    const path = join(dir, "e.lock");
    const counter = join(dir, "counter");
    await writeFile(counter, "0");
    await Promise.all(
      Array.from({ length: 20 }, () =>
        withLock(path, async () => {
          const value = Number(await readFile(counter, "utf8"));
          await new Promise((resolve) => setTimeout(resolve, 1));
          await writeFile(counter, String(value + 1));
        }),
      ),
    );
    expect(await readFile(counter, "utf8")).toBe("20");
  });

  it("releases the lock when the guarded function throws", async () => {
    const dir = await tempDir();
    const path = join(dir, "f.lock");
    await expect(withLock(path, () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    const lock = await acquireLock(path, { purpose: "after", timeoutMs: 0 });
    expect(lock.tookOver).toBe(false);
    await lock.release();
  });

  it("a release never removes a lock file it does not own", async () => {
    const dir = await tempDir();
    const path = join(dir, "g.lock");
    const lock = await acquireLock(path, { purpose: "mine" });
    const foreign = JSON.stringify({ pid: process.ppid, host: hostname(), createdAt: new Date().toISOString(), purpose: "someone else", token: "other" });
    await writeFile(path, foreign);
    await lock.release();
    expect(await readFile(path, "utf8")).toBe(foreign);
  });
});
