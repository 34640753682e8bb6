/**
 * The exported model against an independent plain-loop forward pass (written here from the description's
 * documented semantics), and against `onnx.checker` where Debian's python3-onnx is installed.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { initialWeights, type ModelDescription, type NamedWeight } from "../../model-description.js";
import { referencePtychoModel, tinyPtychoModel } from "../../../test/fixtures/models.mjs";
import { exportOnnx, readOnnxModelDescription } from "./onnx-export.js";
import { decodeOnnxModel } from "./internal/onnx-proto.js";
import { findPython, pythonDependency, skipWithout } from "../../../../../tools/test-dependencies.js";

/** NHWC forward pass with plain loops: conv (same/valid), ReLU, 2×2 max-pool, nearest upsample, heads. */
function referenceForward(d: ModelDescription, weights: readonly NamedWeight[], x: Float32Array, n: number): Float64Array {
  const byName = new Map(weights.map((w) => [w.name, w.values]));
  let h = d.input.height;
  let w = d.input.width;
  let c = d.input.channels;
  let data = Float64Array.from(x);
  for (const layer of d.layers) {
    if (layer.kind === "conv2d") {
      const [kh, kw] = layer.kernelSize;
      const k = byName.get(`${layer.name}/kernel`)!;
      const bias = layer.useBias ? byName.get(`${layer.name}/bias`)! : undefined;
      const f = layer.filters;
      const out = new Float64Array(n * h * w * f);
      const top = Math.floor((kh - 1) / 2);
      const left = Math.floor((kw - 1) / 2);
      for (let b = 0; b < n; b++)
        for (let y = 0; y < h; y++)
          for (let xx = 0; xx < w; xx++)
            for (let o = 0; o < f; o++) {
              let s = bias ? bias[o]! : 0;
              for (let i = 0; i < kh; i++)
                for (let j = 0; j < kw; j++) {
                  const yy = y + i - top;
                  const xj = xx + j - left;
                  if (yy < 0 || yy >= h || xj < 0 || xj >= w) continue;
                  for (let ci = 0; ci < c; ci++) s += data[((b * h + yy) * w + xj) * c + ci]! * k[((i * kw + j) * c + ci) * f + o]!;
                }
              out[((b * h + y) * w + xx) * f + o] = layer.activation === "relu" ? Math.max(0, s) : s;
            }
      data = out;
      c = f;
    } else if (layer.kind === "maxPool2d") {
      const out = new Float64Array(n * (h / 2) * (w / 2) * c).fill(-Infinity);
      for (let b = 0; b < n; b++)
        for (let y = 0; y < h; y++)
          for (let xx = 0; xx < w; xx++)
            for (let ci = 0; ci < c; ci++) {
              const at = ((b * (h / 2) + Math.floor(y / 2)) * (w / 2) + Math.floor(xx / 2)) * c + ci;
              out[at] = Math.max(out[at]!, data[((b * h + y) * w + xx) * c + ci]!);
            }
      data = out;
      h /= 2;
      w /= 2;
    } else if (layer.kind === "upsample2d") {
      const out = new Float64Array(n * h * 2 * w * 2 * c);
      for (let b = 0; b < n; b++)
        for (let y = 0; y < 2 * h; y++)
          for (let xx = 0; xx < 2 * w; xx++)
            for (let ci = 0; ci < c; ci++) out[((b * 2 * h + y) * 2 * w + xx) * c + ci] = data[((b * h + Math.floor(y / 2)) * w + Math.floor(xx / 2)) * c + ci]!;
      data = out;
      h *= 2;
      w *= 2;
    } else {
      throw new Error(`reference forward does not implement ${layer.kind}`);
    }
  }
  const half = c / 2;
  return data.map((v, i) => ((i % c) < half ? 1 / (1 + Math.exp(-v)) : Math.PI * Math.tanh(v)));
}

function randomInput(length: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  });
}

/** Runs the exported `bytes` on `n` random samples and compares with {@link referenceForward} (max abs < 1e-5). */
async function expectMatchesReferenceForward(d: ModelDescription, weights: readonly NamedWeight[], bytes: Uint8Array, n: number, seed: number): Promise<void> {
  const { height, width, channels } = d.input;
  const session = await ort.InferenceSession.create(bytes);
  const x = randomInput(n * height * width * channels, seed);
  const y = (await session.run({ input: new ort.Tensor("float32", x, [n, height, width, channels]) })).output!;
  expect(y.dims).toEqual([n, height, width, 2 * d.heads.channels]);
  const expected = referenceForward(d, weights, x, n);
  let worst = 0;
  (y.data as Float32Array).forEach((v, i) => (worst = Math.max(worst, Math.abs(v - expected[i]!))));
  expect(worst).toBeLessThan(1e-5);
  await session.release();
}

// onnx.checker: Debian's python3-onnx (tools/ensure-system-deps.mjs installs it), or a python3 with onnx on PATH.
const python = findPython("onnx");

describe("exportOnnx", () => {
  it("exports the tiny model so that ONNX Runtime matches a plain-loop forward pass (batch 3, C = 4)", async () => {
    const d = tinyPtychoModel({ size: 8, channels: 4, seed: 3 });
    const weights = initialWeights(d);
    await expectMatchesReferenceForward(d, weights, exportOnnx(d, weights), 3, 11);
  });

  it("computes ×2 upsample + 3×3 conv pairs at the low resolution (sub-pixel) with the same results, keeping the 3×3 kernels", async () => {
    // Non-square, batch 2; one fused pair (up1 → dec1), one pair left alone (up2 → a 5×5 conv).
    const conv = (name: string, filters: number, kernel: number, activation: "relu" | "linear", layer: number) => ({
      ...tinyPtychoModel({ size: 8, channels: 1 }).layers[0],
      name,
      filters,
      kernelSize: [kernel, kernel] as const,
      activation,
      init: { kernel: "glorotUniform" as const, bias: "zeros" as const, seed: 100 + layer },
    });
    const base = tinyPtychoModel({ size: 8, channels: 1 });
    const d: ModelDescription = {
      ...base,
      input: { height: 8, width: 12, channels: 1 },
      layers: [
        conv("enc", 8, 3, "relu", 0) as ModelDescription["layers"][number],
        { kind: "maxPool2d", name: "pool1", poolSize: [2, 2], strides: [2, 2], padding: "valid" },
        { kind: "maxPool2d", name: "pool2", poolSize: [2, 2], strides: [2, 2], padding: "valid" },
        { kind: "upsample2d", name: "up1", size: [2, 2], interpolation: "nearest" },
        conv("dec1", 6, 3, "relu", 1) as ModelDescription["layers"][number],
        { kind: "upsample2d", name: "up2", size: [2, 2], interpolation: "nearest" },
        conv("dec2", 4, 5, "relu", 2) as ModelDescription["layers"][number],
        conv("out", 2, 3, "linear", 3) as ModelDescription["layers"][number],
      ],
    };
    // Non-zero biases, so the per-phase bias is checked too.
    const weights = initialWeights(d).map((w) => (w.name.endsWith("/bias") ? { ...w, values: w.values.map((_, i) => 0.1 * (i + 1)) } : w));
    const bytes = exportOnnx(d, weights);
    const graph = decodeOnnxModel(bytes).graph;
    expect(graph.node.filter((node) => node.opType === "DepthToSpace")).toHaveLength(1);
    expect(graph.node.filter((node) => node.opType === "Resize")).toHaveLength(1);
    expect(graph.initializer.find((init) => init.name === "dec1/kernel")?.dims).toEqual([6, 8, 3, 3]);
    await expectMatchesReferenceForward(d, weights, bytes, 2, 5);
  });

  it("is deterministic and carries the description in its metadata", () => {
    const d = tinyPtychoModel({ size: 8, channels: 1 });
    const a = exportOnnx(d, initialWeights(d));
    const b = exportOnnx(d, initialWeights(d));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(readOnnxModelDescription(a)).toEqual(JSON.parse(JSON.stringify(d)));
  });

  it("rejects weights that do not fit, naming each problem", () => {
    const d = tinyPtychoModel({ size: 8, channels: 1 });
    const weights = initialWeights(d);
    const bad = [{ ...weights[0]!, shape: [3, 3, 2, 8] }, ...weights.slice(2)];
    expect(() => exportOnnx(d, bad)).toThrow(expect.objectContaining({ code: "E_ONNX_WEIGHTS", message: expect.stringMatching(/enc1\/kernel has shape \[3,3,2,8\].*missing weight enc1\/bias/) }));
  });

  it("rejects bytes that are not a studykit ONNX model", () => {
    expect(() => readOnnxModelDescription(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(expect.objectContaining({ code: "E_ONNX_MODEL" }));
  });

  it.skipIf(skipWithout(pythonDependency(python, ["onnx"], ["python3-onnx"])))("passes onnx.checker (full check) for the tiny and the reference model", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "studykit-onnx-"));
    try {
      const files = [tinyPtychoModel({ size: 16, channels: 4 }), referencePtychoModel({ size: 64, channels: 1 })].map((d, i) => {
        const file = path.join(dir, `model-${i}.onnx`);
        writeFileSync(file, exportOnnx(d, initialWeights(d)));
        return file;
      });
      const script = "import onnx, sys\nfor f in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(f), full_check=True)\nprint('ok')";
      const run = spawnSync(python!, ["-c", script, ...files], { encoding: "utf8" });
      expect(run.stderr).toBe("");
      expect(run.stdout.trim()).toBe("ok");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
