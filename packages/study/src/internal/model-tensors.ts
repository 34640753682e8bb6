/**
 * Model inputs and targets, channels-last as the trainer's engines expect (`[groups, N, N, C]`).
 *
 * Scales (recorded in each job's config, so they are part of its identity):
 * - input = diffraction · inputScale with inputScale = N / sqrt(mean Σ|Ψ|²): each pattern then has an RMS
 *   amplitude near 1 whatever the probe's brightness (the stored amplitudes are already divided by s, so
 *   this does not depend on the dose);
 * - amplitude target = |Y| · s / maxAmplitude: the object's amplitude in (0, 1], the range of the models'
 *   sigmoid head, for every dose (Y is stored divided by s);
 * - phase target = arg(Y), in (−π, π], the range of the models' π·tanh head.
 */

/** Copies pattern rows into a channels-last tensor: sample g, channel c = row groups[g][c]. */
export function groupedInputs(diffraction: Float32Array, size: number, groups: readonly (readonly number[])[], inputScale: number): Float32Array {
  const channels = groups[0]?.length ?? 1;
  const pixels = size * size;
  const out = new Float32Array(groups.length * pixels * channels);
  groups.forEach((group, sample) => {
    const base = sample * pixels * channels;
    group.forEach((row, channel) => {
      const source = row * pixels;
      for (let pixel = 0; pixel < pixels; pixel++) out[base + pixel * channels + channel] = diffraction[source + pixel]! * inputScale;
    });
  });
  return out;
}

/** Amplitude and phase targets (channels-last) from the complex patches `Y` (interleaved). */
export function groupedTargets(
  patches: Float32Array | Float64Array,
  size: number,
  groups: readonly (readonly number[])[],
  amplitudeScale: number,
): { amplitude: Float32Array; phase: Float32Array } {
  const channels = groups[0]?.length ?? 1;
  const pixels = size * size;
  const amplitude = new Float32Array(groups.length * pixels * channels);
  const phase = new Float32Array(groups.length * pixels * channels);
  groups.forEach((group, sample) => {
    const base = sample * pixels * channels;
    group.forEach((row, channel) => {
      const source = 2 * row * pixels;
      for (let pixel = 0; pixel < pixels; pixel++) {
        const re = patches[source + 2 * pixel]!;
        const im = patches[source + 2 * pixel + 1]!;
        amplitude[base + pixel * channels + channel] = Math.hypot(re, im) * amplitudeScale;
        phase[base + pixel * channels + channel] = Math.atan2(im, re);
      }
    });
  });
  return { amplitude, phase };
}
