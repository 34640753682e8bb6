import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { conv2dBackpropFilter, conv2dBackpropInput, conv2dForward, type Conv2dGeometry } from "./index.js";
import { fallbackConv2dKernels } from "./internal/conv2d-fallback.js";

/** TF.js-style geometry for "same" / "valid" padding. */
function geometry(batch: number, inHeight: number, inWidth: number, inChannels: number, filterHeight: number, filterWidth: number, outChannels: number, stride: number, dilation: number, same: boolean): Conv2dGeometry {
  const eh = (filterHeight - 1) * dilation + 1;
  const ew = (filterWidth - 1) * dilation + 1;
  const outHeight = same ? Math.ceil(inHeight / stride) : Math.floor((inHeight - eh) / stride) + 1;
  const outWidth = same ? Math.ceil(inWidth / stride) : Math.floor((inWidth - ew) / stride) + 1;
  const padTop = same ? Math.floor(Math.max(0, (outHeight - 1) * stride + eh - inHeight) / 2) : 0;
  const padLeft = same ? Math.floor(Math.max(0, (outWidth - 1) * stride + ew - inWidth) / 2) : 0;
  return { batch, inHeight, inWidth, inChannels, filterHeight, filterWidth, outChannels, outHeight, outWidth, strideHeight: stride, strideWidth: stride, dilationHeight: dilation, dilationWidth: dilation, padTop, padLeft };
}

function random(length: number, seed: number): Float32Array {
  let state = seed >>> 0 || 1;
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  });
}

function sizes(g: Conv2dGeometry) {
  return {
    input: g.batch * g.inHeight * g.inWidth * g.inChannels,
    filter: g.filterHeight * g.filterWidth * g.inChannels * g.outChannels,
    output: g.batch * g.outHeight * g.outWidth * g.outChannels,
  };
}

function dims(g: Conv2dGeometry): number[] {
  return [g.batch, g.inHeight, g.inWidth, g.inChannels, g.filterHeight, g.filterWidth, g.outChannels, g.outHeight, g.outWidth, g.strideHeight, g.strideWidth, g.dilationHeight, g.dilationWidth, g.padTop, g.padLeft];
}

function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / (1 + Math.abs(expected[i]!)));
  expect(worst).toBeLessThan(1e-5);
}

const shapes = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  height: fc.integer({ min: 3, max: 11 }),
  width: fc.integer({ min: 3, max: 11 }),
  inChannels: fc.integer({ min: 1, max: 9 }),
  outChannels: fc.integer({ min: 1, max: 19 }),
  filter: fc.integer({ min: 1, max: 3 }),
  stride: fc.integer({ min: 1, max: 2 }),
  dilation: fc.integer({ min: 1, max: 2 }),
  same: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1e9 }),
});

describe("conv2d kernels", () => {
  it("agree with the direct-loop fallback on random shapes, padding, strides and dilations", () => {
    fc.assert(
      fc.property(shapes, (s) => {
        const g = geometry(s.batch, s.height, s.width, s.inChannels, s.filter, s.filter, s.outChannels, s.stride, s.dilation, s.same);
        fc.pre(g.outHeight > 0 && g.outWidth > 0);
        const n = sizes(g);
        const x = random(n.input, s.seed);
        const w = random(n.filter, s.seed + 1);
        const dy = random(n.output, s.seed + 2);
        const [y, dx, dw] = [new Float32Array(n.output).fill(7), new Float32Array(n.input).fill(7), new Float32Array(n.filter).fill(7)];
        conv2dForward(x, w, y, g);
        conv2dBackpropInput(dy, w, dx, g);
        conv2dBackpropFilter(x, dy, dw, g);
        const [ry, rdx, rdw] = [new Float32Array(n.output), new Float32Array(n.input), new Float32Array(n.filter)];
        fallbackConv2dKernels.conv2dForward(x, w, ry, dims(g));
        fallbackConv2dKernels.conv2dBackpropInput(dy, w, rdx, dims(g));
        fallbackConv2dKernels.conv2dBackpropFilter(x, dy, rdw, dims(g));
        expectClose(y, ry);
        expectClose(dx, rdx);
        expectClose(dw, rdw);
      }),
      { numRuns: 60 },
    );
  });

  it("fallback matches a hand-computed 1-channel 3×3 'same' convolution", () => {
    // x = 1..9 in a 3×3 image, filter all ones: each output sums its in-bounds 3×3 neighbourhood.
    const g = geometry(1, 3, 3, 1, 3, 3, 1, 1, 1, true);
    const y = new Float32Array(9);
    fallbackConv2dKernels.conv2dForward(Float32Array.from({ length: 9 }, (_, i) => i + 1), new Float32Array(9).fill(1), y, dims(g));
    expect([...y]).toEqual([12, 21, 16, 27, 45, 33, 24, 39, 28]);
    const native = new Float32Array(9);
    conv2dForward(Float32Array.from({ length: 9 }, (_, i) => i + 1), new Float32Array(9).fill(1), native, g);
    expect([...native]).toEqual([12, 21, 16, 27, 45, 33, 24, 39, 28]);
  });

  it("is bitwise repeatable on a shape large enough to use two threads", () => {
    const g = geometry(4, 24, 24, 16, 3, 3, 32, 1, 1, true);
    const n = sizes(g);
    const x = random(n.input, 3);
    const dy = random(n.output, 4);
    const w = random(n.filter, 5);
    const runs = [0, 1, 2].map(() => {
      const [dw, dx, y] = [new Float32Array(n.filter), new Float32Array(n.input), new Float32Array(n.output)];
      conv2dBackpropFilter(x, dy, dw, g);
      conv2dBackpropInput(dy, w, dx, g);
      conv2dForward(x, w, y, g);
      return [Buffer.from(dw.buffer), Buffer.from(dx.buffer), Buffer.from(y.buffer)];
    });
    for (const run of runs.slice(1)) for (let i = 0; i < 3; i++) expect(run[i]!.equals(runs[0]![i]!)).toBe(true);
  });

  it("rejects outputs of the wrong size, bad geometry and outputs that alias an input with E_NATIVE_ARGUMENT", () => {
    const g = geometry(1, 4, 4, 2, 3, 3, 3, 1, 1, true);
    const n = sizes(g);
    const x = new Float32Array(n.input);
    const w = new Float32Array(n.filter);
    const argument = (message: string) => expect.objectContaining({ code: "E_NATIVE_ARGUMENT", message });
    expect(() => conv2dForward(x, w, new Float32Array(n.output + 1), g)).toThrow(argument("conv2d output holds 49 floats but the geometry needs 48"));
    expect(() => conv2dBackpropInput(new Float32Array(n.output), w, new Float32Array(n.input - 1), g)).toThrow(argument("conv2d output holds 31 floats but the geometry needs 32"));
    expect(() => conv2dForward(x, w, new Float32Array(n.output), { ...g, strideHeight: 0 })).toThrow(argument("conv2d geometry.strideHeight must be at least 1"));
    expect(() => conv2dForward(x, w, new Float32Array(n.output), { ...g, padTop: -1 })).toThrow(argument("conv2d geometry.padTop must be a non-negative integer, got -1"));
    // One buffer holding the input and the output: an output overlapping the input by one float is refused,
    // the same buffer's disjoint tail is accepted and gets the same result as a separate array.
    const backing = new Float32Array(n.input + n.output);
    const input = backing.subarray(0, n.input);
    input.set(random(n.input, 5));
    const filter = random(n.filter, 6);
    expect(() => conv2dForward(input, filter, backing.subarray(n.input - 1, n.input - 1 + n.output), g)).toThrow(argument("conv2d output must not share memory with its inputs"));
    const separate = new Float32Array(n.output);
    conv2dForward(input, filter, separate, g);
    conv2dForward(input, filter, backing.subarray(n.input), g);
    expect(Array.from(backing.subarray(n.input))).toEqual(Array.from(separate));
  });
});
