/**
 * Redis connections for the BullMQ executor and workers (ioredis instances: BullMQ's ESM build cannot
 * create them from options), the reachability check, and URL redaction for messages.
 */
import type { Redis, RedisOptions } from "ioredis";
import { QueueError, QueueErrorCode } from "../../../errors.js";


/** The URL with any password replaced, for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "****";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return url;
  }
}

/** Validates a `redis://` / `rediss://` URL. */
export function checkRedisUrl(url: unknown): string {
  if (typeof url !== "string" || !/^rediss?:\/\/[^/]/.test(url)) {
    throw new QueueError(QueueErrorCode.Config, `invalid Redis URL ${JSON.stringify(url)}: use redis://HOST:PORT (e.g. redis://127.0.0.1:6379)`);
  }
  try {
    new URL(url);
  } catch {
    throw new QueueError(QueueErrorCode.Config, `invalid Redis URL ${JSON.stringify(url)}: use redis://HOST:PORT`);
  }
  return url;
}

/**
 * A Redis client. `blocking` clients (workers) queue commands while disconnected and retry forever, as
 * BullMQ requires; non-blocking ones (the coordinator's polling) fail fast while Redis is down, so the
 * coordinator can report the outage instead of hanging.
 */
export async function createRedisClient(url: string, options: { blocking: boolean; connectTimeoutMs: number }): Promise<Redis> {
  // Loaded on first use: importing @studykit/core must not pay for the Redis client unless a queue is used.
  const { Redis } = await import("ioredis");
  const base: RedisOptions = {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs,
    // Reconnect quickly after an outage; Redis restarts are expected to be short.
    retryStrategy: (times: number) => Math.min(100 * times, 1000),
  };
  const client = new Redis(
    url,
    options.blocking ? { ...base, maxRetriesPerRequest: null } : { ...base, maxRetriesPerRequest: 1, enableOfflineQueue: false },
  );
  // Connection errors surface through the commands that fail; without a listener ioredis would print them.
  client.on("error", () => undefined);
  return client;
}

/** Connects `client`, or throws `E_QUEUE_UNAVAILABLE` naming the URL after `timeoutMs`. */
export async function connectOrFail(client: Redis, url: string, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        if (client.status === "wait") await client.connect();
        await client.ping();
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    client.disconnect();
    throw new QueueError(
      QueueErrorCode.Unavailable,
      `cannot reach the job queue's Redis at ${redactRedisUrl(url)} (${(error as Error).message}): start Redis there, or pass the right --redis URL`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
  }
}
