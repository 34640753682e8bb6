/**
 * Test fixtures: a small synthetic sample (smooth complex object, defocused probe), a raster scan at a given
 * overlap, and seeded photon noise — built here, independently of the study's generators.
 */
import { createComplexImage, rasterScanPositions, simulateDiffraction, type ComplexImage, type PtychoProblem, type ScanPosition } from "@studykit/ptycho";

/** mulberry32: a small seeded uniform generator in [0, 1) for fixtures. */
export function uniformSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seeded photon-count sampler: exact Poisson by multiplication of uniforms below a mean of 30, a rounded
 * normal N(λ, λ) above (the difference does not matter for a noise fixture).
 */
export function poissonSampler(seed: number): (mean: number) => number {
  const uniform = uniformSource(seed);
  return (mean) => {
    if (!(mean > 0)) return 0;
    if (mean < 30) {
      const limit = Math.exp(-mean);
      let product = uniform();
      let count = 0;
      while (product > limit) {
        count += 1;
        product *= uniform();
      }
      return count;
    }
    let u = uniform();
    while (u === 0) u = uniform();
    const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal));
  };
}

/** Smooth object: amplitude in about [0.6, 1], phase in about [−1, 1] rad, from a few random Gaussian blobs. */
export function smoothObject(height: number, width: number, seed: number): ComplexImage {
  const uniform = uniformSource(seed);
  const blobs = Array.from({ length: 24 }, () => ({ y: uniform() * height, x: uniform() * width, radius: 4 + uniform() * 10, phase: uniform() * 2 - 1, amplitude: uniform() * 0.4 - 0.2 }));
  const object = createComplexImage(height, width);
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      let phase = 0;
      let amplitude = 0.8;
      for (const blob of blobs) {
        const weight = Math.exp(-((row - blob.y) ** 2 + (column - blob.x) ** 2) / (2 * blob.radius ** 2));
        phase += blob.phase * weight;
        amplitude += blob.amplitude * weight;
      }
      amplitude = Math.min(1, Math.max(0.6, amplitude));
      phase = Math.max(-1.2, Math.min(1.2, phase));
      object.data[2 * (row * width + column)] = amplitude * Math.cos(phase);
      object.data[2 * (row * width + column) + 1] = amplitude * Math.sin(phase);
    }
  }
  return object;
}

/**
 * A focused probe a little out of focus: a disc of radius `apertureFraction`·N in the far field with a
 * quadratic phase reaching `defocus` rad at its edge, brought to real space by a direct (slow, exact) DFT,
 * centred in the window and scaled to unit peak.
 */
export function defocusedProbe(size: number, apertureFraction = 0.3, defocus = -12): ComplexImage {
  const radius = apertureFraction * size;
  const probe = createComplexImage(size, size);
  const pupil: { ky: number; kx: number; re: number; im: number }[] = [];
  for (let ky = -size / 2; ky < size / 2; ky++) {
    for (let kx = -size / 2; kx < size / 2; kx++) {
      const r = Math.hypot(kx, ky);
      if (r > radius) continue;
      const phase = defocus * (r / radius) ** 2;
      pupil.push({ ky, kx, re: Math.cos(phase), im: Math.sin(phase) });
    }
  }
  let peak = 0;
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      let re = 0;
      let im = 0;
      const y = row - size / 2;
      const x = column - size / 2;
      for (const k of pupil) {
        const angle = (2 * Math.PI * (k.ky * y + k.kx * x)) / size;
        re += k.re * Math.cos(angle) - k.im * Math.sin(angle);
        im += k.re * Math.sin(angle) + k.im * Math.cos(angle);
      }
      probe.data[2 * (row * size + column)] = re;
      probe.data[2 * (row * size + column) + 1] = im;
      peak = Math.max(peak, Math.hypot(re, im));
    }
  }
  for (let index = 0; index < probe.data.length; index++) probe.data[index] = probe.data[index]! / peak;
  return probe;
}

/** A simulated raster scan at `overlap` and `dose` with seeded Poisson noise, as a reconstruction problem. */
export function simulatedScan(options: { readonly size?: number; readonly objectSize?: number; readonly overlap: number; readonly dose: number; readonly seed?: number }): PtychoProblem & { readonly truth: ComplexImage } {
  const size = options.size ?? 32;
  const objectSize = options.objectSize ?? 96;
  const seed = options.seed ?? 1;
  const truth = smoothObject(objectSize, objectSize, seed);
  const probe = defocusedProbe(size);
  const positions: ScanPosition[] = rasterScanPositions({ objectHeight: objectSize, objectWidth: objectSize, size, overlap: options.overlap });
  const simulated = simulateDiffraction(probe, truth, positions, { dose: options.dose, noise: poissonSampler(seed + 1000) });
  return { amplitudes: simulated.amplitudes, positions, probe, objectHeight: objectSize, objectWidth: objectSize, groundTruth: truth, truth, source: `simulated scan (overlap ${options.overlap})` };
}
