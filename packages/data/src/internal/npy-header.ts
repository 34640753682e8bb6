/**
 * The `.npy` preamble, as numpy's `format` module defines it:
 *
 * ```
 * offset 0   6 bytes  magic "\x93NUMPY"
 * offset 6   1 byte   major version (1, 2 or 3)
 * offset 7   1 byte   minor version (0)
 * offset 8   2 bytes  header length, little-endian u16   (version 1)
 *            4 bytes  header length, little-endian u32   (versions 2 and 3)
 * then       header   a Python dict literal, latin-1 (v1, v2) or UTF-8 (v3), padded with spaces, ending "\n"
 * then       data     elements in C or Fortran order
 * ```
 *
 * numpy pads the preamble so the data starts on a 64-byte boundary (`ARRAY_ALIGN`).
 */
import { parseDescr, type Dtype } from "../dtype.js";
import { NpyError, DataErrorCode } from "../errors.js";
import { LiteralSyntaxError, parsePythonLiteral, showLiteral, type PythonLiteral } from "./python-literal.js";

/** `\x93NUMPY`. */
export const NPY_MAGIC = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59);
/** Bytes before the header text in versions 1 and 2/3. */
const PREAMBLE_V1 = 10;
const PREAMBLE_V2 = 12;
/** numpy's `ARRAY_ALIGN`: the preamble is padded so data starts at a multiple of this. */
export const NPY_ALIGN = 64;
/** numpy's default `max_header_size`: longer headers are refused before being parsed. */
export const MAX_HEADER_LENGTH = 10_000;
/** numpy's `GROWTH_AXIS_MAX_DIGITS`: spare spaces numpy leaves so the shape can grow in place. */
const GROWTH_AXIS_MAX_DIGITS = 21;
/** At most this many dimensions (numpy 2's `NPY_MAXDIMS`). */
const MAX_DIMENSIONS = 64;
/** Bytes enough for any preamble prefix: magic, version and length. */
export const NPY_PREFIX_LENGTH = PREAMBLE_V2;

/** A validated `.npy` header. */
export interface NpyHeader {
  readonly version: readonly [number, number];
  readonly dtype: Dtype;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  /** Offset of the first data byte from the start of the `.npy`. */
  readonly dataOffset: number;
  readonly elementCount: number;
  /** Bytes of element data the header declares. */
  readonly dataByteLength: number;
}

function headerError(source: string, message: string): NpyError {
  return new NpyError(DataErrorCode.NpyHeader, `${source}: ${message}`);
}

/**
 * Reads magic, version and header length from the first bytes and returns the preamble's total length
 * (where the data starts). `available` is the total byte length of the `.npy`, for truncation checks.
 */
export function readPreambleLength(prefix: Uint8Array, available: number, source: string): { version: [number, number]; dataOffset: number } {
  if (available < PREAMBLE_V1 || prefix.length < PREAMBLE_V1) {
    if (available >= NPY_MAGIC.length && !startsWithMagic(prefix)) throw notNpy(source);
    throw new NpyError(DataErrorCode.NpyTruncated, `${source}: only ${available} bytes, too short for an .npy preamble (at least ${PREAMBLE_V1}); the file is truncated`);
  }
  if (!startsWithMagic(prefix)) throw notNpy(source);
  const major = prefix[6]!;
  const minor = prefix[7]!;
  if (!((major === 1 || major === 2 || major === 3) && minor === 0)) {
    throw new NpyError(DataErrorCode.NpyVersion, `${source}: .npy format version ${major}.${minor} is not supported (numpy writes 1.0, 2.0 and 3.0)`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  let headerLength: number;
  let preamble: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    preamble = PREAMBLE_V1;
  } else {
    if (available < PREAMBLE_V2 || prefix.length < PREAMBLE_V2) {
      throw new NpyError(DataErrorCode.NpyTruncated, `${source}: only ${available} bytes, too short for a version ${major}.0 preamble; the file is truncated`);
    }
    headerLength = view.getUint32(8, true);
    preamble = PREAMBLE_V2;
  }
  if (headerLength > MAX_HEADER_LENGTH) {
    throw headerError(source, `header length ${headerLength} exceeds the limit of ${MAX_HEADER_LENGTH} bytes (numpy's max_header_size); the file is corrupt or hostile`);
  }
  const dataOffset = preamble + headerLength;
  if (dataOffset > available) {
    throw new NpyError(DataErrorCode.NpyTruncated, `${source}: the header declares ${headerLength} bytes but only ${available - preamble} follow the preamble; the file is truncated`);
  }
  return { version: [major, minor], dataOffset };
}

function startsWithMagic(bytes: Uint8Array): boolean {
  for (let index = 0; index < NPY_MAGIC.length; index++) if (bytes[index] !== NPY_MAGIC[index]) return false;
  return true;
}

function notNpy(source: string): NpyError {
  return new NpyError(DataErrorCode.NpyMagic, `${source}: not an .npy file (it does not start with numpy's "\\x93NUMPY" magic)`);
}

const REQUIRED_KEYS = ["descr", "fortran_order", "shape"] as const;

/**
 * Parses and validates the header of an `.npy` whose first bytes are `prefix` (at least up to the data
 * offset). `available` is how many bytes the whole `.npy` has; the declared data size is checked against it
 * before anyone allocates. `maxBytes` bounds the data size (`E_NPY_SIZE`).
 */
export function parseNpyHeader(prefix: Uint8Array, available: number, source: string, maxBytes = Number.MAX_SAFE_INTEGER): NpyHeader {
  const { version, dataOffset } = readPreambleLength(prefix, available, source);
  if (prefix.length < dataOffset) throw new NpyError(DataErrorCode.NpyTruncated, `${source}: header cut short; the file is truncated`);
  const preamble = version[0] === 1 ? PREAMBLE_V1 : PREAMBLE_V2;
  const headerBytes = prefix.subarray(preamble, dataOffset);
  let text: string;
  if (version[0] === 3) {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
    } catch {
      throw headerError(source, "a version 3.0 header is not valid UTF-8");
    }
  } else text = Buffer.from(headerBytes.buffer, headerBytes.byteOffset, headerBytes.byteLength).toString("latin1");

  let literal: PythonLiteral;
  try {
    literal = parsePythonLiteral(text);
  } catch (error) {
    if (error instanceof LiteralSyntaxError) throw headerError(source, `header is not a plain Python dict literal: ${error.message} (header: ${JSON.stringify(text.slice(0, 200).trimEnd())})`);
    throw error;
  }
  if (literal.type !== "dict") throw headerError(source, `header is a ${literal.type}, not a dict with 'descr', 'fortran_order' and 'shape'`);
  const fields = new Map<string, PythonLiteral>();
  for (const [key, value] of literal.entries) {
    if (key.type !== "str") throw headerError(source, `header key ${showLiteral(key)} is not a string`);
    if (!(REQUIRED_KEYS as readonly string[]).includes(key.value)) throw headerError(source, `unexpected header key '${key.value}' (expected exactly 'descr', 'fortran_order' and 'shape')`);
    if (fields.has(key.value)) throw headerError(source, `header key '${key.value}' appears twice`);
    fields.set(key.value, value);
  }
  for (const key of REQUIRED_KEYS) if (!fields.has(key)) throw headerError(source, `header lacks the '${key}' key (it has: ${[...fields.keys()].map((k) => `'${k}'`).join(", ") || "none"})`);

  const descr = fields.get("descr")!;
  if (descr.type !== "str") {
    if (descr.type === "list") {
      throw new NpyError(DataErrorCode.NpyDtypeUnsupported, `${source}: structured dtype ${showLiteral(descr).slice(0, 200)} is not supported (save each field as its own array)`);
    }
    throw headerError(source, `'descr' must be a string such as '<f8', got ${showLiteral(descr).slice(0, 100)}`);
  }
  let dtype: Dtype;
  try {
    dtype = parseDescr(descr.value);
  } catch (error) {
    if (error instanceof NpyError) throw new NpyError(error.code, `${source}: ${error.message}`);
    throw error;
  }

  const fortran = fields.get("fortran_order")!;
  if (fortran.type !== "bool") throw headerError(source, `'fortran_order' must be True or False, got ${showLiteral(fortran).slice(0, 100)}`);

  const shapeLiteral = fields.get("shape")!;
  if (shapeLiteral.type !== "tuple") throw headerError(source, `'shape' must be a tuple of non-negative integers, got ${showLiteral(shapeLiteral).slice(0, 100)}`);
  if (shapeLiteral.items.length > MAX_DIMENSIONS) throw headerError(source, `'shape' has ${shapeLiteral.items.length} dimensions; at most ${MAX_DIMENSIONS} are allowed`);
  let count = 1n;
  const shape: number[] = [];
  for (const item of shapeLiteral.items) {
    if (item.type !== "int" || item.value < 0n) throw headerError(source, `'shape' ${showLiteral(shapeLiteral).slice(0, 100)} holds ${showLiteral(item).slice(0, 40)}, not a non-negative integer`);
    if (item.value > BigInt(Number.MAX_SAFE_INTEGER)) throw new NpyError(DataErrorCode.NpySize, `${source}: dimension ${item.value} in shape ${showLiteral(shapeLiteral)} is too large to address`);
    shape.push(Number(item.value));
    count *= item.value;
  }
  const byteLength = count * BigInt(dtype.itemSize);
  const limit = BigInt(Math.min(maxBytes, Number.MAX_SAFE_INTEGER));
  if (byteLength > limit || count > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new NpyError(DataErrorCode.NpySize, `${source}: shape ${showLiteral(shapeLiteral)} of ${descr.value} declares ${byteLength} bytes, over the limit of ${limit} bytes; the file is corrupt or hostile`);
  }
  const dataByteLength = Number(byteLength);
  if (dataOffset + dataByteLength > available) {
    throw new NpyError(
      DataErrorCode.NpyTruncated,
      `${source}: shape ${showLiteral(shapeLiteral)} of ${descr.value} needs ${dataByteLength} data bytes but only ${available - dataOffset} are present; the file is truncated`,
    );
  }
  return { version, dtype, fortranOrder: fortran.value, shape, dataOffset, elementCount: Number(count), dataByteLength };
}

/** Python's `repr` of a shape tuple: `()`, `(3,)`, `(3, 4)`. */
export function shapeRepr(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(", ")})`;
}

/**
 * The preamble numpy's `write_array_header_*` produces for this array: version 1.0 when the header fits a
 * u16 length, else 2.0 (3.0 when the descr needs UTF-8), padded to a multiple of 64 bytes.
 */
export function encodeNpyPreamble(descr: string, fortranOrder: boolean, shape: readonly number[]): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? "True" : "False"}, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) header += " ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[fortranOrder ? shape.length - 1 : 0]).length));
  const latin1 = /^[\x00-\xff]*$/.test(header);
  const encoded = Buffer.from(header, latin1 ? "latin1" : "utf8");
  let version = !latin1 ? 3 : 1;
  let preamble = version === 1 ? PREAMBLE_V1 : PREAMBLE_V2;
  let padding = NPY_ALIGN - ((preamble + encoded.length + 1) % NPY_ALIGN);
  if (padding === NPY_ALIGN) padding = 0;
  if (version === 1 && encoded.length + padding + 1 > 0xffff) {
    version = 2;
    preamble = PREAMBLE_V2;
    padding = NPY_ALIGN - ((preamble + encoded.length + 1) % NPY_ALIGN);
    if (padding === NPY_ALIGN) padding = 0;
  }
  const total = preamble + encoded.length + padding + 1;
  const out = Buffer.alloc(total, 0x20);
  out.set(NPY_MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) out.writeUInt16LE(total - preamble, 8);
  else out.writeUInt32LE(total - preamble, 8);
  out.set(encoded, preamble);
  out[total - 1] = 0x0a;
  return out;
}
