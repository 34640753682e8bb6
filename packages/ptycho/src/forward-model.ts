/**
 * The far-field ptychography forward model, shared by simulation and reconstruction.
 *
 * For a scan position with patch O of the object (N×N, corner from `patchCorner`):
 *   exit wave   Ψ = P · O
 *   intensity   I = |FFT2(Ψ)|² / N²         (so Σ I = Σ |Ψ|², Parseval)
 *   amplitude   A = sqrt(fftshift(I))      (zero frequency at (⌊N/2⌋, ⌊N/2⌋))
 * Dose: s = sqrt(dose / mean over positions of Σ|Ψ|²) makes the expected photon count per pattern equal the
 * dose; the observed amplitude is sqrt(Poisson((s·A)²)) from a caller-given sampler. The stored amplitudes
 * and ground-truth patches are divided by s, so they describe the object in its own units: a
 * reconstruction with the same probe recovers the object itself.
 */
import { PtychoError, PtychoErrorCode } from "./errors.js";
import type { ComplexImage } from "./complex-image.js";
import { fft2 } from "./internal/fourier.js";
import { fftshiftReal } from "./fft-shift.js";
import { checkPositionsInside, patchCorner, type ScanPosition } from "./scan-geometry.js";

/** Transforms done per native call when simulating (bounds the scratch memory). */
const SIMULATION_CHUNK = 256;

/** Writes Ψ = P·O for one position into `out` (interleaved complex, N×N). The patch must lie inside the object. */
export function exitWave(probe: ComplexImage, object: ComplexImage, position: ScanPosition, out: Float64Array, offset = 0): void {
  const size = probe.width;
  const { top, left } = patchCorner(position, size);
  const probeData = probe.data;
  const objectData = object.data;
  for (let row = 0; row < size; row++) {
    let p = 2 * row * size;
    let o = 2 * ((top + row) * object.width + left);
    let target = offset + p;
    for (let column = 0; column < size; column++, p += 2, o += 2, target += 2) {
      const pr = probeData[p]!;
      const pi = probeData[p + 1]!;
      const or = objectData[o]!;
      const oi = objectData[o + 1]!;
      out[target] = pr * or - pi * oi;
      out[target + 1] = pr * oi + pi * or;
    }
  }
}

function checkModel(probe: ComplexImage, object: ComplexImage, positions: readonly ScanPosition[]): number {
  const size = probe.width;
  if (probe.height !== size) throw new PtychoError(PtychoErrorCode.Shape, `the probe must be square, got ${probe.height}×${probe.width}`);
  if (probe.data.length !== 2 * size * size || object.data.length !== 2 * object.height * object.width) {
    throw new PtychoError(PtychoErrorCode.Shape, `complex images need 2·height·width interleaved values (probe ${probe.data.length}, object ${object.data.length})`);
  }
  checkPositionsInside(positions, size, object.height, object.width);
  return size;
}

/**
 * Noise-free amplitudes A = sqrt(fftshift(|FFT2(P·O)|²/N²)) of every position, float64, shape (n, N, N).
 */
export function farFieldAmplitudes(probe: ComplexImage, object: ComplexImage, positions: readonly ScanPosition[]): Float64Array {
  const size = checkModel(probe, object, positions);
  const pixels = size * size;
  const out = new Float64Array(positions.length * pixels);
  forEachTransformedChunk(probe, object, positions, (waves, start, count) => {
    const magnitude = new Float64Array(pixels);
    for (let item = 0; item < count; item++) {
      magnitudeOf(waves, item * 2 * pixels, pixels, 1 / size, magnitude);
      fftshiftReal(magnitude, out.subarray((start + item) * pixels, (start + item + 1) * pixels), size, size);
    }
  });
  return out;
}

/** |z|·scale of `pixels` interleaved complex values starting at `offset`. */
function magnitudeOf(waves: Float64Array, offset: number, pixels: number, scale: number, out: Float64Array): void {
  for (let pixel = 0; pixel < pixels; pixel++) {
    const re = waves[offset + 2 * pixel]!;
    const im = waves[offset + 2 * pixel + 1]!;
    out[pixel] = Math.sqrt(re * re + im * im) * scale;
  }
}

/** Exit waves of consecutive chunks of positions, transformed, handed to `visit`. */
function forEachTransformedChunk(
  probe: ComplexImage,
  object: ComplexImage,
  positions: readonly ScanPosition[],
  visit: (waves: Float64Array, start: number, count: number) => void,
): void {
  const size = probe.width;
  const pixels = size * size;
  const waves = new Float64Array(2 * pixels * Math.min(SIMULATION_CHUNK, Math.max(1, positions.length)));
  for (let start = 0; start < positions.length; start += SIMULATION_CHUNK) {
    const count = Math.min(SIMULATION_CHUNK, positions.length - start);
    for (let item = 0; item < count; item++) exitWave(probe, object, positions[start + item]!, waves, 2 * item * pixels);
    // The last chunk may be shorter than the scratch buffer: transform only its images.
    fft2(waves.subarray(0, 2 * pixels * count), size, count, false);
    visit(waves, start, count);
  }
}

/** Draws a photon count for an expected count (e.g. a seeded Poisson sampler). */
export type PhotonSampler = (expectedCount: number) => number;

/** Options of {@link simulateDiffraction}. */
export interface SimulateDiffractionOptions {
  /** Expected photons per pattern (mean over positions). */
  readonly dose: number;
  /** Photon-noise sampler; absent: the expected (noise-free) amplitudes. */
  readonly noise?: PhotonSampler;
}

/** One dose's simulated patterns. */
export interface SimulatedDiffraction {
  /** Observed amplitudes / s, float32, shape (n, N, N), zero frequency at the centre. */
  readonly amplitudes: Float32Array;
  /** Ground-truth object patches / s, complex64 interleaved, shape (n, N, N). */
  readonly patches: Float32Array;
  /** The dose scale s. */
  readonly scale: number;
  /** Mean Σ|Ψ|² over positions (before scaling). */
  readonly meanExitEnergy: number;
  /** Mean detected photon count per pattern (Σ counts), ≈ dose. */
  readonly meanPhotonCount: number;
}

/** Simulates the diffraction of every position at one dose (see the module doc). */
export function simulateDiffraction(probe: ComplexImage, object: ComplexImage, positions: readonly ScanPosition[], options: SimulateDiffractionOptions): SimulatedDiffraction {
  const size = checkModel(probe, object, positions);
  if (!(options.dose > 0) || !Number.isFinite(options.dose)) throw new PtychoError(PtychoErrorCode.Option, `dose must be a positive number of photons per pattern, got ${options.dose}`);
  const pixels = size * size;
  const count = positions.length;
  // Pass 1: the exit-wave energies fix s before any transform (Parseval makes Σ|Ψ|² the photon budget).
  const wave = new Float64Array(2 * pixels);
  let energySum = 0;
  for (const position of positions) {
    exitWave(probe, object, position, wave);
    // Summed per pattern, then over patterns (the study's Phase C sums in this order, so s is the same double).
    let energy = 0;
    for (let index = 0; index < wave.length; index++) energy += wave[index]! * wave[index]!;
    energySum += energy;
  }
  const meanExitEnergy = count > 0 ? energySum / count : 0;
  const scale = meanExitEnergy > 0 ? Math.sqrt(options.dose / meanExitEnergy) : 1;
  const inverseScale = 1 / scale;
  const amplitudes = new Float32Array(count * pixels);
  const patches = new Float32Array(2 * count * pixels);
  positions.forEach((position, index) => {
    const { top, left } = patchCorner(position, size);
    for (let row = 0; row < size; row++) {
      const source = 2 * ((top + row) * object.width + left);
      const target = 2 * (index * pixels + row * size);
      for (let column = 0; column < 2 * size; column++) patches[target + column] = object.data[source + column]! * inverseScale;
    }
  });
  const magnitude = new Float64Array(pixels);
  const shifted = new Float64Array(pixels);
  let photons = 0;
  // The expected count per pixel is (s·A)² = s²·|F|²/N².
  const countScale = scale / size;
  forEachTransformedChunk(probe, object, positions, (waves, start, chunk) => {
    for (let item = 0; item < chunk; item++) {
      magnitudeOf(waves, item * 2 * pixels, pixels, countScale, magnitude);
      fftshiftReal(magnitude, shifted, size, size);
      const offset = (start + item) * pixels;
      for (let pixel = 0; pixel < pixels; pixel++) {
        const expected = shifted[pixel]! * shifted[pixel]!;
        const counts = options.noise ? options.noise(expected) : expected;
        photons += counts;
        amplitudes[offset + pixel] = Math.sqrt(counts) * inverseScale;
      }
    }
  });
  return { amplitudes, patches, scale, meanExitEnergy, meanPhotonCount: count > 0 ? photons / count : 0 };
}
