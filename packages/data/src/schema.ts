/**
 * Dataset schemas: which keys a dataset holds (canonical names with aliases), which are required, their
 * dtype kinds, ranks and shape relations. A registry holds them by name and refuses duplicates; the
 * built-in `ptycho` schema is the standalone ptychography NPZ contract.
 */
import { parseDescr, type DtypeKind } from "./dtype.js";
import { DataError, DataErrorCode, SchemaError, type SchemaViolation } from "./errors.js";

/** One key of a schema. */
export interface SchemaKey {
  /** Canonical name. */
  readonly name: string;
  /** Other names the same array is found under in older files; the canonical name wins when both exist. */
  readonly aliases?: readonly string[];
  readonly required: boolean;
  /** Accepted dtype kinds (numpy kind letters). */
  readonly kinds: readonly DtypeKind[];
  /**
   * Expected shape, one entry per axis: a number, or a symbol shared across keys (`"n"` binds the number of
   * scan positions, for example). Absent: any shape.
   */
  readonly shape?: readonly (string | number)[];
  /** A trailing axis of length 1 beyond `shape` is squeezed away (e.g. `(n, H, W, 1)` → `(n, H, W)`). */
  readonly squeezeTrailingSingleton?: boolean;
  /** A 3-D array whose last axis equals the symbol of `shape[0]` (legacy `(H, W, n)`) is transposed to `(n, H, W)`. */
  readonly legacyLastAxisFirst?: boolean;
  readonly description?: string;
}

/** A named set of keys. */
export interface DatasetSchema {
  readonly name: string;
  readonly description: string;
  /** Keys in checking order: the keys that bind shape symbols come first. */
  readonly keys: readonly SchemaKey[];
}

/** The kind names shown in messages. */
const KIND_NAMES: Readonly<Record<DtypeKind, string>> = { f: "float", i: "signed integer", u: "unsigned integer", b: "bool", c: "complex", U: "unicode string", S: "byte string" };

/** The standalone ptychography NPZ contract. */
export const PTYCHO_SCHEMA: DatasetSchema = {
  name: "ptycho",
  description: "standalone ptychography NPZ: diffraction amplitudes, object and probe guesses, scan coordinates",
  keys: [
    { name: "xcoords", required: true, kinds: ["f"], shape: ["n"], description: "scan x coordinate per pattern" },
    { name: "ycoords", required: true, kinds: ["f"], shape: ["n"], description: "scan y coordinate per pattern" },
    {
      name: "diff3d",
      aliases: ["diffraction"],
      required: true,
      kinds: ["f"],
      shape: ["n", "H", "W"],
      squeezeTrailingSingleton: true,
      legacyLastAxisFirst: true,
      description: "diffraction amplitudes, one (H, W) pattern per scan position",
    },
    { name: "objectGuess", required: true, kinds: ["c"], shape: ["objectHeight", "objectWidth"], description: "complex object estimate" },
    { name: "probeGuess", required: true, kinds: ["c"], shape: ["probeHeight", "probeWidth"], description: "complex probe estimate" },
    { name: "xcoords_start", required: false, kinds: ["f"], shape: ["n"], description: "x coordinate at the start of each exposure" },
    { name: "ycoords_start", required: false, kinds: ["f"], shape: ["n"], description: "y coordinate at the start of each exposure" },
    { name: "scan_index", required: false, kinds: ["i", "u", "f"], shape: ["n"], description: "scan each pattern belongs to (integers; float-typed legacy files accepted)" },
    { name: "Y", required: false, kinds: ["c"], shape: ["n", "patchHeight", "patchWidth"], squeezeTrailingSingleton: true, description: "complex ground-truth patches" },
    { name: "filenames", required: false, kinds: ["U", "S"], description: "source file names" },
  ],
};

/** Schemas by name; registering a name twice throws `E_REGISTRY_DUPLICATE`. */
export class SchemaRegistry {
  private readonly schemas = new Map<string, DatasetSchema>();

  constructor(initial: readonly DatasetSchema[] = []) {
    for (const schema of initial) this.register(schema);
  }

  register(schema: DatasetSchema): void {
    if (this.schemas.has(schema.name)) throw new DataError(DataErrorCode.RegistryDuplicate, `a schema named '${schema.name}' is already registered`);
    const seen = new Set<string>();
    for (const key of schema.keys) {
      for (const name of [key.name, ...(key.aliases ?? [])]) {
        if (seen.has(name)) throw new DataError(DataErrorCode.RegistryDuplicate, `schema '${schema.name}' uses the key name '${name}' twice`);
        seen.add(name);
      }
    }
    this.schemas.set(schema.name, schema);
  }

  get(name: string): DatasetSchema {
    const schema = this.schemas.get(name);
    if (!schema) throw new SchemaError(DataErrorCode.SchemaUnknown, `no schema named '${name}' (known: ${this.names().join(", ")})`);
    return schema;
  }

  has(name: string): boolean {
    return this.schemas.has(name);
  }

  names(): string[] {
    return [...this.schemas.keys()];
  }
}

/** The registry `loadDataset`, the snapshot hash and the CLI use; holds `ptycho`. */
export const schemaRegistry = new SchemaRegistry([PTYCHO_SCHEMA]);

/** Registers a schema in the default registry (throws on a duplicate name). */
export function registerSchema(schema: DatasetSchema): void {
  schemaRegistry.register(schema);
}

/** Looks a schema up in the default registry (`E_SCHEMA_UNKNOWN` when absent). */
export function getSchema(name: string): DatasetSchema {
  return schemaRegistry.get(name);
}

/** Which stored name serves each canonical key, and what was noticed while choosing. */
export interface KeyResolution {
  /** Canonical key → stored name, for keys present. */
  readonly sources: ReadonlyMap<string, string>;
  readonly warnings: readonly string[];
  readonly violations: readonly SchemaViolation[];
}

/** Maps stored names to canonical keys; a missing required key becomes an `E_SCHEMA_MISSING_KEY` violation. */
export function resolveKeys(schema: DatasetSchema, available: readonly string[]): KeyResolution {
  const present = new Set(available);
  const sources = new Map<string, string>();
  const warnings: string[] = [];
  const violations: SchemaViolation[] = [];
  for (const key of schema.keys) {
    const candidates = [key.name, ...(key.aliases ?? [])];
    const found = candidates.filter((name) => present.has(name));
    if (found.length === 0) {
      if (key.required) {
        violations.push({
          key: key.name,
          code: DataErrorCode.SchemaMissingKey,
          message: `required key '${key.name}' is missing (tried ${candidates.map((name) => `'${name}'`).join(", ")}; available: ${available.map((name) => `'${name}'`).join(", ") || "none"})`,
        });
      }
      continue;
    }
    sources.set(key.name, found[0]!);
    if (found.length > 1) warnings.push(`both '${found[0]}' and ${found.slice(1).map((name) => `'${name}'`).join(", ")} are present; using the canonical '${found[0]}'`);
  }
  return { sources, warnings, violations };
}

/** Canonical name of every stored name under a schema (or the stored names unchanged with `null`). */
export function canonicalNames(available: readonly string[], schemaName: string | null): Map<string, string> {
  const out = new Map(available.map((name) => [name, name]));
  if (schemaName === null) return out;
  const { sources } = resolveKeys(getSchema(schemaName), available);
  for (const [canonical, stored] of sources) out.set(stored, canonical);
  return out;
}

/** What the schema check needs to know about an array. */
export interface ArrayDescription {
  readonly dtype: string;
  readonly shape: readonly number[];
}

/** How a key's array must be reshaped to its canonical form. */
export type KeyTransform = { readonly kind: "none" } | { readonly kind: "squeeze" } | { readonly kind: "legacyTranspose" };

/** Result of checking described arrays against a schema. */
export interface SchemaCheck {
  readonly sources: ReadonlyMap<string, string>;
  readonly transforms: ReadonlyMap<string, KeyTransform>;
  /** Canonical shapes after the transforms. */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** Values bound to shape symbols (e.g. `n`). */
  readonly dimensions: ReadonlyMap<string, number>;
  readonly warnings: readonly string[];
  readonly violations: readonly SchemaViolation[];
}

function showShape(shape: readonly (string | number)[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

/** Checks every key (collecting every problem, not only the first) and plans the canonical reshapes. */
export function checkSchema(schema: DatasetSchema, arrays: ReadonlyMap<string, ArrayDescription>): SchemaCheck {
  const resolution = resolveKeys(schema, [...arrays.keys()]);
  const violations = [...resolution.violations];
  const warnings = [...resolution.warnings];
  const transforms = new Map<string, KeyTransform>();
  const shapes = new Map<string, readonly number[]>();
  const dimensions = new Map<string, number>();
  const bindings = new Map<string, string>();
  // Bind `n` from the first key that defines it on its own axis (xcoords), so layouts can be judged against it.
  for (const key of schema.keys) {
    const stored = resolution.sources.get(key.name);
    if (!stored) continue;
    const description = arrays.get(stored)!;
    const violation = (message: string) => violations.push({ key: key.name, code: DataErrorCode.SchemaViolation, message: `'${stored}': ${message}` });
    let kind: DtypeKind;
    try {
      kind = parseDescr(description.dtype).kind;
    } catch {
      violation(`dtype ${description.dtype} is not readable`);
      continue;
    }
    if (!key.kinds.includes(kind)) violation(`expected ${key.kinds.map((k) => KIND_NAMES[k]).join(" or ")} data, got dtype ${description.dtype}`);
    if (!key.shape) {
      shapes.set(key.name, description.shape);
      transforms.set(key.name, { kind: "none" });
      continue;
    }
    let shape = [...description.shape];
    let transform: KeyTransform = { kind: "none" };
    if (key.squeezeTrailingSingleton && shape.length === key.shape.length + 1 && shape[shape.length - 1] === 1) {
      shape = shape.slice(0, -1);
      transform = { kind: "squeeze" };
    }
    const leading = key.shape[0];
    if (key.legacyLastAxisFirst && shape.length === 3 && typeof leading === "string" && dimensions.has(leading)) {
      const expected = dimensions.get(leading)!;
      if (shape[0] !== expected && shape[2] === expected) {
        if (transform.kind === "squeeze") violation(`shape ${showShape(description.shape)} is both legacy (H, W, n) and has a trailing singleton; resave it as (n, H, W)`);
        shape = [shape[2]!, shape[0]!, shape[1]!];
        transform = { kind: "legacyTranspose" };
        warnings.push(`'${stored}' has the legacy (H, W, n) layout ${showShape(description.shape)}; transposed to (n, H, W) ${showShape(shape)}`);
      }
    }
    if (shape.length !== key.shape.length) {
      violation(`expected ${key.shape.length} dimensions ${showShape(key.shape)}, got shape ${showShape(description.shape)}`);
      continue;
    }
    let consistent = true;
    key.shape.forEach((expected, axis) => {
      const actual = shape[axis]!;
      if (typeof expected === "number") {
        if (actual !== expected) {
          violation(`axis ${axis} is ${actual}, expected ${expected}`);
          consistent = false;
        }
      } else if (dimensions.has(expected)) {
        if (dimensions.get(expected) !== actual) {
          violation(`axis ${axis} (${expected}) is ${actual}, but ${expected} = ${dimensions.get(expected)} from '${bindings.get(expected)}'`);
          consistent = false;
        }
      } else {
        dimensions.set(expected, actual);
        bindings.set(expected, stored);
      }
    });
    if (consistent || transform.kind !== "none") {
      shapes.set(key.name, shape);
      transforms.set(key.name, transform);
    }
  }
  return { sources: resolution.sources, transforms, shapes, dimensions, warnings, violations };
}

/** Builds the error for a failed check: `E_SCHEMA_MISSING_KEY` when a key is missing, else `E_SCHEMA_VIOLATION`. */
export function schemaErrorFor(file: string, schema: DatasetSchema, violations: readonly SchemaViolation[]): SchemaError {
  const code = violations.some((v) => v.code === DataErrorCode.SchemaMissingKey) ? DataErrorCode.SchemaMissingKey : DataErrorCode.SchemaViolation;
  const shown = violations.slice(0, 20).map((v) => `  - ${v.key}: ${v.message}`);
  if (violations.length > 20) shown.push(`  ... and ${violations.length - 20} more`);
  return new SchemaError(code, `${file} does not match schema '${schema.name}' (${violations.length} problem${violations.length === 1 ? "" : "s"}):\n${shown.join("\n")}`, violations);
}
