/**
 * numpy dtype descriptors ("descr" strings such as `<f8`, `|b1`, `>U12`) and what they map to.
 *
 * This is the one dtype table of the project: readers, writers and hashes all use it.
 */
import { StudykitError } from "@studykit/native";

/** numpy's kind letters for the dtypes studykit supports. */
export type DtypeKind = "f" | "i" | "u" | "b" | "c" | "U" | "S";

/** A parsed numpy descr. */
export interface Dtype {
  /** The descr exactly as numpy writes it, e.g. `<f8`. */
  readonly descr: string;
  readonly kind: DtypeKind;
  /** Bytes per element (for `U<n>`: 4·n). */
  readonly itemSize: number;
  /** Byte order of stored data; `|` for single-byte and byte-string types. */
  readonly byteOrder: "<" | ">" | "|";
}

/** Raised for a descr studykit cannot read. */
export class DtypeError extends StudykitError {}

const NUMERIC_SIZES: Record<string, readonly number[]> = {
  f: [2, 4, 8],
  i: [1, 2, 4, 8],
  u: [1, 2, 4, 8],
  b: [1],
  c: [8, 16],
};

/** Parses a numpy descr string; throws `E_NPY_DTYPE_UNSUPPORTED` naming it otherwise. */
export function parseDescr(descr: string): Dtype {
  const match = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  const unsupported = (why: string) =>
    new DtypeError("E_NPY_DTYPE_UNSUPPORTED", `unsupported dtype descr ${JSON.stringify(descr)}: ${why}`);
  if (!match) throw unsupported("not a simple numpy descr such as '<f8'");
  const [, orderText = "", kindText = "", sizeText = ""] = match;
  const size = Number(sizeText);
  if (kindText === "O") throw new DtypeError("E_NPY_OBJECT", `object arrays (${descr}) are refused: loading them would require unpickling`);
  if (kindText === "U" || kindText === "S") {
    const kind = kindText;
    const itemSize = kind === "U" ? size * 4 : size;
    const byteOrder = kind === "S" ? "|" : orderText === ">" ? ">" : "<";
    return { descr, kind, itemSize, byteOrder };
  }
  const sizes = NUMERIC_SIZES[kindText];
  if (!sizes) throw unsupported(`kind '${kindText}' (structured, datetime and void dtypes are not supported)`);
  if (!sizes.includes(size)) throw unsupported(`kind '${kindText}' has no ${size}-byte variant`);
  const byteOrder = size === 1 ? "|" : orderText === ">" ? ">" : "<";
  return { descr, kind: kindText as DtypeKind, itemSize: size, byteOrder };
}
