/**
 * The synthetic sample the study simulates by default: a complex object with amplitude and phase structure
 * at several scales, and a focused probe with defocus — both generated deterministically from a seed.
 *
 * Object: band-pass filtered Gaussian noise summed over four octaves (periods 2.5 N down to N/3.2 for a probe
 * window N: coarse blobs down to texture about half the illuminated spot across) plus a
 * few sharp-edged discs and bars (so that resolution metrics have edges to resolve). Amplitude lies in
 * about [0.3, 1.0], phase in about [−1, 1] rad, both with independent structure.
 *
 * Probe: a circular aperture in the Fourier plane with a quadratic (defocus) phase, transformed to real
 * space — the illumination of a focused beam a little out of focus — scaled to unit peak amplitude.
 */
import { SeededRandom } from "@studykit/core";
import { Fourier2D } from "./internal/fourier.js";
import { createComplexImage, type ComplexImage } from "@studykit/ptycho";

function nextPowerOfTwo(n: number): number {
  let size = 2;
  while (size < n) size *= 2;
  return size;
}

/** Multi-octave band-pass noise, normalised to [0, 1] by its 1st/99th percentiles (clamped). */
/** A real image, row-major (`data[y * width + x]`). */
export interface RealImage {
  readonly height: number;
  readonly width: number;
  readonly data: Float64Array;
}

function multiScaleField(height: number, width: number, featureSize: number, random: SeededRandom): RealImage {
  const fieldHeight = nextPowerOfTwo(height);
  const fieldWidth = nextPowerOfTwo(width);
  const data = new Float64Array(2 * fieldHeight * fieldWidth);
  for (let index = 0; index < fieldHeight * fieldWidth; index++) data[2 * index] = random.nextNormal();
  const transform = new Fourier2D(fieldHeight, fieldWidth);
  transform.forward(data);
  // Octave centre frequencies in cycles per pixel: periods of 2.5, 1.25, 0.625 and 0.3125 × featureSize
  // (80, 40, 20 and 10 pixels for a 32-pixel probe window).
  const octaves = [2.5, 1.25, 0.625, 0.3125].map((periods) => 1 / (periods * featureSize));
  const weights = [1, 0.6, 0.35, 0.2];
  for (let row = 0; row < fieldHeight; row++) {
    const fy = (row <= fieldHeight / 2 ? row : row - fieldHeight) / fieldHeight;
    for (let column = 0; column < fieldWidth; column++) {
      const fx = (column <= fieldWidth / 2 ? column : column - fieldWidth) / fieldWidth;
      const radius = Math.hypot(fx, fy);
      let gain = 0;
      for (let octave = 0; octave < octaves.length; octave++) {
        const centre = octaves[octave]!;
        const logRatio = Math.log2((radius + 1e-12) / centre);
        gain += weights[octave]! * Math.exp(-2 * logRatio * logRatio);
      }
      const index = 2 * (row * fieldWidth + column);
      data[index] = data[index]! * gain;
      data[index + 1] = data[index + 1]! * gain;
    }
  }
  transform.inverse(data);
  const out = new Float64Array(height * width);
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) out[row * width + column] = data[2 * (row * fieldWidth + column)]!;
  }
  const sorted = Float64Array.from(out).sort();
  const low = sorted[Math.floor(0.01 * (sorted.length - 1))]!;
  const high = sorted[Math.floor(0.99 * (sorted.length - 1))]!;
  const span = high - low || 1;
  for (let index = 0; index < out.length; index++) out[index] = Math.min(1, Math.max(0, (out[index]! - low) / span));
  return { height, width, data: out };
}

/** Adds sharp-edged discs and bars with random offsets in [−amount, amount]. */
function addShapes(field: RealImage, random: SeededRandom, count: number, amount: number): void {
  const { height, width, data } = field;
  for (let shape = 0; shape < count; shape++) {
    const centreY = random.nextDouble() * height;
    const centreX = random.nextDouble() * width;
    const offset = (random.nextDouble() * 2 - 1) * amount;
    const isDisc = random.nextDouble() < 0.5;
    const size = 4 + random.nextDouble() * Math.min(height, width) * 0.08;
    const halfLength = size * (1.5 + random.nextDouble() * 2);
    const angle = random.nextDouble() * Math.PI;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    for (let row = 0; row < height; row++) {
      for (let column = 0; column < width; column++) {
        const dy = row - centreY;
        const dx = column - centreX;
        const inside = isDisc
          ? dx * dx + dy * dy <= size * size
          : Math.abs(dx * cos + dy * sin) <= halfLength && Math.abs(-dx * sin + dy * cos) <= size / 3;
        if (inside) data[row * width + column] = data[row * width + column]! + offset;
      }
    }
  }
}

/** Options of {@link generateObject}. */
export interface ObjectOptions {
  readonly height: number;
  readonly width: number;
  readonly seed: number;
  /**
   * Length the texture scales with (pixels; default 32): the study passes the probe window N, so that the
   * object's structure has the same size relative to the illuminated spot at every N. The finest octave
   * (period 0.3125·N) is about half the spot: finer texture cannot be learned from a few thousand patterns
   * by the small networks of a quick study (measured: a ridge regression and the tiny network then do little
   * better than predicting the mean).
   */
  readonly featureSize?: number;
}

/** A deterministic complex test object (see the module doc). */
export function generateObject(options: ObjectOptions): ComplexImage {
  const { height, width, seed } = options;
  const featureSize = options.featureSize ?? 32;
  const random = SeededRandom.derive(seed, "object");
  const amplitudeField = multiScaleField(height, width, featureSize, random.fork("amplitude"));
  const phaseField = multiScaleField(height, width, featureSize, random.fork("phase"));
  const shapes = Math.max(4, Math.round((height * width) / 4096));
  addShapes(amplitudeField, random.fork("amplitude-shapes"), shapes, 0.35);
  addShapes(phaseField, random.fork("phase-shapes"), shapes, 0.5);
  const object = createComplexImage(height, width);
  for (let index = 0; index < height * width; index++) {
    const amplitude = 0.3 + 0.7 * Math.min(1, Math.max(0, amplitudeField.data[index]!));
    const phase = 2 * Math.min(1, Math.max(0, phaseField.data[index]!)) - 1;
    object.data[2 * index] = amplitude * Math.cos(phase);
    object.data[2 * index + 1] = amplitude * Math.sin(phase);
  }
  return object;
}

/** Options of {@link generateProbe}. */
export interface ProbeOptions {
  /** Probe window size N (N×N, a power of two). */
  readonly size: number;
  /** Aperture radius in the Fourier plane as a fraction of N (smaller → wider focal spot). */
  readonly apertureFraction?: number;
  /** Quadratic phase at the aperture edge, in radians (the defocus). */
  readonly defocusRadians?: number;
}

/** A focused-aperture probe with defocus, unit peak amplitude, centred in the N×N window. */
export function generateProbe(options: ProbeOptions): ComplexImage {
  const { size } = options;
  const apertureRadius = (options.apertureFraction ?? 0.2) * size;
  const defocus = options.defocusRadians ?? 8;
  const probe = createComplexImage(size, size);
  for (let row = 0; row < size; row++) {
    const ky = row <= size / 2 ? row : row - size;
    for (let column = 0; column < size; column++) {
      const kx = column <= size / 2 ? column : column - size;
      const radius = Math.hypot(kx, ky);
      if (radius > apertureRadius) continue;
      const phase = defocus * (radius / apertureRadius) ** 2;
      const index = 2 * (row * size + column);
      probe.data[index] = Math.cos(phase);
      probe.data[index + 1] = Math.sin(phase);
    }
  }
  new Fourier2D(size, size).inverse(probe.data);
  // The inverse transform puts the beam centre at pixel (0, 0); move it to the window centre.
  const centred = createComplexImage(size, size);
  const half = size / 2;
  let peak = 0;
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      const source = 2 * (row * size + column);
      const target = 2 * (((row + half) % size) * size + ((column + half) % size));
      centred.data[target] = probe.data[source]!;
      centred.data[target + 1] = probe.data[source + 1]!;
      peak = Math.max(peak, Math.hypot(probe.data[source]!, probe.data[source + 1]!));
    }
  }
  for (let index = 0; index < centred.data.length; index++) centred.data[index] = centred.data[index]! / peak;
  return centred;
}
