/**
 * The far-field ptychography forward model used by Phase C.
 *
 * For a scan position with patch O of the object (N×N, top-left corner at (y − N/2, x − N/2)):
 *   exit wave   Ψ = P · O
 *   intensity   I = |FFT2(Ψ)|² / N²         (so Σ I = Σ |Ψ|², Parseval)
 *   amplitude   A = sqrt(fftshift(I))
 * Dose: s = sqrt(dose / mean_positions Σ|Ψ|²) makes the expected photon count per pattern equal the dose;
 * the observed amplitude is sqrt(Poisson((s·A)²)) from a seeded sampler. Like the reference pipeline, the
 * stored amplitudes and ground-truth patches are divided by s.
 */
import { SeededRandom } from "@studykit/core";
import { Fourier2D, fftshiftReal } from "./fourier.js";
import type { ComplexImage } from "./complex-image.js";

/** A scan position: the centre of the illuminated patch, in object pixels. */
export interface ScanPosition {
  readonly x: number;
  readonly y: number;
}

/** Top-left corner of the N×N patch centred at `position` (positions are whole pixels). */
export function patchCorner(position: ScanPosition, size: number): { top: number; left: number } {
  return { top: Math.round(position.y) - size / 2, left: Math.round(position.x) - size / 2 };
}

/** Writes Ψ = P·O for one position into `out` (interleaved complex, N×N). */
export function exitWave(probe: ComplexImage, object: ComplexImage, position: ScanPosition, out: Float64Array): void {
  const size = probe.width;
  const { top, left } = patchCorner(position, size);
  if (top < 0 || left < 0 || top + size > object.height || left + size > object.width) {
    throw new RangeError(`scan position (${position.x}, ${position.y}) puts the ${size}×${size} patch outside the ${object.height}×${object.width} object`);
  }
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      const p = 2 * (row * size + column);
      const o = 2 * ((top + row) * object.width + left + column);
      const pr = probe.data[p]!;
      const pi = probe.data[p + 1]!;
      const or = object.data[o]!;
      const oi = object.data[o + 1]!;
      out[p] = pr * or - pi * oi;
      out[p + 1] = pr * oi + pi * or;
    }
  }
}

/** Σ|Ψ|² of an interleaved complex buffer. */
export function energy(wave: Float64Array): number {
  let total = 0;
  for (let index = 0; index < wave.length; index++) total += wave[index]! * wave[index]!;
  return total;
}

/**
 * The noise-free diffraction amplitude A = sqrt(fftshift(|FFT2(Ψ)|² / N²)) of one exit wave.
 * `wave` is overwritten with its transform; `scratch` (N² reals) and `out` (N² reals) are caller-owned.
 */
export function farFieldAmplitude(
  transform: Fourier2D,
  wave: Float64Array,
  scratch: Float64Array,
  out: Float64Array | Float32Array,
): void {
  const size = transform.width;
  const norm = 1 / (size * transform.height);
  transform.forward(wave);
  for (let index = 0; index < scratch.length; index++) {
    const re = wave[2 * index]!;
    const im = wave[2 * index + 1]!;
    scratch[index] = Math.sqrt((re * re + im * im) * norm);
  }
  fftshiftReal(scratch, out, transform.height, size);
}

/** One dose's simulated patterns. */
export interface SimulatedPatterns {
  /** Observed amplitudes / s, float32, shape (n, N, N). */
  readonly diffraction: Float32Array;
  /** Ground-truth object patches / s, complex64 interleaved, shape (n, N, N). */
  readonly patches: Float32Array;
  /** The dose scale s. */
  readonly scale: number;
  /** Mean Σ|Ψ|² over positions (before scaling). */
  readonly meanExitEnergy: number;
  /** Mean detected photon count per pattern (Σ Poisson counts), which should be ≈ dose. */
  readonly meanPhotonCount: number;
}

/** Options of {@link simulatePatterns}. */
export interface SimulateOptions {
  readonly dose: number;
  /** Seed of the photon-noise stream (one stream per dose is derived from it). */
  readonly seed: number;
  /** Skip the Poisson draw (expected amplitudes), for physics tests. */
  readonly noiseFree?: boolean;
}

/** Simulates the diffraction of every position at one dose (see the module doc). */
export function simulatePatterns(
  probe: ComplexImage,
  object: ComplexImage,
  positions: readonly ScanPosition[],
  options: SimulateOptions,
): SimulatedPatterns {
  const size = probe.width;
  if (probe.height !== size) throw new RangeError(`the probe must be square, got ${probe.height}×${probe.width}`);
  if (!(options.dose > 0)) throw new RangeError(`dose must be positive, got ${options.dose}`);
  const pixels = size * size;
  const count = positions.length;
  const wave = new Float64Array(2 * pixels);
  // Pass 1: the exit-wave energies fix s before any transform (Parseval makes Σ|Ψ|² the photon budget).
  const energies = new Float64Array(count);
  let energySum = 0;
  for (let index = 0; index < count; index++) {
    exitWave(probe, object, positions[index]!, wave);
    energies[index] = energy(wave);
    energySum += energies[index]!;
  }
  const meanExitEnergy = count > 0 ? energySum / count : 0;
  const scale = meanExitEnergy > 0 ? Math.sqrt(options.dose / meanExitEnergy) : 1;
  const inverseScale = 1 / scale;
  const scaleSquared = scale * scale;

  const diffraction = new Float32Array(count * pixels);
  const patches = new Float32Array(2 * count * pixels);
  const transform = new Fourier2D(size, size);
  const scratch = new Float64Array(pixels);
  const amplitude = new Float64Array(pixels);
  const random = SeededRandom.derive(options.seed, `photon-noise/dose=${options.dose}`);
  let photons = 0;
  for (let index = 0; index < count; index++) {
    const position = positions[index]!;
    const { top, left } = patchCorner(position, size);
    const patchOffset = 2 * index * pixels;
    for (let row = 0; row < size; row++) {
      const source = 2 * ((top + row) * object.width + left);
      for (let column = 0; column < 2 * size; column++) {
        patches[patchOffset + 2 * row * size + column] = object.data[source + column]! * inverseScale;
      }
    }
    exitWave(probe, object, position, wave);
    farFieldAmplitude(transform, wave, scratch, amplitude);
    const offset = index * pixels;
    for (let pixel = 0; pixel < pixels; pixel++) {
      const expected = scaleSquared * amplitude[pixel]! * amplitude[pixel]!;
      const counts = options.noiseFree ? expected : random.nextPoisson(expected);
      photons += counts;
      diffraction[offset + pixel] = Math.sqrt(counts) * inverseScale;
    }
  }
  return { diffraction, patches, scale, meanExitEnergy, meanPhotonCount: count > 0 ? photons / count : 0 };
}
