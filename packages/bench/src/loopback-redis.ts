/**
 * A private `redis-server` on a free loopback port, with its append-only file in a directory of the
 * caller's: what the `queue` suite measures against, and what the distributed-executor tests stop and start
 * mid-study (SIGTERM makes Redis fsync its append-only file; `start` again reloads it on the same port).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer, Socket } from "node:net";

/** Options of {@link startLoopbackRedis}. */
export interface LoopbackRedisOptions {
  /** Where Redis keeps its append-only file (created if missing). */
  readonly dir: string;
  /** `always` (fsync every write: nothing is lost on a kill) or `everysec` (Redis's default with AOF on). */
  readonly appendfsync?: "always" | "everysec";
  /** How long to wait for it to answer PING (default 10 000 ms). */
  readonly startTimeoutMs?: number;
}

/** A running loopback Redis. */
export interface LoopbackRedis {
  readonly url: string;
  readonly port: number;
  /** `redis-server --version`'s version, e.g. `7.0.15`. */
  readonly version: string;
  /** Stops it (SIGTERM: Redis fsyncs its append-only file and exits). */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory (it reloads the append-only file). */
  start(): Promise<void>;
}

/** True when `redis-server` is on PATH. */
export function hasRedisServer(): boolean {
  const probe = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  return !probe.error && probe.status === 0;
}

/** A free TCP port on 127.0.0.1. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no free loopback port"))));
    });
  });
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let data = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("error", () => done(false));
    socket.on("data", (chunk) => {
      data += chunk.toString();
      if (data.includes("\r\n")) done(data.startsWith("+PONG"));
    });
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
  });
}

/** Starts `redis-server` on a free loopback port with its append-only file on; throws when it does not come up. */
export async function startLoopbackRedis(options: LoopbackRedisOptions): Promise<LoopbackRedis> {
  const probe = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) throw new Error("redis-server is not on PATH: apt-get install -y redis-server");
  const version = /v=(\S+)/.exec(probe.stdout)?.[1] ?? "unknown version";
  const port = await freeLoopbackPort();
  mkdirSync(options.dir, { recursive: true });
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", options.dir, "--save", "", "--appendonly", "yes", "--appendfsync", options.appendfsync ?? "everysec", "--protected-mode", "no"];
  let child: ChildProcess | null = null;
  const start = async () => {
    const running = spawn("redis-server", args, { stdio: "ignore" });
    child = running;
    const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
    while (!(await answersPing(port))) {
      if (Date.now() > deadline || running.exitCode !== null) throw new Error(`redis-server did not start on port ${port} (exit code ${running.exitCode})`);
      await new Promise((done) => setTimeout(done, 50));
    }
  };
  const stop = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((done) => running.once("exit", done));
    running.kill("SIGTERM");
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, version, start, stop };
}
