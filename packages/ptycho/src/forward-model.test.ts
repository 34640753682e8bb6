/**
 * The forward model against numpy: exit waves, far-field amplitudes A = sqrt(fftshift(|fft2(P·O)|²/N²)) and
 * the dose scaling, computed independently by numpy.fft in a python3 subprocess on random probes, objects
 * and (sub-pixel) positions.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadNpz, saveNpz } from "@studykit/data";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { findPython, pythonDependency, skipWithout } from "../../../tools/test-dependencies.js";
import type { ComplexImage } from "./complex-image.js";
import { exitWave, farFieldAmplitudes, simulateDiffraction } from "./forward-model.js";
import type { ScanPosition } from "./scan-geometry.js";

const python = findPython("numpy");
const noNumpy = skipWithout(pythonDependency(python, ["numpy"], ["python3-numpy"]));

const directory = mkdtempSync(join(tmpdir(), "studykit-ptycho-forward-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** numpy's forward model: positions rounded half up (as documented), the same dose rule. */
const NUMPY_MODEL = `
import sys
import numpy as np
for path in sys.argv[1:]:
    f = np.load(path)
    probe, obj, xs, ys, dose = f["probe"], f["object"], f["xs"], f["ys"], float(f["dose"])
    n = probe.shape[0]
    waves, amps = [], []
    for x, y in zip(xs, ys):
        top = int(np.floor(y + 0.5)) - n // 2
        left = int(np.floor(x + 0.5)) - n // 2
        psi = probe * obj[top:top + n, left:left + n]
        waves.append(psi)
        amps.append(np.sqrt(np.fft.fftshift(np.abs(np.fft.fft2(psi)) ** 2 / n ** 2)))
    waves = np.array(waves)
    scale = np.sqrt(dose / np.mean(np.sum(np.abs(waves) ** 2, axis=(1, 2))))
    np.savez(path.replace(".npz", ".out.npz"), waves=waves, amplitudes=np.array(amps), scale=np.array(scale))
`;

interface Case {
  readonly probe: ComplexImage;
  readonly object: ComplexImage;
  readonly positions: ScanPosition[];
  readonly dose: number;
}

const complexImageArbitrary = (height: number, width: number) =>
  fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 2 * height * width, maxLength: 2 * height * width }).map((values) => ({ height, width, data: Float64Array.from(values) }));

/** Random cases: N ∈ {8, 16, 32}, an object 0–12 pixels larger, 1–6 positions with random sub-pixel parts. */
const caseArbitrary: fc.Arbitrary<Case> = fc
  .record({ size: fc.constantFrom(8, 16, 32), extraHeight: fc.integer({ min: 0, max: 12 }), extraWidth: fc.integer({ min: 0, max: 12 }) })
  .chain(({ size, extraHeight, extraWidth }) => {
    const height = size + extraHeight;
    const width = size + extraWidth;
    const half = size / 2;
    // Centres whose rounded patch stays inside (fractions kept away from .5, where rounding conventions differ).
    const coordinate = (extent: number) =>
      fc.tuple(fc.integer({ min: half, max: extent - size + half }), fc.double({ min: -0.45, max: 0.45, noNaN: true })).map(([whole, fraction]) => whole + fraction);
    return fc.record({
      probe: complexImageArbitrary(size, size),
      object: complexImageArbitrary(height, width),
      positions: fc.array(fc.record({ x: coordinate(width), y: coordinate(height) }), { minLength: 1, maxLength: 6 }),
      dose: fc.double({ min: 1, max: 1e9, noNaN: true }),
    });
  });

describe.skipIf(noNumpy)("forward model against numpy.fft", () => {
  it("exit waves, far-field amplitudes and the dose scale match numpy on random inputs", () => {
    // Plus one scan longer than the simulation's 256-pattern chunks (its last chunk is partial).
    const [long] = fc.sample(caseArbitrary.filter((item) => item.probe.width === 8), { numRuns: 1, seed: 21 });
    const longScan: Case = { ...long!, positions: Array.from({ length: 300 }, (_, index) => long!.positions[index % long!.positions.length]!) };
    const cases = [...fc.sample(caseArbitrary, { numRuns: 12, seed: 20 }), longScan];
    const paths = cases.map((item, index) => {
      const path = join(directory, `case-${index}.npz`);
      saveNpz(path, {
        probe: { data: item.probe.data, shape: [item.probe.height, item.probe.width], complex: true },
        object: { data: item.object.data, shape: [item.object.height, item.object.width], complex: true },
        xs: Float64Array.from(item.positions, (position) => position.x),
        ys: Float64Array.from(item.positions, (position) => position.y),
        dose: { data: Float64Array.of(item.dose), shape: [] },
      });
      return path;
    });
    const run = spawnSync(python!, ["-c", NUMPY_MODEL, ...paths], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    cases.forEach((item, index) => {
      const expected = loadNpz(paths[index]!.replace(".npz", ".out.npz"));
      const size = item.probe.width;
      const pixels = size * size;
      const wave = new Float64Array(2 * pixels);
      const expectedWaves = expected["waves"]!.data as Float64Array;
      let waveDifference = 0;
      item.positions.forEach((position, row) => {
        exitWave(item.probe, item.object, position, wave);
        for (let value = 0; value < wave.length; value++) waveDifference = Math.max(waveDifference, Math.abs(wave[value]! - expectedWaves[row * 2 * pixels + value]!));
      });
      expect(waveDifference).toBeLessThan(1e-12);
      const amplitudes = farFieldAmplitudes(item.probe, item.object, item.positions);
      const expectedAmplitudes = expected["amplitudes"]!.data as Float64Array;
      let peak = 0;
      for (const value of expectedAmplitudes) peak = Math.max(peak, value);
      const largestDifference = (values: ArrayLike<number>) => {
        let largest = 0;
        for (let value = 0; value < values.length; value++) largest = Math.max(largest, Math.abs(values[value]! - expectedAmplitudes[value]!));
        return largest;
      };
      expect(largestDifference(amplitudes)).toBeLessThan(1e-12 * Math.max(1, peak));
      const simulated = simulateDiffraction(item.probe, item.object, item.positions, { dose: item.dose });
      const scale = (expected["scale"]!.data as Float64Array)[0]!;
      expect(simulated.scale / scale).toBeCloseTo(1, 12);
      // Noise-free: the stored amplitudes are the model's A (float32), the expected photon count the dose.
      expect(largestDifference(simulated.amplitudes)).toBeLessThan(1e-6 * Math.max(1, peak));
      expect(simulated.meanPhotonCount / item.dose).toBeCloseTo(1, 9);
    });
  });
});

describe("simulateDiffraction", () => {
  const probe: ComplexImage = { height: 8, width: 8, data: Float64Array.from({ length: 128 }, (_, index) => Math.cos(index * 0.37)) };
  const object: ComplexImage = { height: 12, width: 12, data: Float64Array.from({ length: 288 }, (_, index) => Math.sin(index * 0.11) + 0.5) };
  const positions = [{ x: 4, y: 4 }, { x: 7, y: 6 }, { x: 8, y: 8 }];

  it("stores ground-truth patches as the object crop divided by the dose scale", () => {
    const simulated = simulateDiffraction(probe, object, positions, { dose: 1e4 });
    // Position (7, 6): corner (top 2, left 3); patch pixel (1, 2) is object pixel (3, 5).
    const patchIndex = 2 * (1 * 64 + 1 * 8 + 2);
    const objectIndex = 2 * (3 * 12 + 5);
    expect(simulated.patches[patchIndex]).toBeCloseTo(object.data[objectIndex]! / simulated.scale, 6);
    expect(simulated.patches[patchIndex + 1]).toBeCloseTo(object.data[objectIndex + 1]! / simulated.scale, 6);
  });

  it("draws each pixel's photon count from the sampler at the expected count (s·A)²", () => {
    const noiseFree = simulateDiffraction(probe, object, positions, { dose: 500 });
    const requested: number[] = [];
    const noisy = simulateDiffraction(probe, object, positions, {
      dose: 500,
      noise: (expected) => {
        requested.push(expected);
        return 7;
      },
    });
    expect(requested).toHaveLength(3 * 64);
    requested.forEach((expected, index) => expect(expected).toBeCloseTo((noiseFree.scale * noiseFree.amplitudes[index]!) ** 2, 3));
    expect(noisy.meanPhotonCount).toBe(7 * 64);
    expect(noisy.amplitudes[10]).toBeCloseTo(Math.sqrt(7) / noisy.scale, 6);
  });

  it("refuses a non-positive dose and positions outside the object with codes", () => {
    expect(() => simulateDiffraction(probe, object, positions, { dose: 0 })).toThrow(expect.objectContaining({ code: "E_PTYCHO_OPTION" }));
    expect(() => simulateDiffraction(probe, object, [{ x: 9, y: 4 }], { dose: 1 })).toThrow(expect.objectContaining({ code: "E_PTYCHO_POSITION_OUTSIDE" }));
  });
});
