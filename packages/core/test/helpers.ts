import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";

/** Fresh temp directories, removed after each test. */
export function useTempDirs(): () => Promise<string> {
  const made: string[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 3 })));
  });
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), "studykit-core-"));
    made.push(dir);
    return dir;
  };
}

/** The pid of a process that has already exited (and been reaped). */
export function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

/** Runs a node script to completion, rejecting on a non-zero exit with its stderr. */
export function runNode(script: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) => (code === 0 ? resolve(stdout) : reject(new Error(`${script} exited with ${code ?? signal}: ${stderr}`))));
  });
}

export const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;
