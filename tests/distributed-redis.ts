/**
 * A real `redis-server` for the distributed-executor tests (bench's loopback Redis): a free loopback port,
 * append-only persistence with fsync on every write, in a temporary directory, so it can be stopped and
 * started again mid-study without losing the queue.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freeLoopbackPort, hasRedisServer as redisServerOnPath, startLoopbackRedis, type LoopbackRedis } from "@studykit/bench";

/** True when `redis-server` is installed (`npm test` installs it on Debian via tools/ensure-system-deps.mjs). */
export const hasRedisServer = redisServerOnPath();

/** A free TCP port on 127.0.0.1. */
export const freePort = freeLoopbackPort;

/** A running test Redis. */
export interface TestRedis extends LoopbackRedis {
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
}

/** Starts `redis-server` on a free loopback port. */
export async function startTestRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(path.join(tmpdir(), "studykit-redis-"));
  const redis = await startLoopbackRedis({ dir, appendfsync: "always" });
  return {
    ...redis,
    async dispose() {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
