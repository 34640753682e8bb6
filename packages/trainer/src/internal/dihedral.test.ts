/**
 * Dihedral augmentation against physics: for a centred, radially symmetric probe, the diffraction pattern
 * of a transformed object patch is the transformed pattern (checked with a direct DFT written here), and the
 * grouped forward model of the PINN (overlap canvas at sub-pixel offsets, probe-intensity weights, ONNX
 * Runtime) commutes with the maps once the offsets move with them.
 */
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { SeededRandom } from "@studykit/core";
import { GraphBuilder } from "../engines/onnx/internal/graph-builder.js";
import { applyOverlapConstraint } from "../engines/onnx/internal/overlap-constraint.js";
import { physicsIntensity, probeIntensityWeight } from "../engines/onnx/internal/training-graph.js";
import type { PhysicsLoss } from "../engines/training-engine.js";
import { applyDihedral, DIHEDRAL_TRANSFORMS, dihedralPixelMap, dihedralPixelMaps, dihedralProbeMismatch } from "./dihedral.js";

type Complex = { re: Float64Array; im: Float64Array };

/** A probe radially symmetric about (cy, cx): a Gaussian spot with a quadratic (defocus) phase. */
function symmetricProbe(size: number, cy: number, cx: number, width: number): Complex {
  const re = new Float64Array(size * size);
  const im = new Float64Array(size * size);
  for (let r = 0; r < size; r++)
    for (let c = 0; c < size; c++) {
      const radius2 = (r - cy) ** 2 + (c - cx) ** 2;
      const amplitude = Math.exp(-radius2 / (2 * width * width));
      const phase = 0.09 * radius2;
      re[r * size + c] = amplitude * Math.cos(phase);
      im[r * size + c] = amplitude * Math.sin(phase);
    }
  return { re, im };
}

function randomPatch(size: number, seed: number): Complex {
  const random = SeededRandom.derive(seed, "dihedral-patch");
  const re = new Float64Array(size * size);
  const im = new Float64Array(size * size);
  for (let k = 0; k < size * size; k++) {
    const amplitude = 0.3 + 0.7 * random.nextDouble();
    const phase = 3 * (random.nextDouble() - 0.5);
    re[k] = amplitude * Math.cos(phase);
    im[k] = amplitude * Math.sin(phase);
  }
  return { re, im };
}

/** |fftshift(DFT2(P·O))| by the direct sum (independent of the trainer's DFT matrices). */
function diffractionAmplitude(probe: Complex, patch: Complex, size: number): Float64Array {
  const out = new Float64Array(size * size);
  for (let ky = 0; ky < size; ky++)
    for (let kx = 0; kx < size; kx++) {
      let [re, im] = [0, 0];
      for (let r = 0; r < size; r++)
        for (let c = 0; c < size; c++) {
          const k = r * size + c;
          const waveRe = probe.re[k]! * patch.re[k]! - probe.im[k]! * patch.im[k]!;
          const waveIm = probe.re[k]! * patch.im[k]! + probe.im[k]! * patch.re[k]!;
          const angle = (-2 * Math.PI * (ky * r + kx * c)) / size;
          re += waveRe * Math.cos(angle) - waveIm * Math.sin(angle);
          im += waveRe * Math.sin(angle) + waveIm * Math.cos(angle);
        }
      out[((ky + size / 2) % size) * size + ((kx + size / 2) % size)] = Math.hypot(re, im);
    }
  return out;
}

const permuted = (values: Float64Array, map: Int32Array): Float64Array => Float64Array.from(map, (source) => values[source]!);

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k]! - b[k]!));
  return worst;
}

describe("dihedral pixel maps", () => {
  it("are 8 distinct permutations that fix the centre pixel and compose within the group", () => {
    for (let size = 2; size <= 16; size += 2) {
      const maps = dihedralPixelMaps(size);
      const keys = new Set(maps.map((map) => map.join()));
      // On a 2×2 grid the reflections about pixel (1, 1) move nothing (j → (2 − j) mod 2 is j): only the transpose remains.
      expect(keys.size, `size ${size}`).toBe(size === 2 ? 2 : 8);
      for (const map of maps) {
        expect([...map].sort((a, b) => a - b)).toEqual(Array.from({ length: size * size }, (_, k) => k));
        expect(map[(size / 2) * size + size / 2]).toBe((size / 2) * size + size / 2);
        for (const other of maps) expect(keys.has(Array.from(map, (source) => other[source]!).join())).toBe(true);
      }
    }
  });

  it("turn the pattern of a patch into the pattern of the transformed patch for a probe symmetric about (N/2, N/2)", () => {
    const size = 8;
    const probe = symmetricProbe(size, size / 2, size / 2, 2);
    const patch = randomPatch(size, 3);
    const pattern = diffractionAmplitude(probe, patch, size);
    for (let t = 0; t < DIHEDRAL_TRANSFORMS; t++) {
      const map = dihedralPixelMap(size, t);
      const moved = diffractionAmplitude(probe, { re: permuted(patch.re, map), im: permuted(patch.im, map) }, size);
      expect(maxDifference(moved, permuted(pattern, map)), `transform ${t}`).toBeLessThan(1e-9);
    }
    // A probe centred between pixels ((N − 1)/2) is not left unchanged by these maps, and the reflections
    // then give another pattern: the centre pixel is the one that makes the augmentation exact.
    const offCentre = symmetricProbe(size, (size - 1) / 2, (size - 1) / 2, 2);
    const offPattern = diffractionAmplitude(offCentre, patch, size);
    const map = dihedralPixelMap(size, 1);
    const moved = diffractionAmplitude(offCentre, { re: permuted(patch.re, map), im: permuted(patch.im, map) }, size);
    expect(maxDifference(moved, permuted(offPattern, map))).toBeGreaterThan(1e-2);
  });

  it("measures how far a probe is from that symmetry", () => {
    const size = 16;
    const asFloat = (probe: Complex) => ({ height: size, width: size, real: Float32Array.from(probe.re), imag: Float32Array.from(probe.im) });
    expect(dihedralProbeMismatch(asFloat(symmetricProbe(size, size / 2, size / 2, 3)))).toBeLessThan(1e-6);
    expect(dihedralProbeMismatch(asFloat(symmetricProbe(size, size / 2 - 0.5, size / 2, 3)))).toBeGreaterThan(1e-2);
    // Symmetric in a reflection but not under the transpose: an elliptical spot.
    const elliptical = symmetricProbe(size, size / 2, size / 2, 3);
    for (let r = 0; r < size; r++) for (let c = 0; c < size; c++) elliptical.re[r * size + c] = elliptical.re[r * size + c]! * Math.exp(-((r - size / 2) ** 2) / 20);
    expect(dihedralProbeMismatch(asFloat(elliptical))).toBeGreaterThan(1e-2);
  });
});

describe("the grouped forward model under dihedral maps (ONNX Runtime)", () => {
  /** Intensity of each group member after the overlap canvas, NCHW in and out. */
  async function groupedIntensity(loss: PhysicsLoss, size: number, padding: number, count: number, real: Float32Array, imag: Float32Array, offsets: Float32Array): Promise<Float32Array> {
    const b = new GraphBuilder("dihedral", "float32");
    const shape = [count, 4, size, size];
    const object = applyOverlapConstraint(b, b.addInput("real", "float32", shape), b.addInput("imag", "float32", shape), b.addInput("offsets", "float32", [count, 4, 2]), { size, padding, weight: probeIntensityWeight(loss.probe) });
    b.op("Identity", [physicsIntensity(b, loss, object.real, object.imag, size, size)], {}, "intensity");
    b.addOutput("intensity");
    const session = await ort.InferenceSession.create(b.toModelBytes(), { intraOpNumThreads: 1 });
    try {
      const result = await session.run({ real: new ort.Tensor("float32", real, shape), imag: new ort.Tensor("float32", imag, shape), offsets: new ort.Tensor("float32", offsets, [count, 4, 2]) });
      return result["intensity"]!.data as Float32Array;
    } finally {
      await session.release();
    }
  }

  const nchwOf = (channelsLast: Float32Array, count: number, size: number) => {
    const out = new Float32Array(channelsLast.length);
    for (let n = 0; n < count; n++) for (let p = 0; p < size * size; p++) for (let ch = 0; ch < 4; ch++) out[(n * 4 + ch) * size * size + p] = channelsLast[(n * size * size + p) * 4 + ch]!;
    return out;
  };

  it("gives the transformed intensities for transformed patches at transformed sub-pixel offsets", async () => {
    const [size, padding, count] = [8, 5, 2];
    // Symmetric about (4, 4) and zero on row and column 0, the one row and column the maps fix rather than move.
    const spot = symmetricProbe(size, size / 2, size / 2, 1.6);
    for (let k = 0; k < size; k++) for (const index of [k, k * size]) spot.re[index] = spot.im[index] = 0;
    const loss: PhysicsLoss = { kind: "physics", objective: "poissonNll", probe: { height: size, width: size, real: Float32Array.from(spot.re), imag: Float32Array.from(spot.im) }, intensityScale: 40, fftshift: true, overlap: { canvasPadding: padding, weighting: "probeIntensity" } };
    const random = SeededRandom.derive(17, "dihedral-groups");
    const amplitude = Float32Array.from({ length: count * size * size * 4 }, () => 0.4 + 0.6 * random.nextDouble());
    const phase = Float32Array.from({ length: amplitude.length }, () => 2 * (random.nextDouble() - 0.5));
    // Sub-pixel offsets in both axes and of both signs, none alike (a swapped or unsigned axis shows).
    const offsets = Float32Array.from({ length: count * 8 }, () => 3.4 * (random.nextDouble() * 2 - 1));
    const intensityOf = async (batch: { inputs: Float32Array; phase: Float32Array; offsets: Float32Array }) => {
      const re = batch.inputs.map((a, k) => a * Math.cos(batch.phase[k]!));
      const im = batch.inputs.map((a, k) => a * Math.sin(batch.phase[k]!));
      return groupedIntensity(loss, size, padding, count, nchwOf(re, count, size), nchwOf(im, count, size), batch.offsets);
    };
    const base = await intensityOf({ inputs: amplitude, phase, offsets });
    const transpose = (nchw: Float32Array) => {
      const out = new Float32Array(nchw.length);
      for (let n = 0; n < count; n++) for (let p = 0; p < size * size; p++) for (let ch = 0; ch < 4; ch++) out[(n * size * size + p) * 4 + ch] = nchw[(n * 4 + ch) * size * size + p]!;
      return out;
    };
    let scale = 0;
    for (const value of base) scale = Math.max(scale, Math.abs(value));
    const maps = dihedralPixelMaps(size);
    for (let t = 1; t < DIHEDRAL_TRANSFORMS; t++) {
      const transforms = new Uint8Array(count).fill(t);
      // The intensities (channels last) moved by the map are what the moved batch must produce.
      const expected = applyDihedral({ inputs: transpose(base) }, maps, 4, transforms).inputs;
      const moved = applyDihedral({ inputs: amplitude, phase, offsets }, maps, 4, transforms);
      const got = transpose(await intensityOf({ inputs: moved.inputs, phase: moved.phase!, offsets: moved.offsets! }));
      expect(maxDifference(got, expected) / scale, `transform ${t}`).toBeLessThan(2e-5);
      // Control: the same patches with the offsets left where they were give other intensities.
      const stale = transpose(await intensityOf({ inputs: moved.inputs, phase: moved.phase!, offsets }));
      expect(maxDifference(stale, expected) / scale, `transform ${t}, offsets not moved`).toBeGreaterThan(1e-3);
    }
  });
});
