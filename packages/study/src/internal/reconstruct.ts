/**
 * Reconstructing the test region with a trained model: group the test patterns as the model expects
 * (gridsize 1: one pattern per sample; gridsize 2: each pattern with 3 of its 7 nearest neighbours,
 * seeded), predict, and stitch every predicted patch (all C channels of every group) back into the object
 * by averaging overlaps. A gridsize-2 network that maps each pattern alone (`perPattern`) sees no group:
 * its test patterns are packed C to a sample in order and each is predicted and stitched once, as at
 * gridsize 1. Amplitudes return to object units (× maxAmplitude).
 */
import type { ComplexImage } from "@studykit/ptycho";
import type { ScanPosition } from "@studykit/ptycho";
import { groupedInputs } from "./model-tensors.js";
import { buildGroups } from "../overlap-views.js";
import { PatchStitcher, type StitchedObject } from "./stitch.js";

/** Anything that maps `[count, N, N, C]` inputs to `[count, N, N, 2C]` (amplitude, then phase). */
export interface Predictor {
  predict(input: Float32Array, count: number): Promise<Float32Array>;
}

/** A test split in memory. */
export interface TestSet {
  readonly size: number;
  readonly diffraction: Float32Array;
  readonly positions: readonly ScanPosition[];
  /** The ground-truth object (object units). */
  readonly object: ComplexImage;
}

/** Options of {@link reconstructTestRegion}. */
export interface ReconstructOptions {
  readonly gridsize: 1 | 2;
  /**
   * The network maps each of a sample's C patterns alone (the trainer's `ModelDescription.perPattern`):
   * predict every test pattern once, C unrelated patterns to a sample, instead of inside the ~C groups
   * each pattern belongs to (C times the work, and a stitch weighted by how often the seeded grouping drew
   * each pattern). Default false.
   */
  readonly perPattern?: boolean;
  readonly candidates: number;
  readonly seed: number;
  readonly inputScale: number;
  /** Multiplies predicted amplitudes back to object units. */
  readonly amplitudeScale: number;
  readonly stitchWindow: number;
  /** Samples per predict call (bounds memory). */
  readonly batchSize?: number;
}

/** Runs the model over the test set and stitches the predictions. */
export async function reconstructTestRegion(predictor: Predictor, test: TestSet, options: ReconstructOptions): Promise<StitchedObject> {
  const channels = options.gridsize * options.gridsize;
  const packed = options.perPattern === true && channels > 1;
  const groups = packed ? patternPacks(test.positions.length, channels) : buildGroups(test.positions, { groupSize: channels, candidates: options.candidates, seed: options.seed });
  const stitcher = new PatchStitcher(test.object.height, test.object.width, test.size, options.stitchWindow);
  const pixels = test.size * test.size;
  const batch = options.batchSize ?? 256;
  const amplitude = new Float32Array(pixels);
  const phase = new Float32Array(pixels);
  for (let start = 0; start < groups.length; start += batch) {
    const slice = groups.slice(start, start + batch);
    const input = groupedInputs(test.diffraction, test.size, slice, options.inputScale);
    const output = await predictor.predict(input, slice.length);
    if (output.length !== slice.length * pixels * 2 * channels) {
      throw new RangeError(`the model returned ${output.length} values for ${slice.length} samples; expected [${slice.length}, ${test.size}, ${test.size}, ${2 * channels}]`);
    }
    slice.forEach((group, sample) => {
      const base = sample * pixels * 2 * channels;
      group.forEach((row, channel) => {
        // The last pack repeats its last pattern to fill the sample; stitch each pattern once.
        if (packed && channel > 0 && row === group[channel - 1]) return;
        for (let pixel = 0; pixel < pixels; pixel++) {
          amplitude[pixel] = output[base + pixel * 2 * channels + channel]! * options.amplitudeScale;
          phase[pixel] = output[base + pixel * 2 * channels + channels + channel]!;
        }
        stitcher.add(test.positions[row]!, amplitude, phase);
      });
    });
  }
  return stitcher.finish();
}

/** Rows 0…count−1 in order, `channels` to a sample; the last sample repeats its last row to fill it. */
export function patternPacks(count: number, channels: number): number[][] {
  const packs: number[][] = [];
  for (let start = 0; start < count; start += channels) {
    packs.push(Array.from({ length: channels }, (_, channel) => Math.min(start + channel, count - 1)));
  }
  return packs;
}
