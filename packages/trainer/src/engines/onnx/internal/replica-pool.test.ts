import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { GraphBuilder } from "./graph-builder.js";
import { MICRO_BATCHES_PER_REPLICA, microBatches, type PlainTensor, ReplicaThread, shareWork, type SharedWork } from "./replica-pool.js";

describe("microBatches", () => {
  it("cuts a batch into contiguous, near-equal runs, at most MICRO_BATCHES_PER_REPLICA per replica", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 8 }), (count, replicas) => {
        const parts = microBatches(count, replicas);
        expect(parts.length).toBe(Math.min(count, replicas * MICRO_BATCHES_PER_REPLICA));
        let next = 0;
        for (const part of parts) {
          expect(part.start).toBe(next);
          expect(part.count).toBeGreaterThan(0);
          next += part.count;
        }
        expect(next).toBe(count);
        const sizes = parts.map((part) => part.count);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        // Longer runs first, so a micro-batch's size depends only on (count, replicas) and its index.
        expect([...sizes].sort((a, b) => b - a)).toEqual(sizes);
      }),
    );
  });
});

/** A one-input model that doubles its input: cheap, and every item's output says which item it was. */
function doublingModel(): Uint8Array {
  const b = new GraphBuilder("double", "float32");
  b.addInput("x", "float32", [-1], ["n"]);
  b.addOutput(b.op("Mul", ["x", b.constFloat(2, [])], {}, "y"));
  return b.toModelBytes();
}

const options = { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential" as const, graphOptimizationLevel: "all", logSeverityLevel: 3 };

function workOf(count: number, key = "double"): SharedWork {
  return {
    counter: new Int32Array(new SharedArrayBuffer(4)),
    common: {},
    items: Array.from({ length: count }, (_, k) => ({ key, feeds: { x: { data: Float32Array.of(k, -k), dims: [2] } } })),
    outputs: ["y"],
  };
}

describe("shareWork", () => {
  const threads = [new ReplicaThread(), new ReplicaThread()];
  afterAll(() => Promise.all(threads.map((thread) => thread.close())));
  const failure = (message: string): Error => Object.assign(new Error(message), { code: "E_TEST_REPLICA" });

  it("runs every item exactly once, on this thread and on real worker threads, each result in its place", async () => {
    await Promise.all(threads.map((thread) => thread.ensureSession("double", doublingModel(), options)));
    const work = workOf(40);
    // Which thread takes how many items is the scheduler's business; what the pool promises is that each
    // item runs once and its outputs come back under its index. This thread triples where the workers'
    // model doubles, so every result says who ran it.
    const here: number[] = [];
    const results = await shareWork(
      work,
      threads,
      async (k) => {
        here.push(k);
        const data = work.items[k]!.feeds.x!.data.map((v) => 3 * v);
        return { y: { data, dims: [2] } satisfies PlainTensor };
      },
      failure,
    );
    expect(new Set(here).size, "an item ran twice on this thread").toBe(here.length);
    expect([...results.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, k) => k));
    for (const [k, result] of results) {
      const factor = here.includes(k) ? 3 : 2;
      expect(Array.from(result.y!.data), `item ${k}`).toEqual([factor * k, -factor * k]);
    }
  });

  it("reports a failed replica through the caller's error, after every thread has settled", async () => {
    // The threads hold no session "missing": the first item either of them takes fails there.
    const work = workOf(6, "missing");
    // Where this thread claims item 0 it holds it until the counter moves on: only a worker can move it
    // then, and that worker's item 1 must fail; where a worker claimed item 0, that one failed. (Waiting a
    // fixed time instead let this thread run every item when the workers were slow, and nothing failed.)
    const firstItemHeld = async (k: number): Promise<Record<string, PlainTensor>> => {
      if (k === 0) while (Atomics.load(work.counter, 0) <= 1) await new Promise((resolve) => setTimeout(resolve, 1));
      return {};
    };
    const pending = shareWork(work, threads, firstItemHeld, failure);
    await expect(pending).rejects.toMatchObject({ code: "E_TEST_REPLICA", message: expect.stringMatching(/^replica [12] failed: no session missing/) });
  });

  it("rethrows this thread's own error and leaves no item for the others to start", async () => {
    const work = workOf(8);
    await expect(
      shareWork(
        work,
        [],
        async () => {
          throw new Error("local failure");
        },
        failure,
      ),
    ).rejects.toThrow("local failure");
    expect(Atomics.load(work.counter, 0)).toBeGreaterThanOrEqual(8);
  });
});
