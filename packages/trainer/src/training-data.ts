/**
 * Where training samples come from: in-memory Float32Arrays, or `@studykit/data`'s row sources (memmap
 * or in-memory npy/npz arrays), read a mini-batch at a time so a large memory-mapped dataset is never
 * copied whole.
 *
 * Samples are channels-last `[H, W, C]` float32: `inputs` are diffraction amplitudes; `amplitude` and
 * `phase` (supervised targets) are the object patch's |Y| and angle(Y). `offsets` (`[count, C, 2]`, pixels,
 * `(x, y)` per channel) place a grouped sample's channels relative to each other, for the physics loss's
 * overlap constraint.
 */
import { TrainingDataError } from "./errors.js";
import type { NdArray, RowSource } from "@studykit/data";

/** The arrays of some samples, each `[count, H, W, C]` flattened. */
export interface TrainingSamples {
  readonly inputs: Float32Array;
  readonly amplitude?: Float32Array;
  readonly phase?: Float32Array;
  /** `[count, C, 2]` channel offsets (x, y) in pixels, when the data has them. */
  readonly offsets?: Float32Array;
}

/** A dataset the training loop can draw mini-batches from. */
export interface TrainingData {
  readonly count: number;
  /** `[H, W, C]` of one sample. */
  readonly sampleShape: readonly [number, number, number];
  /** True when `read` returns `amplitude` and `phase` targets. */
  readonly hasTargets: boolean;
  /** True when `read` returns `offsets` (grouped samples placed for the overlap constraint). */
  readonly hasOffsets?: boolean;
  /** The samples at `indices`, in that order. */
  read(indices: Uint32Array): TrainingSamples | Promise<TrainingSamples>;
}

function gatherRows(source: Float32Array, perSample: number, indices: Uint32Array): Float32Array {
  const out = new Float32Array(indices.length * perSample);
  for (let i = 0; i < indices.length; i++) {
    const row = indices[i]!;
    out.set(source.subarray(row * perSample, (row + 1) * perSample), i * perSample);
  }
  return out;
}

/** In-memory samples. Each array holds `count·H·W·C` values (channels-last). */
export function inMemoryTrainingData(arrays: {
  readonly sampleShape: readonly [number, number, number];
  readonly inputs: Float32Array;
  readonly amplitude?: Float32Array;
  readonly phase?: Float32Array;
  /** `count·C·2` channel offsets (x, y), pixels. */
  readonly offsets?: Float32Array;
}): TrainingData {
  const [h, w, c] = arrays.sampleShape;
  const per = h * w * c;
  if (!(per > 0) || arrays.inputs.length % per !== 0) {
    throw new TrainingDataError(`inputs hold ${arrays.inputs.length} values, not a whole number of ${h}×${w}×${c} samples`);
  }
  const count = arrays.inputs.length / per;
  for (const key of ["amplitude", "phase"] as const) {
    const a = arrays[key];
    if (a && a.length !== arrays.inputs.length) throw new TrainingDataError(`${key} holds ${a.length} values but inputs hold ${arrays.inputs.length}; they must match sample for sample`);
  }
  if ((arrays.amplitude === undefined) !== (arrays.phase === undefined)) throw new TrainingDataError("give both amplitude and phase targets, or neither");
  const hasTargets = arrays.amplitude !== undefined;
  const offsets = arrays.offsets;
  if (offsets) checkOffsets(offsets, count, c);
  return {
    count,
    sampleShape: [h, w, c],
    hasTargets,
    hasOffsets: offsets !== undefined,
    read(indices) {
      const inputs = gatherRows(arrays.inputs, per, indices);
      const targets = hasTargets ? { amplitude: gatherRows(arrays.amplitude!, per, indices), phase: gatherRows(arrays.phase!, per, indices) } : {};
      return { inputs, ...targets, ...(offsets ? { offsets: gatherRows(offsets, 2 * c, indices) } : {}) };
    },
  };
}

/** Throws unless `offsets` holds `count·channels·2` finite values. */
function checkOffsets(offsets: ArrayLike<number>, count: number, channels: number): void {
  if (offsets.length !== count * channels * 2) throw new TrainingDataError(`offsets hold ${offsets.length} values but ${count} samples of ${channels} channels need ${count}×${channels}×2 (x, y per channel)`);
  for (let i = 0; i < offsets.length; i++) {
    if (!Number.isFinite(offsets[i]!)) throw new TrainingDataError(`offsets[${Math.floor(i / (2 * channels))}, ${Math.floor(i / 2) % channels}, ${i % 2}] is ${offsets[i]}; offsets must be finite pixel distances`);
  }
}

function toFloat32(array: NdArray, what: string): Float32Array {
  const data = array.data;
  if (Array.isArray(data) || typeof (data as ArrayLike<unknown>)[0] === "bigint") {
    throw new TrainingDataError(`${what} has dtype ${array.dtype}; training needs a float or integer array`);
  }
  return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
}

/**
 * Samples from `@studykit/data` row sources (`openMemmap`, or `arrayRowSource` over a loaded array).
 * `inputs` rows are `(H, W)` or `(H, W, C)`; targets come either as a complex `objects` source (|Y|,
 * angle(Y)) or as real `amplitude` and `phase` sources of the same row shape. With `groups` (shape
 * `(nGroups, C)`, row numbers), each sample stacks C rows as channels, as the dataset bridge does.
 */
export function rowSourceTrainingData(sources: {
  readonly inputs: RowSource;
  readonly objects?: RowSource;
  readonly amplitude?: RowSource;
  readonly phase?: RowSource;
  readonly groups?: { readonly data: ArrayLike<number | bigint>; readonly shape: readonly number[] };
  /** Per sample (per group with `groups`), `(count, C, 2)` channel offsets (x, y) in pixels. */
  readonly offsets?: { readonly data: ArrayLike<number>; readonly shape: readonly number[] };
}): TrainingData {
  const rowShape = sources.inputs.shape.slice(1);
  if (rowShape.length !== 2 && rowShape.length !== 3) throw new TrainingDataError(`inputs rows must be (H, W) or (H, W, C), got (${rowShape.join(", ")})`);
  const [h, w] = rowShape as [number, number];
  const rowChannels = rowShape[2] ?? 1;
  let groupSize = 1;
  let count = sources.inputs.shape[0]!;
  let groupRows: Uint32Array | null = null;
  if (sources.groups) {
    if (rowChannels !== 1) throw new TrainingDataError("groups need inputs rows of shape (H, W)");
    const [g, c] = sources.groups.shape as [number, number];
    groupRows = new Uint32Array(g * c);
    for (let i = 0; i < g * c; i++) {
      const v = Number(sources.groups.data[i]);
      if (!Number.isSafeInteger(v) || v < 0 || v >= count) throw new TrainingDataError(`groups[${Math.floor(i / c)}, ${i % c}] = ${v} is not a row of inputs (0..${count - 1})`);
      groupRows[i] = v;
    }
    groupSize = c;
    count = g;
  }
  const channels = groupSize * rowChannels;
  let offsets: Float32Array | undefined;
  if (sources.offsets) {
    const shape = sources.offsets.shape;
    if (shape.join() !== [count, channels, 2].join()) throw new TrainingDataError(`offsets have shape (${shape.join(", ")}) but the data has ${count} samples of ${channels} channels: they must be (${count}, ${channels}, 2)`);
    offsets = Float32Array.from(sources.offsets.data);
    checkOffsets(offsets, count, channels);
  }
  const targets = sources.objects ? "objects" : sources.amplitude && sources.phase ? "split" : null;
  for (const [key, source] of Object.entries({ objects: sources.objects, amplitude: sources.amplitude, phase: sources.phase })) {
    if (source && source.shape.slice(1).join() !== rowShape.join()) throw new TrainingDataError(`${key} rows are (${source.shape.slice(1).join(", ")}) but inputs rows are (${rowShape.join(", ")})`);
    if (source && source.shape[0] !== sources.inputs.shape[0]) throw new TrainingDataError(`${key} has ${source.shape[0]} rows but inputs has ${sources.inputs.shape[0]}`);
  }
  if (sources.objects && !sources.objects.complex) throw new TrainingDataError(`objects must be a complex array (Y patches), got dtype ${sources.objects.dtype}`);

  /** Reads rows and arranges them `[n, H, W, channels]`. */
  const readStacked = (source: RowSource, indices: Uint32Array, what: string, part?: "abs" | "angle"): Float32Array => {
    const rows = groupRows ? Uint32Array.from({ length: indices.length * groupSize }, (_, k) => groupRows![indices[Math.floor(k / groupSize)]! * groupSize + (k % groupSize)]!) : indices;
    const gathered = source.gather(rows);
    let values: Float32Array;
    if (part) {
      const raw = gathered.data as ArrayLike<number>;
      values = new Float32Array(raw.length / 2);
      for (let i = 0; i < values.length; i++) {
        const re = raw[2 * i]!;
        const im = raw[2 * i + 1]!;
        values[i] = part === "abs" ? Math.hypot(re, im) : Math.atan2(im, re);
      }
    } else {
      values = toFloat32(gathered, what);
    }
    if (groupSize === 1) return values;
    // [n, C, H, W] → [n, H, W, C]
    const out = new Float32Array(values.length);
    const hw = h * w;
    for (let n = 0; n < indices.length; n++) {
      for (let c = 0; c < groupSize; c++) {
        for (let p = 0; p < hw; p++) out[(n * hw + p) * groupSize + c] = values[(n * groupSize + c) * hw + p]!;
      }
    }
    return out;
  };
  return {
    count,
    sampleShape: [h, w, channels],
    hasTargets: targets !== null,
    hasOffsets: offsets !== undefined,
    read(indices) {
      const inputs = readStacked(sources.inputs, indices, "inputs");
      const placed = offsets ? { offsets: gatherRows(offsets, 2 * channels, indices) } : {};
      if (targets === "objects") return { inputs, amplitude: readStacked(sources.objects!, indices, "objects", "abs"), phase: readStacked(sources.objects!, indices, "objects", "angle"), ...placed };
      if (targets === "split") return { inputs, amplitude: readStacked(sources.amplitude!, indices, "amplitude"), phase: readStacked(sources.phase!, indices, "phase"), ...placed };
      return { inputs, ...placed };
    },
  };
}
