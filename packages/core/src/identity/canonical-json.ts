/**
 * Canonical JSON (RFC 8785, "JSON Canonicalization Scheme") and fingerprints.
 *
 * Every identity and content hash in studykit is SHA-256 over this encoding, so it is strict: keys are
 * sorted by UTF-16 code units, numbers use ECMAScript's shortest round-trip form (`-0` becomes `0`),
 * strings are escaped as JSON.stringify does, object properties whose value is `undefined` are omitted
 * (as absent), and anything that JSON cannot represent faithfully is refused with a `CanonicalJsonError`
 * naming the path: NaN/Infinity, `undefined` in arrays, bigint, functions, symbols, cycles, and
 * non-plain objects (Date, Map, class instances, typed arrays).
 */
import canonicalize from "canonicalize";
import { StudykitError, sha256 } from "@studykit/native";

/** A value canonical JSON accepts. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue | undefined };

/** Raised for values canonical JSON refuses. */
export class CanonicalJsonError extends StudykitError {
  constructor(message: string) {
    super("E_CANONICAL_JSON", message);
  }
}

function describePath(path: readonly (string | number)[]): string {
  if (path.length === 0) return "(root)";
  return path.map((part) => (typeof part === "number" ? `[${part}]` : /^[A-Za-z_$][\w$]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`)).join("").replace(/^\./, "");
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

// Validation walks the value first so the error names the exact path; the library then serialises.
function validate(value: unknown, path: (string | number)[], ancestors: Set<object>): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) {
        throw new CanonicalJsonError(`cannot encode ${String(value)} at ${describePath(path)}: canonical JSON has no NaN or Infinity; store it as a string or null`);
      }
      return;
    case "undefined":
      throw new CanonicalJsonError(`cannot encode undefined at ${describePath(path)}: use null or omit the entry`);
    case "bigint":
      throw new CanonicalJsonError(`cannot encode bigint at ${describePath(path)}: convert it to a string or a safe number`);
    case "function":
    case "symbol":
      throw new CanonicalJsonError(`cannot encode a ${typeof value} at ${describePath(path)}`);
    case "object": {
      if (value === null) return;
      if (ancestors.has(value)) throw new CanonicalJsonError(`cycle detected at ${describePath(path)}`);
      ancestors.add(value);
      if (Array.isArray(value)) {
        value.forEach((item, index) => validate(item, [...path, index], ancestors));
      } else {
        if (!isPlainObject(value)) {
          const name = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
          throw new CanonicalJsonError(`cannot encode a ${name} at ${describePath(path)}: only plain objects, arrays and primitives are allowed`);
        }
        for (const [key, item] of Object.entries(value)) {
          if (item !== undefined) validate(item, [...path, key], ancestors);
        }
      }
      ancestors.delete(value);
      return;
    }
  }
}

/** Encodes `value` as canonical JSON (RFC 8785). */
export function canonicalJson(value: unknown): string {
  validate(value, [], new Set());
  const encoded = canonicalize(value);
  if (encoded === undefined) throw new CanonicalJsonError("value has no JSON representation");
  return encoded;
}

/** SHA-256 (lower-case hex) of the canonical JSON of `value`, hashed through `@studykit/native`. */
export function fingerprint(value: unknown): string {
  return sha256(Buffer.from(canonicalJson(value), "utf8"));
}
