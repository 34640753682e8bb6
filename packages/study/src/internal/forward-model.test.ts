import { describe, expect, it } from "vitest";
import { energy, exitWave, farFieldAmplitude, simulatePatterns } from "./forward-model.js";
import { Fourier2D } from "./fourier.js";
import { generateObject, generateProbe } from "./procedural-sample.js";
import { randomScanPositions } from "./scan-positions.js";

const object = generateObject({ height: 96, width: 96, seed: 3 });
const probe = generateProbe({ size: 32 });
const positions = randomScanPositions({ objectHeight: 96, objectWidth: 96, patchSize: 32, count: 200, seed: 4 });

describe("forward model", () => {
  it("conserves energy (Parseval): Σ A² = Σ |P·O|² for every pattern", () => {
    const wave = new Float64Array(2 * 32 * 32);
    const scratch = new Float64Array(32 * 32);
    const amplitude = new Float64Array(32 * 32);
    const transform = new Fourier2D(32, 32);
    for (const position of positions.slice(0, 20)) {
      exitWave(probe, object, position, wave);
      const waveEnergy = energy(wave);
      farFieldAmplitude(transform, wave, scratch, amplitude);
      const farEnergy = amplitude.reduce((sum, value) => sum + value * value, 0);
      expect(waveEnergy).toBeGreaterThan(0);
      expect(Math.abs(farEnergy - waveEnergy) / waveEnergy).toBeLessThan(1e-12);
    }
  });

  it("puts the zero frequency at the centre after fftshift (a flat wave diffracts to one pixel)", () => {
    const size = 16;
    const wave = new Float64Array(2 * size * size);
    for (let index = 0; index < size * size; index++) wave[2 * index] = 1;
    const amplitude = new Float64Array(size * size);
    farFieldAmplitude(new Fourier2D(size, size), wave, new Float64Array(size * size), amplitude);
    // |FFT|²/N² of a flat unit wave is N² at DC: amplitude N at (N/2, N/2), zero elsewhere.
    expect(amplitude[(size / 2) * size + size / 2]).toBeCloseTo(size, 10);
    expect(amplitude.reduce((sum, value) => sum + value, 0)).toBeCloseTo(size, 8);
  });

  it.each([1e3, 1e4, 1e5])("gives a mean photon count per pattern within 5%% of the dose %d", (dose) => {
    const simulated = simulatePatterns(probe, object, positions, { dose, seed: 9 });
    expect(Math.abs(simulated.meanPhotonCount / dose - 1)).toBeLessThan(0.05);
    // The stored amplitudes are sqrt(counts)/s: s²·Σ diffraction² recovers the counts.
    let stored = 0;
    for (const value of simulated.diffraction) stored += value * value;
    const counts = (stored * simulated.scale * simulated.scale) / positions.length;
    expect(Math.abs(counts / dose - 1)).toBeLessThan(0.05);
    // Counts are whole photons.
    const first = simulated.diffraction[(32 * 32) / 2 + 16]! * simulated.scale;
    expect(Math.abs(first * first - Math.round(first * first))).toBeLessThan(1e-2);
  });

  it("stores ground-truth patches divided by s", () => {
    const simulated = simulatePatterns(probe, object, positions.slice(0, 3), { dose: 1e4, seed: 1 });
    const { x, y } = positions[0]!;
    const top = y - 16;
    const left = x - 16;
    const objectIndex = 2 * ((top + 5) * 96 + left + 7);
    const patchIndex = 2 * (5 * 32 + 7);
    expect(simulated.patches[patchIndex]! * simulated.scale).toBeCloseTo(object.data[objectIndex]!, 5);
    expect(simulated.patches[patchIndex + 1]! * simulated.scale).toBeCloseTo(object.data[objectIndex + 1]!, 5);
  });

  it("is deterministic for a seed, and the seed changes the noise", () => {
    const a = simulatePatterns(probe, object, positions.slice(0, 10), { dose: 1e3, seed: 1 });
    const b = simulatePatterns(probe, object, positions.slice(0, 10), { dose: 1e3, seed: 1 });
    const c = simulatePatterns(probe, object, positions.slice(0, 10), { dose: 1e3, seed: 2 });
    expect(Buffer.from(a.diffraction.buffer).equals(Buffer.from(b.diffraction.buffer))).toBe(true);
    expect(Buffer.from(a.diffraction.buffer).equals(Buffer.from(c.diffraction.buffer))).toBe(false);
  });

  it("noise-free amplitudes equal the expected far field", () => {
    const simulated = simulatePatterns(probe, object, positions.slice(0, 2), { dose: 1e4, seed: 1, noiseFree: true });
    const wave = new Float64Array(2 * 32 * 32);
    exitWave(probe, object, positions[0]!, wave);
    const amplitude = new Float64Array(32 * 32);
    farFieldAmplitude(new Fourier2D(32, 32), wave, new Float64Array(32 * 32), amplitude);
    for (let index = 0; index < amplitude.length; index += 37) expect(simulated.diffraction[index]).toBeCloseTo(amplitude[index]!, 4);
  });

  it("refuses a position whose patch leaves the object", () => {
    expect(() => simulatePatterns(probe, object, [{ x: 5, y: 50 }], { dose: 1e3, seed: 1 })).toThrow(/outside/);
  });
});
