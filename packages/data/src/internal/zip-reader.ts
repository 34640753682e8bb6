/**
 * A zip reader for what numpy's `savez` / `savez_compressed` (Python's `zipfile`) produce, and no more.
 *
 * Layout (PKWARE APPNOTE 6.3):
 *
 * ```
 * [local file header 30 B + name + extra][member data][data descriptor, if flag bit 3] ... (per member)
 * [central directory header 46 B + name + extra + comment] ...                        (per member)
 * [zip64 end of central directory record 56 B][zip64 locator 20 B]                    (when zip64)
 * [end of central directory record 22 B + comment]
 * ```
 *
 * Sizes, CRCs and offsets come from the central directory (local headers of streamed members hold zeros
 * and defer to a data descriptor). Every offset and size is checked against the file before it is read;
 * declared sizes are bounded by what the compressed data could possibly expand to, so a zip bomb is
 * refused up front instead of exhausting memory; every member's CRC-32 is verified.
 */
import { constants as zlibConstants, inflateRawSync } from "node:zlib";
import { constants as bufferConstants } from "node:buffer";
import { totalmem } from "node:os";
import { DataErrorCode, ZipError } from "../errors.js";
import type { ByteSource } from "./byte-source.js";
import { crc32 } from "./element-kernels.js";

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const END_SIGNATURE = 0x06054b50;
const ZIP64_END_SIGNATURE = 0x06064b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const LOCAL_HEADER_LENGTH = 30;
const CENTRAL_HEADER_LENGTH = 46;
const END_LENGTH = 22;
const ZIP64_END_LENGTH = 56;
const ZIP64_LOCATOR_LENGTH = 20;
const MAX_COMMENT_LENGTH = 0xffff;
const ZIP64_EXTRA_ID = 0x0001;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
/** Deflate cannot expand data by more than about 1032:1; anything claiming more is a lie or a bomb. */
const MAX_DEFLATE_RATIO = 1032;
/** Compressed bytes enough to hold any `.npy` preamble numpy accepts. */
const MAX_HEADER_PREFIX = 16 * 1024;
/** The IBM PC code page zip uses for names without the UTF-8 flag (bytes 0x80-0xFF). */
const CP437_HIGH =
  "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";

/** One member as the central directory describes it. */
export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
}

function corrupt(source: ByteSource, message: string): ZipError {
  return new ZipError(DataErrorCode.ZipCorrupt, `${source.label}: ${message}; the file is not a valid zip/npz (truncated or damaged)`);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u64(data: DataView, offset: number, source: ByteSource, what: string): number {
  const value = data.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(source, `${what} ${value} is beyond any real file size`);
  return Number(value);
}

function decodeName(bytes: Uint8Array, utf8: boolean): string {
  if (utf8) return new TextDecoder("utf-8").decode(bytes);
  let name = "";
  for (const byte of bytes) name += byte < 0x80 ? String.fromCharCode(byte) : CP437_HIGH[byte - 0x80]!;
  return name;
}

/** Where the central directory is and how many entries it declares. */
interface Directory {
  readonly offset: number;
  readonly size: number;
  readonly entries: number;
  /** First byte after the central directory that belongs to the end records. */
  readonly end: number;
}

function findDirectory(source: ByteSource): Directory {
  if (source.size < END_LENGTH) throw corrupt(source, `only ${source.size} bytes, too short for a zip end record`);
  const tailLength = Math.min(source.size, END_LENGTH + MAX_COMMENT_LENGTH);
  const tailStart = source.size - tailLength;
  const tail = source.read(tailStart, tailLength);
  const data = view(tail);
  let endAt = -1;
  for (let index = tailLength - END_LENGTH; index >= 0; index--) {
    if (data.getUint32(index, true) === END_SIGNATURE && index + END_LENGTH + data.getUint16(index + 20, true) <= tailLength) {
      endAt = index;
      break;
    }
  }
  if (endAt < 0) throw corrupt(source, "no end-of-central-directory record found");
  const disk = data.getUint16(endAt + 4, true);
  const directoryDisk = data.getUint16(endAt + 6, true);
  let entries = data.getUint16(endAt + 10, true);
  let size = data.getUint32(endAt + 12, true);
  let offset = data.getUint32(endAt + 16, true);
  let end = tailStart + endAt;
  const locatorAt = endAt - ZIP64_LOCATOR_LENGTH;
  if (locatorAt >= 0 && data.getUint32(locatorAt, true) === ZIP64_LOCATOR_SIGNATURE) {
    const recordOffset = u64(data, locatorAt + 8, source, "zip64 end record offset");
    if (recordOffset + ZIP64_END_LENGTH > tailStart + locatorAt) throw corrupt(source, `zip64 end record offset ${recordOffset} points past the locator`);
    const record = view(source.read(recordOffset, ZIP64_END_LENGTH));
    if (record.getUint32(0, true) !== ZIP64_END_SIGNATURE) throw corrupt(source, `no zip64 end record at offset ${recordOffset}`);
    if (record.getUint32(16, true) !== 0 || record.getUint32(20, true) !== 0) {
      throw new ZipError(DataErrorCode.ZipUnsupported, `${source.label}: multi-disk (split) zip archives are not supported`);
    }
    entries = u64(record, 32, source, "zip64 entry count");
    size = u64(record, 40, source, "zip64 central directory size");
    offset = u64(record, 48, source, "zip64 central directory offset");
    end = recordOffset;
  } else {
    if (disk !== 0 || directoryDisk !== 0) throw new ZipError(DataErrorCode.ZipUnsupported, `${source.label}: multi-disk (split) zip archives are not supported`);
    if (entries === U16_MAX || size === U32_MAX || offset === U32_MAX) throw corrupt(source, "the end record defers to a zip64 record that is missing");
  }
  if (offset + size > end) throw corrupt(source, `central directory (offset ${offset}, ${size} bytes) overlaps the end record at ${end}`);
  if (entries * CENTRAL_HEADER_LENGTH > size) throw corrupt(source, `${entries} entries cannot fit a ${size}-byte central directory`);
  return { offset, size, entries, end };
}

/** Reads and validates the central directory: every entry's name, sizes and offsets. */
export function readCentralDirectory(source: ByteSource): { entries: ZipEntry[]; directoryOffset: number } {
  const directory = findDirectory(source);
  const bytes = source.read(directory.offset, directory.size);
  const data = view(bytes);
  const entries: ZipEntry[] = [];
  let position = 0;
  for (let index = 0; index < directory.entries; index++) {
    if (position + CENTRAL_HEADER_LENGTH > bytes.length) throw corrupt(source, `central directory entry ${index} runs past the directory`);
    if (data.getUint32(position, true) !== CENTRAL_HEADER_SIGNATURE) throw corrupt(source, `bad signature on central directory entry ${index}`);
    const flags = data.getUint16(position + 8, true);
    const method = data.getUint16(position + 10, true);
    const crc = data.getUint32(position + 16, true);
    let compressedSize = data.getUint32(position + 20, true);
    let uncompressedSize = data.getUint32(position + 24, true);
    const nameLength = data.getUint16(position + 28, true);
    const extraLength = data.getUint16(position + 30, true);
    const commentLength = data.getUint16(position + 32, true);
    let diskStart = data.getUint16(position + 34, true);
    let localHeaderOffset = data.getUint32(position + 42, true);
    const nameStart = position + CENTRAL_HEADER_LENGTH;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > bytes.length) throw corrupt(source, `central directory entry ${index} runs past the directory`);
    const name = decodeName(bytes.subarray(nameStart, extraStart), (flags & FLAG_UTF8) !== 0);
    // zip64 extra: only the fields whose 32-bit slots hold 0xFFFFFFFF are present, in this order.
    for (let extra = extraStart; extra + 4 <= extraStart + extraLength; ) {
      const id = data.getUint16(extra, true);
      const length = data.getUint16(extra + 2, true);
      const fieldEnd = extra + 4 + length;
      if (fieldEnd > extraStart + extraLength) throw corrupt(source, `extra field of member '${name}' runs past its entry`);
      if (id === ZIP64_EXTRA_ID) {
        let cursor = extra + 4;
        const take = (what: string): number => {
          if (cursor + 8 > fieldEnd) throw corrupt(source, `zip64 extra field of member '${name}' lacks the ${what}`);
          const value = u64(data, cursor, source, `${what} of member '${name}'`);
          cursor += 8;
          return value;
        };
        if (uncompressedSize === U32_MAX) uncompressedSize = take("uncompressed size");
        if (compressedSize === U32_MAX) compressedSize = take("compressed size");
        if (localHeaderOffset === U32_MAX) localHeaderOffset = take("local header offset");
        if (diskStart === U16_MAX && cursor + 4 <= fieldEnd) diskStart = data.getUint32(cursor, true);
      }
      extra = fieldEnd;
    }
    if (diskStart !== 0) throw new ZipError(DataErrorCode.ZipUnsupported, `${source.label}: member '${name}' starts on disk ${diskStart}; split archives are not supported`);
    if (localHeaderOffset + LOCAL_HEADER_LENGTH > directory.offset) throw corrupt(source, `member '${name}' has local header offset ${localHeaderOffset}, outside the data area (0..${directory.offset})`);
    if (compressedSize > directory.offset) throw corrupt(source, `member '${name}' declares ${compressedSize} compressed bytes, more than the archive holds`);
    entries.push({ name, method, flags, crc32: crc, compressedSize, uncompressedSize, localHeaderOffset });
    position = next;
  }
  return { entries, directoryOffset: directory.offset };
}

/** Offset of a member's data, from its local header (checked against the central directory). */
export function memberDataOffset(source: ByteSource, entry: ZipEntry, directoryOffset: number): number {
  const header = view(source.read(entry.localHeaderOffset, LOCAL_HEADER_LENGTH));
  if (header.getUint32(0, true) !== LOCAL_HEADER_SIGNATURE) throw corrupt(source, `member '${entry.name}' has no local header at offset ${entry.localHeaderOffset}`);
  const nameLength = header.getUint16(26, true);
  const extraLength = header.getUint16(28, true);
  const dataOffset = entry.localHeaderOffset + LOCAL_HEADER_LENGTH + nameLength + extraLength;
  if (dataOffset + entry.compressedSize > directoryOffset) {
    throw corrupt(source, `member '${entry.name}' (${entry.compressedSize} bytes at offset ${dataOffset}) runs past the data area, which ends at ${directoryOffset}`);
  }
  const localName = decodeName(source.read(entry.localHeaderOffset + LOCAL_HEADER_LENGTH, nameLength), (header.getUint16(6, true) & FLAG_UTF8) !== 0);
  if (localName !== entry.name) throw corrupt(source, `member '${entry.name}' is called '${localName}' in its local header`);
  return dataOffset;
}

/** Refuses members studykit cannot decode, and sizes that cannot be real, before anything is allocated. */
export function checkEntry(source: ByteSource, entry: ZipEntry, maxBytes: number): void {
  if ((entry.flags & FLAG_ENCRYPTED) !== 0) throw new ZipError(DataErrorCode.ZipUnsupported, `${source.label}: member '${entry.name}' is encrypted; encrypted archives are not supported`);
  if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATE) {
    throw new ZipError(DataErrorCode.ZipUnsupported, `${source.label}: member '${entry.name}' uses compression method ${entry.method}; only stored (0) and deflate (8), which numpy writes, are supported`);
  }
  if (entry.method === METHOD_STORED && entry.compressedSize !== entry.uncompressedSize) {
    throw corrupt(source, `stored member '${entry.name}' declares ${entry.uncompressedSize} bytes but occupies ${entry.compressedSize}`);
  }
  if (entry.method === METHOD_DEFLATE && entry.uncompressedSize > entry.compressedSize * MAX_DEFLATE_RATIO + 1024) {
    throw new ZipError(
      DataErrorCode.ZipSize,
      `${source.label}: member '${entry.name}' claims ${entry.uncompressedSize} bytes from ${entry.compressedSize} compressed bytes, beyond deflate's maximum ratio; refusing a likely zip bomb`,
    );
  }
  // Even an honestly declared size may not claim more than half the machine's memory: a 4 MB archive
  // inflating to 4 GB is still a bomb for a small machine.
  const limit = Math.min(maxBytes, bufferConstants.MAX_LENGTH, Math.floor(totalmem() / 2));
  if (entry.uncompressedSize > limit) {
    throw new ZipError(DataErrorCode.ZipSize, `${source.label}: member '${entry.name}' declares ${entry.uncompressedSize} bytes, over the limit of ${limit} bytes (raise maxBytes to read it)`);
  }
}

/** True for deflate members. */
export function isCompressed(entry: ZipEntry): boolean {
  return entry.method === METHOD_DEFLATE;
}

/**
 * Reads and, for deflate, inflates a member; verifies its size and CRC-32. `owned` tells whether the
 * returned memory is private to the caller.
 */
export function readMember(source: ByteSource, entry: ZipEntry, dataOffset: number, maxBytes: number): { bytes: Uint8Array; owned: boolean } {
  checkEntry(source, entry, maxBytes);
  let bytes: Uint8Array;
  let owned: boolean;
  let actual = 0;
  if (entry.method === METHOD_STORED) {
    bytes = source.readVisiting(dataOffset, entry.compressedSize, (chunk) => (actual = crc32(chunk, actual)));
    owned = source.ownsReads;
  } else {
    bytes = inflateMember(source, entry, source.read(dataOffset, entry.compressedSize));
    owned = true;
    actual = crc32(bytes);
  }
  if (actual !== entry.crc32) {
    throw new ZipError(
      DataErrorCode.ZipCrc,
      `${source.label}: member '${entry.name}' fails its CRC-32 check (stored ${entry.crc32.toString(16).padStart(8, "0")}, computed ${actual.toString(16).padStart(8, "0")}); the file is damaged`,
    );
  }
  return { bytes, owned };
}

function inflateMember(source: ByteSource, entry: ZipEntry, compressed: Uint8Array): Uint8Array {
  const expected = entry.uncompressedSize;
  let output: Buffer;
  try {
    // One output chunk one byte larger than declared: inflation fills it once and stops, with no regrowth,
    // and more output than declared fails instead of growing memory.
    output = inflateRawSync(compressed, { chunkSize: Math.max(64, Math.min(expected + 1, bufferConstants.MAX_LENGTH)), maxOutputLength: Math.max(1, expected) });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ERR_BUFFER_TOO_LARGE") throw corrupt(source, `member '${entry.name}' inflates to more than its declared ${expected} bytes`);
    throw corrupt(source, `member '${entry.name}' does not inflate (${(error as Error).message})`);
  }
  if (output.length !== expected) throw corrupt(source, `member '${entry.name}' inflates to ${output.length} bytes, not the declared ${expected}`);
  return new Uint8Array(output.buffer, output.byteOffset, output.length);
}

/**
 * Inflates just enough of a deflate member to read its first `wanted` bytes (for `.npy` headers), growing
 * the compressed prefix only as needed so a compressible bomb cannot balloon memory.
 */
export function readMemberPrefix(source: ByteSource, entry: ZipEntry, dataOffset: number, wanted: number, maxBytes: number): Uint8Array {
  checkEntry(source, entry, maxBytes);
  const limit = Math.min(wanted, entry.uncompressedSize);
  if (entry.method === METHOD_STORED) return source.read(dataOffset, Math.min(limit, entry.compressedSize));
  let prefixLength = Math.min(entry.compressedSize, 1024);
  for (;;) {
    let output: Buffer;
    try {
      output = inflateRawSync(source.read(dataOffset, prefixLength), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (error) {
      throw corrupt(source, `member '${entry.name}' does not inflate (${(error as Error).message})`);
    }
    // An .npy preamble is at most ~10 KB, which deflate never stores in more than 16 KiB.
    if (output.length >= limit || prefixLength >= entry.compressedSize || prefixLength >= MAX_HEADER_PREFIX) return output.subarray(0, Math.min(limit, output.length));
    prefixLength = Math.min(entry.compressedSize, MAX_HEADER_PREFIX);
  }
}
