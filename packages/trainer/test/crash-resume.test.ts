/**
 * Crash/resume: a training child process is killed with SIGKILL in the middle of an epoch; a second
 * process resumes from the last checkpoint and completes, and the result equals an uninterrupted run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { loadBundle } from "../src/bundle.js";

const child = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "train-child.mjs");
const roots: string[] = [];
afterAll(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

function start(outDir: string, ...flags: string[]): { process: ChildProcess; lines: string[]; done: Promise<number | null> } {
  const proc = spawn(process.execPath, [child, outDir, ...flags], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let buffer = "";
  proc.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    lines.push(...parts);
  });
  let stderr = "";
  proc.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<number | null>((resolve) => proc.on("exit", (code) => {
    if (code !== 0 && code !== null) console.error(stderr);
    resolve(code);
  }));
  return { process: proc, lines, done };
}

const metricsLines = (dir: string): number => {
  try {
    return readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
};

const resultOf = (lines: string[]) => JSON.parse(lines.find((l) => l.startsWith("result "))!.slice("result ".length));

it("resumes a training process killed mid-epoch and completes with valid checkpoints and history", async () => {
  const outDir = mkdtempSync(join(tmpdir(), "studykit-crash-"));
  const freshDir = mkdtempSync(join(tmpdir(), "studykit-fresh-"));
  roots.push(outDir, freshDir);

  // 1. Start a run that holds for good three batches into epoch 2 (after epoch 1's checkpoint), and kill
  // it there: the kill lands mid-epoch whatever the machine's load.
  const first = start(outDir, "--hold-mid-epoch-2");
  while (!first.lines.includes("holding") && first.process.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  expect(first.lines).toContain("holding");
  expect(metricsLines(outDir)).toBe(1);
  first.process.kill("SIGKILL");
  expect(await first.done).toBeNull(); // killed, not exited
  expect(metricsLines(outDir)).toBe(1); // epoch 2 never completed
  // No torn or temporary files left where readers look.
  expect(readdirSync(outDir).filter((f) => !f.includes(".tmp")).sort()).toEqual(["checkpoint.bin", "metrics.csv", "metrics.jsonl"]);

  // 2. Resume in a new process: it continues from epoch 1 and completes.
  const second = start(outDir);
  expect(await second.done).toBe(0);
  const resumed = resultOf(second.lines);
  expect(resumed.resumedFromEpoch).toBe(1);
  expect(resumed.epochs).toEqual([1, 2, 3, 4]);
  const metrics = readFileSync(join(outDir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(metrics.map((m) => m.epoch)).toEqual([1, 2, 3, 4]);
  const bundle = await loadBundle(join(outDir, "bundle.zip"), { expectSha256: resumed.bundleSha256 });
  expect((bundle.history as Array<{ epoch: number }>).map((h) => h.epoch)).toEqual([1, 2, 3, 4]);

  // 3. An uninterrupted run gives the very same bundle.
  const fresh = start(freshDir);
  expect(await fresh.done).toBe(0);
  expect(resultOf(fresh.lines).bundleSha256).toBe(resumed.bundleSha256);
}, 180_000);
