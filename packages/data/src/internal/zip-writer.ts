/**
 * Writes zip archives the way `.npz` readers expect (numpy's `np.load`, and ours): stored or deflate
 * members, zip64 records only where a size or offset needs them, fixed timestamps (so equal arrays give
 * equal files), and stored members padded so their `.npy` data starts on a 64-byte boundary, which lets
 * readers memory-map it without copying.
 */
import { deflateRawSync } from "node:zlib";
import { AtomicFileWriter } from "@studykit/native";
import { crc32 } from "./element-kernels.js";

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const END_SIGNATURE = 0x06054b50;
const ZIP64_END_SIGNATURE = 0x06064b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EXTRA_ID = 0x0001;
/** The extra field Android's zipalign uses to pad a local header to an alignment. */
const ALIGNMENT_EXTRA_ID = 0xd935;
const FLAG_UTF8 = 0x0800;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
const VERSION_DEFAULT = 20;
const VERSION_ZIP64 = 45;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
/** DOS date for 1980-01-01, the earliest zip can express, used for every member. */
const FIXED_DOS_DATE = (0 << 9) | (1 << 5) | 1;
const FIXED_DOS_TIME = 0;
/** Data of stored members starts at a multiple of this (numpy's npy headers keep the 64-byte alignment). */
export const MEMBER_ALIGN = 64;

/** One member to write: its name and its content as chunks. */
export interface ZipMemberInput {
  readonly name: string;
  readonly chunks: readonly Uint8Array[];
}

interface WrittenMember {
  readonly name: Buffer;
  readonly utf8: boolean;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly offset: number;
}

/** Writes `members` to `path` atomically; `compress` deflates them (zlib `level`, default 6 like Python). */
export function writeZip(path: string, members: readonly ZipMemberInput[], options: { compress: boolean; level?: number }): void {
  const file = new AtomicFileWriter(path);
  try {
    const written: WrittenMember[] = [];
    for (const member of members) written.push(writeMember(file, member, options));
    const directoryOffset = file.position;
    for (const member of written) file.write(centralHeader(member));
    const directorySize = file.position - directoryOffset;
    file.write(endRecords(written.length, directoryOffset, directorySize, file.position));
    file.commit();
  } catch (error) {
    file.abort();
    throw error;
  }
}

function writeMember(file: AtomicFileWriter, member: ZipMemberInput, options: { compress: boolean; level?: number }): WrittenMember {
  const utf8 = /[^\x20-\x7e]/.test(member.name);
  const name = Buffer.from(member.name, "utf8");
  let crc = 0;
  let size = 0;
  for (const chunk of member.chunks) {
    crc = crc32(chunk, crc);
    size += chunk.byteLength;
  }
  const offset = file.position;
  let body: readonly Uint8Array[] = member.chunks;
  let compressedSize = size;
  if (options.compress) {
    const compressed = deflateRawSync(Buffer.concat(member.chunks.map((chunk) => Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))), { level: options.level ?? 6 });
    body = [compressed];
    compressedSize = compressed.length;
  }
  const zip64 = size >= U32_MAX || compressedSize >= U32_MAX;
  const zip64Extra = zip64 ? Buffer.alloc(20) : Buffer.alloc(0);
  if (zip64) {
    zip64Extra.writeUInt16LE(ZIP64_EXTRA_ID, 0);
    zip64Extra.writeUInt16LE(16, 2);
    zip64Extra.writeBigUInt64LE(BigInt(size), 4);
    zip64Extra.writeBigUInt64LE(BigInt(compressedSize), 12);
  }
  let padding = Buffer.alloc(0);
  if (!options.compress) {
    const unpadded = offset + 30 + name.length + zip64Extra.length + 6;
    const pad = (MEMBER_ALIGN - (unpadded % MEMBER_ALIGN)) % MEMBER_ALIGN;
    padding = Buffer.alloc(6 + pad);
    padding.writeUInt16LE(ALIGNMENT_EXTRA_ID, 0);
    padding.writeUInt16LE(2 + pad, 2);
    padding.writeUInt16LE(MEMBER_ALIGN, 4);
  }
  const header = Buffer.alloc(30);
  header.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
  header.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
  header.writeUInt16LE(utf8 ? FLAG_UTF8 : 0, 6);
  header.writeUInt16LE(options.compress ? METHOD_DEFLATE : METHOD_STORED, 8);
  header.writeUInt16LE(FIXED_DOS_TIME, 10);
  header.writeUInt16LE(FIXED_DOS_DATE, 12);
  header.writeUInt32LE(crc, 14);
  header.writeUInt32LE(zip64 ? U32_MAX : compressedSize, 18);
  header.writeUInt32LE(zip64 ? U32_MAX : size, 22);
  header.writeUInt16LE(name.length, 26);
  header.writeUInt16LE(zip64Extra.length + padding.length, 28);
  file.write(header);
  file.write(name);
  file.write(zip64Extra);
  file.write(padding);
  for (const chunk of body) file.write(chunk);
  return { name, utf8, method: options.compress ? METHOD_DEFLATE : METHOD_STORED, crc, compressedSize, size, offset };
}

function centralHeader(member: WrittenMember): Buffer {
  const wide: bigint[] = [];
  if (member.size >= U32_MAX) wide.push(BigInt(member.size));
  if (member.compressedSize >= U32_MAX) wide.push(BigInt(member.compressedSize));
  if (member.offset >= U32_MAX) wide.push(BigInt(member.offset));
  const extra = Buffer.alloc(wide.length > 0 ? 4 + 8 * wide.length : 0);
  if (wide.length > 0) {
    extra.writeUInt16LE(ZIP64_EXTRA_ID, 0);
    extra.writeUInt16LE(8 * wide.length, 2);
    wide.forEach((value, index) => extra.writeBigUInt64LE(value, 4 + 8 * index));
  }
  const header = Buffer.alloc(46);
  header.writeUInt32LE(CENTRAL_HEADER_SIGNATURE, 0);
  header.writeUInt16LE(wide.length > 0 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
  header.writeUInt16LE(wide.length > 0 ? VERSION_ZIP64 : VERSION_DEFAULT, 6);
  header.writeUInt16LE(member.utf8 ? FLAG_UTF8 : 0, 8);
  header.writeUInt16LE(member.method, 10);
  header.writeUInt16LE(FIXED_DOS_TIME, 12);
  header.writeUInt16LE(FIXED_DOS_DATE, 14);
  header.writeUInt32LE(member.crc, 16);
  header.writeUInt32LE(Math.min(member.compressedSize, U32_MAX), 20);
  header.writeUInt32LE(Math.min(member.size, U32_MAX), 24);
  header.writeUInt16LE(member.name.length, 28);
  header.writeUInt16LE(extra.length, 30);
  header.writeUInt32LE(0o100644 * 0x10000, 38);
  header.writeUInt32LE(Math.min(member.offset, U32_MAX), 42);
  return Buffer.concat([header, member.name, extra]);
}

function endRecords(count: number, directoryOffset: number, directorySize: number, position: number): Buffer {
  const zip64 = count >= U16_MAX || directoryOffset >= U32_MAX || directorySize >= U32_MAX;
  const parts: Buffer[] = [];
  if (zip64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(ZIP64_END_SIGNATURE, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(VERSION_ZIP64, 12);
    record.writeUInt16LE(VERSION_ZIP64, 14);
    record.writeBigUInt64LE(BigInt(count), 24);
    record.writeBigUInt64LE(BigInt(count), 32);
    record.writeBigUInt64LE(BigInt(directorySize), 40);
    record.writeBigUInt64LE(BigInt(directoryOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(ZIP64_LOCATOR_SIGNATURE, 0);
    locator.writeBigUInt64LE(BigInt(position), 8);
    locator.writeUInt32LE(1, 16);
    parts.push(record, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_SIGNATURE, 0);
  end.writeUInt16LE(Math.min(count, U16_MAX), 8);
  end.writeUInt16LE(Math.min(count, U16_MAX), 10);
  end.writeUInt32LE(Math.min(directorySize, U32_MAX), 12);
  end.writeUInt32LE(Math.min(directoryOffset, U32_MAX), 16);
  parts.push(end);
  return Buffer.concat(parts);
}
