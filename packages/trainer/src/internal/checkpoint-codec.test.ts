import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeCheckpoint, encodeCheckpoint, type CheckpointState } from "./checkpoint-codec.js";

const state = (epochsDone: number, optimizerStep: number): CheckpointState => ({
  configHash: "ab".repeat(32),
  epochsDone,
  history: [{ epoch: 1, loss: 0.5, valLoss: null, learningRate: 1e-3 }],
  metrics: [{ epoch: 1, loss: 0.5, valLoss: null, learningRate: 1e-3, samplesPerSecond: 10, seconds: 2, engine: "tfjs", backend: "wasm" }],
  best: 0.5,
  sinceBest: 0,
  bestEpoch: 1,
  stoppedEarly: false,
  optimizerStep,
});

const tensor = (prefix: string) =>
  fc
    .tuple(fc.integer({ min: 0, max: 99 }), fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }))
    .chain(([id, shape]) =>
      fc.float32Array({ minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) }).map((values) => ({ name: `${prefix}${id}/kernel`, shape, values })),
    );

describe("checkpoint codec", () => {
  it("round-trips the state, every weight and every optimizer slot bit for bit", () => {
    fc.assert(
      fc.property(fc.array(tensor("w"), { maxLength: 4 }), fc.array(tensor("m"), { maxLength: 4 }), fc.nat(1000), fc.nat(1000), (weights, slots, epochs, step) => {
        const bytes = encodeCheckpoint(state(epochs, step), weights, { step, slots });
        const back = decodeCheckpoint("c.bin", bytes);
        expect(back.state).toEqual(state(epochs, step));
        expect(back.optimizer.step).toBe(step);
        const same = (a: typeof weights, b: typeof back.weights) => {
          expect(b.map((t) => [t.name, [...t.shape]])).toEqual(a.map((t) => [t.name, t.shape]));
          a.forEach((t, i) => expect(Buffer.from(b[i]!.values.buffer, b[i]!.values.byteOffset, b[i]!.values.byteLength).equals(Buffer.from(t.values.buffer, t.values.byteOffset, t.values.byteLength))).toBe(true));
        };
        same(weights, back.weights);
        same(slots, back.optimizer.slots);
      }),
      { numRuns: 50 },
    );
  });

  it("refuses a flipped payload byte, a foreign file and a truncated header with E_CHECKPOINT_CORRUPT naming the file", () => {
    const weights = [{ name: "a/kernel", shape: [2, 2], values: Float32Array.from([1, 2, 3, 4]) }];
    const good = encodeCheckpoint(state(1, 3), weights, { step: 3, slots: [] });
    const flipped = good.slice();
    flipped[flipped.length - 1]! ^= 0x01;
    expect(() => decodeCheckpoint("run/checkpoint.bin", flipped)).toThrow(expect.objectContaining({ code: "E_CHECKPOINT_CORRUPT", message: expect.stringContaining("run/checkpoint.bin") }));
    expect(() => decodeCheckpoint("x.bin", new TextEncoder().encode("PK\u0003\u0004 not a checkpoint at all"))).toThrow(expect.objectContaining({ code: "E_CHECKPOINT_CORRUPT", message: expect.stringContaining("wrong magic") }));
    expect(() => decodeCheckpoint("x.bin", good.subarray(0, 30))).toThrow(expect.objectContaining({ code: "E_CHECKPOINT_CORRUPT", message: expect.stringContaining("header length") }));
  });
});
