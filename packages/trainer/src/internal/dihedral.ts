/**
 * Dihedral augmentation: the 8 rotations and reflections of a square sample about its centre pixel
 * (N/2, N/2), applied alike to the inputs, the supervised targets and the group offsets.
 *
 * Why these maps keep a ptychography sample physical: a reflection `j → (N − j) mod N` of the exit wave
 * ψ = P·O reflects its DFT the same way (`Σ ψ(−j) e^{−2πijk/N} = Ψ(−k)`, and `s → (N − s) mod N` is
 * `k → −k` on an fftshifted pattern too); a transpose transposes the DFT. So when the probe is unchanged by
 * the map (a centred, radially symmetric probe is), the transformed diffraction pattern is exactly the
 * pattern the transformed object patch would give. For grouped samples the offsets (x, y) follow the same
 * map about the group's centre; only row and column 0 of a patch (which the map fixes instead of moving
 * them past row N − 1) are placed inconsistently on the overlap canvas, where the probe is weakest.
 *
 * Transform `t` (0–7): bit 2 transposes, then bit 0 reflects rows, bit 1 reflects columns; output pixel
 * (r, c) takes input pixel `map[r·N + c]`.
 */

/** Largest change of a probe under the 8 maps, relative to its peak, that the augmentation accepts (float32 probes). */
export const DIHEDRAL_PROBE_TOLERANCE = 1e-4;

/** How many transforms the dihedral group of the square has. */
export const DIHEDRAL_TRANSFORMS = 8;

/** Source pixel of every output pixel of transform `t` on an N×N grid. */
export function dihedralPixelMap(size: number, transform: number): Int32Array {
  const map = new Int32Array(size * size);
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      let sourceRow = transform & 4 ? column : row;
      let sourceColumn = transform & 4 ? row : column;
      if (transform & 1) sourceRow = (size - sourceRow) % size;
      if (transform & 2) sourceColumn = (size - sourceColumn) % size;
      map[row * size + column] = sourceRow * size + sourceColumn;
    }
  }
  return map;
}

/**
 * The offset (x, y) of a patch after transform `t`: the point the map sends to it is the original offset,
 * so this is the inverse map on coordinates about the group's centre.
 */
export function dihedralOffset(x: number, y: number, transform: number): [number, number] {
  const flippedY = transform & 1 ? -y : y;
  const flippedX = transform & 2 ? -x : x;
  return transform & 4 ? [flippedY, flippedX] : [flippedX, flippedY];
}

/** Arrays of a batch of `count` samples of `size × size × channels` (channels last). */
export interface DihedralBatch {
  readonly inputs: Float32Array;
  readonly amplitude?: Float32Array;
  readonly phase?: Float32Array;
  /** `[count, channels, 2]` offsets (x, y). */
  readonly offsets?: Float32Array;
}

/** The pixel maps of all 8 transforms on an N×N grid, indexed by transform. */
export function dihedralPixelMaps(size: number): Int32Array[] {
  return Array.from({ length: DIHEDRAL_TRANSFORMS }, (_, transform) => dihedralPixelMap(size, transform));
}

/**
 * Applies `transforms[i]` to sample i of every array of `batch`; returns new arrays. `maps` are
 * {@link dihedralPixelMaps} of the sample size (a training run builds them once).
 */
export function applyDihedral<Batch extends DihedralBatch>(batch: Batch, maps: readonly Int32Array[], channels: number, transforms: ArrayLike<number>): Batch {
  const sampleLength = maps[0]!.length * channels;
  const permute = (values: Float32Array): Float32Array => {
    const out = new Float32Array(values.length);
    for (let sample = 0; sample < transforms.length; sample++) {
      const map = maps[transforms[sample]!]!;
      const base = sample * sampleLength;
      for (let pixel = 0; pixel < map.length; pixel++) {
        const target = base + pixel * channels;
        const source = base + map[pixel]! * channels;
        for (let channel = 0; channel < channels; channel++) out[target + channel] = values[source + channel]!;
      }
    }
    return out;
  };
  let offsets: Float32Array | undefined;
  if (batch.offsets) {
    offsets = new Float32Array(batch.offsets.length);
    for (let sample = 0; sample < transforms.length; sample++) {
      for (let channel = 0; channel < channels; channel++) {
        const index = 2 * (sample * channels + channel);
        const [x, y] = dihedralOffset(batch.offsets[index]!, batch.offsets[index + 1]!, transforms[sample]!);
        offsets[index] = x;
        offsets[index + 1] = y;
      }
    }
  }
  return {
    ...batch,
    inputs: permute(batch.inputs),
    ...(batch.amplitude ? { amplitude: permute(batch.amplitude) } : {}),
    ...(batch.phase ? { phase: permute(batch.phase) } : {}),
    ...(offsets ? { offsets } : {}),
  };
}

/**
 * The largest change any of the 8 transforms makes to a complex N×N probe, relative to its peak modulus
 * (0 for a probe the augmentation keeps physical).
 */
export function dihedralProbeMismatch(probe: { readonly height: number; readonly width: number; readonly real: Float32Array; readonly imag: Float32Array }): number {
  const size = probe.height;
  let peak = 0;
  for (let index = 0; index < probe.real.length; index++) peak = Math.max(peak, Math.hypot(probe.real[index]!, probe.imag[index]!));
  if (peak === 0) return 0;
  let worst = 0;
  for (let transform = 1; transform < DIHEDRAL_TRANSFORMS; transform++) {
    const map = dihedralPixelMap(size, transform);
    for (let pixel = 0; pixel < map.length; pixel++) {
      const source = map[pixel]!;
      worst = Math.max(worst, Math.hypot(probe.real[pixel]! - probe.real[source]!, probe.imag[pixel]! - probe.imag[source]!));
    }
  }
  return worst / peak;
}
