/**
 * Pure-TypeScript implementations with the same results as the addon. Used when the addon is not
 * built; `node:crypto` provides SHA-256 (OpenSSL, so still fast).
 */
import { createHash } from "node:crypto";

function asBytes(data: ArrayBufferView | ArrayBuffer): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function fallbackSha256(data: ArrayBufferView | ArrayBuffer): Buffer {
  return createHash("sha256").update(asBytes(data)).digest();
}

export function fallbackSha256Hex(data: ArrayBufferView | ArrayBuffer): string {
  return createHash("sha256").update(asBytes(data)).digest("hex");
}
