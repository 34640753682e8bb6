/**
 * The dataset bridge: seeded, shuffled mini-batches drawn from memory-mapped (or in-memory) arrays,
 * reading only the rows each batch needs.
 *
 * With `groups` (an integer array of shape `(nGroups, C)`, e.g. the gridsize² neighbouring scan positions
 * the study chose for each group), each sample is a group: its C rows are gathered and stacked as the
 * last (channel) axis, so a `(n, H, W)` source gives batches of `(B, H, W, C)` and an `(n,)` source gives
 * `(B, C)`. Without groups each sample is one row: `(B, ...rowShape)`.
 *
 * Shuffling is a Fisher-Yates permutation driven by a 32-bit PRNG (mulberry32) seeded from `seed` and the
 * epoch number, so the same seed gives the same batches on every machine.
 */
import { parseDescr, typedArrayConstructor, type NumericArray } from "./dtype.js";
import { DataError, DataErrorCode } from "./errors.js";
import { contiguousStrides, elementCount, type NdArray } from "./ndarray.js";

/** Anything batches can be drawn from: a {@link MemmapArray} or an in-memory array via {@link arrayRowSource}. */
export interface RowSource {
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly complex: boolean;
  /** The rows at `indices`, stacked: shape `[indices.length, ...shape.slice(1)]`. */
  gather(indices: ArrayLike<number>): NdArray;
}

/** Wraps an in-memory C-ordered array as a {@link RowSource}. */
export function arrayRowSource(array: NdArray): RowSource {
  if (array.order === "F" && array.shape.length > 1) throw new DataError(DataErrorCode.Argument, `array '${array.key}' is in Fortran order; load it in C order to draw rows from it`);
  if (array.shape.length === 0) throw new DataError(DataErrorCode.Argument, `array '${array.key}' is 0-d and has no rows`);
  const rowShape = array.shape.slice(1);
  const rowValues = elementCount(rowShape) * (array.complex ? 2 : 1);
  return {
    shape: array.shape,
    dtype: array.dtype,
    complex: array.complex,
    gather(indices) {
      const shape = [indices.length, ...rowShape];
      const source = array.data;
      let data: NdArray["data"];
      const check = (index: number) => {
        if (!Number.isSafeInteger(index) || index < 0 || index >= array.shape[0]!) throw new DataError(DataErrorCode.Argument, `row index ${index} is outside 0..${array.shape[0]}`);
      };
      if (Array.isArray(source)) {
        const out: string[] = [];
        for (let position = 0; position < indices.length; position++) {
          const index = indices[position]!;
          check(index);
          for (let value = 0; value < rowValues; value++) out.push(source[index * rowValues + value]!);
        }
        data = out;
      } else {
        const typed = source as NumericArray;
        const out = new (typed.constructor as new (length: number) => NumericArray)(indices.length * rowValues);
        for (let position = 0; position < indices.length; position++) {
          const index = indices[position]!;
          check(index);
          (out as Uint8Array).set((typed as Uint8Array).subarray(index * rowValues, (index + 1) * rowValues), position * rowValues);
        }
        data = out;
      }
      return { ...array, data, shape, order: "C", strides: contiguousStrides(shape) };
    },
  };
}

/** Options for {@link iterateBatches}. */
export interface BatchOptions {
  readonly batchSize: number;
  readonly seed: number;
  /** Shuffle the samples each epoch (default true); false keeps index order. */
  readonly shuffle?: boolean;
  /** Drop a final batch smaller than `batchSize` (default false). */
  readonly dropLast?: boolean;
  /** Number of passes over the samples (default 1). */
  readonly epochs?: number;
  /** Group index array of shape `(nGroups, C)`: row indices whose rows become the C channels of one sample. */
  readonly groups?: Pick<NdArray, "data" | "shape">;
}

/** One mini-batch. */
export interface Batch {
  readonly epoch: number;
  /** Batch number within the epoch. */
  readonly index: number;
  /** The samples in this batch: group numbers with `groups`, row numbers without. */
  readonly samples: Uint32Array;
  /** One array per source key. */
  readonly arrays: Readonly<Record<string, NdArray>>;
}

/** mulberry32: a small, fast 32-bit PRNG with good statistical quality for shuffling. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** The sample order of one epoch: a seeded Fisher-Yates permutation of `0..count-1`. */
export function shuffledOrder(count: number, seed: number, epoch = 0): Uint32Array {
  const order = new Uint32Array(count);
  for (let index = 0; index < count; index++) order[index] = index;
  const random = mulberry32((Math.trunc(seed) ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0);
  for (let index = count - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    const value = order[index]!;
    order[index] = order[other]!;
    order[other] = value;
  }
  return order;
}

function readGroups(groups: Pick<NdArray, "data" | "shape">, rows: number): { count: number; channels: number; indices: Uint32Array } {
  if (groups.shape.length !== 2) throw new DataError(DataErrorCode.Argument, `groups must have shape (nGroups, C), got (${groups.shape.join(", ")})`);
  const [count, channels] = groups.shape as [number, number];
  if (Array.isArray(groups.data) || groups.data.length !== count * channels) throw new DataError(DataErrorCode.Argument, `groups must be an integer TypedArray of ${count * channels} values`);
  const indices = new Uint32Array(count * channels);
  const source = groups.data;
  for (let position = 0; position < indices.length; position++) {
    const value = Number(source[position]!);
    if (!Number.isSafeInteger(value) || value < 0 || value >= rows) {
      throw new DataError(DataErrorCode.Argument, `groups[${Math.floor(position / channels)}, ${position % channels}] = ${String(source[position])} is not a row index in 0..${rows}`);
    }
    indices[position] = value;
  }
  return { count, channels, indices };
}

/** Moves the channel axis last: `[B, C, ...rest]` → `[B, ...rest, C]`. */
function channelsLast(array: NdArray, batch: number, channels: number): NdArray {
  const rest = array.shape.slice(2);
  const restCount = elementCount(rest);
  const scalars = array.complex ? 2 : 1;
  const shape = [batch, ...rest, channels];
  const input = array.data;
  let data: NdArray["data"];
  const move = (write: (to: number, from: number) => void) => {
    for (let b = 0; b < batch; b++) {
      for (let c = 0; c < channels; c++) {
        for (let r = 0; r < restCount; r++) {
          const from = ((b * channels + c) * restCount + r) * scalars;
          const to = ((b * restCount + r) * channels + c) * scalars;
          for (let s = 0; s < scalars; s++) write(to + s, from + s);
        }
      }
    }
  };
  if (Array.isArray(input)) {
    const out = new Array<string>(input.length);
    move((to, from) => (out[to] = input[from]!));
    data = out;
  } else {
    const Constructor = array.raw ? Uint16Array : typedArrayConstructor(parseDescr(array.dtype));
    const out = new Constructor(input.length) as unknown as { [index: number]: number | bigint };
    const from = input as unknown as { [index: number]: number | bigint };
    move((to, index) => (out[to] = from[index]!));
    data = out as unknown as NumericArray;
  }
  return { ...array, data, shape, order: "C", strides: contiguousStrides(shape) };
}

/**
 * Yields seeded mini-batches from the given sources (memory maps, row sources or loaded arrays, all with
 * the same number of rows), reading only the rows each batch needs.
 */
export function* iterateBatches(given: Readonly<Record<string, RowSource | NdArray>>, options: BatchOptions): Generator<Batch> {
  const sources: Record<string, RowSource> = {};
  for (const [key, source] of Object.entries(given)) sources[key] = "gather" in source ? source : arrayRowSource(source);
  const keys = Object.keys(sources);
  if (keys.length === 0) throw new DataError(DataErrorCode.Argument, "iterateBatches needs at least one source array");
  if (!Number.isSafeInteger(options.batchSize) || options.batchSize < 1) throw new DataError(DataErrorCode.Argument, `batchSize must be a positive integer, got ${options.batchSize}`);
  const rows = sources[keys[0]!]!.shape[0] ?? 0;
  for (const key of keys) {
    const length = sources[key]!.shape[0];
    if (length !== rows) throw new DataError(DataErrorCode.Argument, `source '${key}' has ${length ?? "no"} rows but '${keys[0]}' has ${rows}; every source needs the same first axis`);
  }
  const grouping = options.groups ? readGroups(options.groups, rows) : null;
  const samples = grouping ? grouping.count : rows;
  const epochs = options.epochs ?? 1;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = options.shuffle === false ? Uint32Array.from({ length: samples }, (_, index) => index) : shuffledOrder(samples, options.seed, epoch);
    for (let start = 0, index = 0; start < samples; start += options.batchSize, index++) {
      const size = Math.min(options.batchSize, samples - start);
      if (size < options.batchSize && options.dropLast) break;
      const chosen = order.subarray(start, start + size);
      const arrays: Record<string, NdArray> = {};
      let rowIndices: ArrayLike<number> = chosen;
      if (grouping) {
        const expanded = new Uint32Array(size * grouping.channels);
        for (let sample = 0; sample < size; sample++) {
          expanded.set(grouping.indices.subarray(chosen[sample]! * grouping.channels, (chosen[sample]! + 1) * grouping.channels), sample * grouping.channels);
        }
        rowIndices = expanded;
      }
      for (const key of keys) {
        const gathered = sources[key]!.gather(rowIndices);
        arrays[key] = grouping
          ? channelsLast({ ...gathered, shape: [size, grouping.channels, ...gathered.shape.slice(1)] }, size, grouping.channels)
          : gathered;
      }
      yield { epoch, index, samples: Uint32Array.from(chosen), arrays };
    }
  }
}
