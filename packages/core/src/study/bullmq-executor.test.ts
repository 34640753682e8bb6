import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { createBullmqExecutor } from "./bullmq-executor.js";
import { runWorker } from "./queue-worker.js";
import { redactRedisUrl } from "../internal/study/queue/redis-connection.js";
import type { StudyJob } from "./job-matrix.js";

// The end-to-end tests with a real redis-server live in the repository's tests/distributed.test.ts; these
// cover what needs no Redis: option checks and the unreachable-queue error.

const job: StudyJob = { id: "a", params: {}, config: {}, seeds: {}, inputs: {}, artifactDir: "/tmp/never/a", logPath: "/tmp/never/a.log" };
const callbacks = { onStart() {}, onLog() {}, onFinish() {} };

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 1));
    });
  });
}

describe("bullmq executor without Redis", () => {
  it("refuses a malformed Redis URL with E_QUEUE_CONFIG", () => {
    expect(() => createBullmqExecutor({ redisUrl: "localhost:6379" })).toThrowError(expect.objectContaining({ code: "E_QUEUE_CONFIG", message: expect.stringContaining('"localhost:6379"') }));
    expect(() => createBullmqExecutor({ redisUrl: "redis://x", attempts: 0 })).toThrowError(expect.objectContaining({ code: "E_CONCURRENCY" }));
  });

  it("refuses an in-process runner: workers must be able to import it", async () => {
    const executor = createBullmqExecutor({ redisUrl: "redis://127.0.0.1:1" });
    const signal = new AbortController().signal;
    await expect(executor.run([job], { runner: () => ({}), cancel: signal, stop: signal }, callbacks)).rejects.toMatchObject({ code: "E_QUEUE_RUNNER" });
  });

  it("an unreachable queue gives E_QUEUE_UNAVAILABLE naming the URL instead of hanging", async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const signal = new AbortController().signal;
    const executor = createBullmqExecutor({ redisUrl: url, connectTimeoutMs: 1000 });
    await expect(executor.run([job], { runner: { module: "/tmp/runner.mjs" }, cancel: signal, stop: signal }, callbacks)).rejects.toMatchObject({ code: "E_QUEUE_UNAVAILABLE", message: expect.stringContaining(url) });
    await expect(runWorker({ redisUrl: url, connectTimeoutMs: 1000 })).rejects.toMatchObject({ code: "E_QUEUE_UNAVAILABLE", message: expect.stringContaining(url) });
  });

  it("redacts passwords in URLs shown in messages", () => {
    expect(redactRedisUrl("redis://:s3cret@queue.example:6380/2")).toBe("redis://:****@queue.example:6380/2");
    expect(redactRedisUrl("redis://user:pw@h:1")).toBe("redis://user:****@h:1");
    expect(redactRedisUrl("redis://h:1")).toBe("redis://h:1");
  });
});
