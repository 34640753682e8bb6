/**
 * `studykit npz inspect FILE [--json]` and `studykit npz validate FILE [--schema NAME] [--json]`.
 *
 * `inspect` lists every array of an `.npz` or `.npy` with its stored dtype, shape, order, compression and
 * content hash, plus the dataset snapshot hash. `validate` checks the file against a schema from its
 * headers alone and reports every violation; an invalid file exits 2 after the report.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import {
  DataErrorCode,
  SchemaError,
  arraySha256,
  canonicalNames,
  descrKindSize,
  detectFormat,
  loadNpy,
  openNpz,
  parseDescr,
  readNpyInfo,
  snapshotHashOfEntries,
  validateDataset,
  type SnapshotEntry,
} from "@studykit/data";
import type { CliContext } from "../../cli-context.js";

/** One array in `inspect`'s JSON. */
interface InspectedArray {
  name: string;
  canonicalName: string;
  dtype: string;
  shape: number[];
  fortranOrder: boolean;
  compressed: boolean;
  sha256: string;
}

function inspect(file: string, shown: string): { path: string; format: "npy" | "npz"; arrays: InspectedArray[]; snapshotSha256: string } {
  const arrays: InspectedArray[] = [];
  const format = detectFormat(file);
  if (format === "npy") {
    const info = readNpyInfo(file);
    arrays.push({ name: "", canonicalName: "", dtype: info.dtype, shape: [...info.shape], fortranOrder: info.fortranOrder, compressed: false, sha256: arraySha256(loadNpy(file)) });
  } else {
    const npz = openNpz(file);
    try {
      const canonical = canonicalNames(npz.names, "ptycho");
      for (const name of npz.names) {
        const info = npz.describe(name);
        arrays.push({
          name,
          canonicalName: canonical.get(name) ?? name,
          dtype: info.dtype,
          shape: [...info.shape],
          fortranOrder: info.fortranOrder,
          compressed: info.compressed,
          sha256: arraySha256(npz.get(name)),
        });
      }
    } finally {
      npz.close();
    }
  }
  const entries: SnapshotEntry[] = arrays.map((array) => ({ name: array.canonicalName, dtype: descrKindSize(parseDescr(array.dtype)), shape: array.shape, sha256: array.sha256 }));
  return { path: shown, format, arrays, snapshotSha256: snapshotHashOfEntries(entries) };
}

function showShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n");
}

export function registerNpzCommand(program: Command, context: CliContext): void {
  const npz = program.command("npz").description("inspect and validate numpy .npz / .npy files");

  npz
    .command("inspect")
    .description("list the arrays of an .npz or .npy: dtype, shape, order, compression, content hashes")
    .argument("<file>", ".npz or .npy file")
    .option("--json", "print JSON")
    .action((file: string, options: { json?: boolean }) => {
      const report = inspect(resolve(context.cwd, file), file);
      if (options.json) {
        context.stdout(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      context.stdout(`${report.path}: ${report.format}, ${report.arrays.length} array${report.arrays.length === 1 ? "" : "s"}\n`);
      const rows = [["name", "canonical", "dtype", "shape", "order", "stored", "sha256"]];
      for (const array of report.arrays) {
        rows.push([array.name || "-", array.canonicalName || "-", array.dtype, showShape(array.shape), array.fortranOrder ? "F" : "C", array.compressed ? "deflate" : "stored", array.sha256.slice(0, 16)]);
      }
      context.stdout(`${table(rows)}\nsnapshot  ${report.snapshotSha256}\n`);
    });

  npz
    .command("validate")
    .description("check an .npz or .npy against a dataset schema, reporting every violation")
    .argument("<file>", ".npz or .npy file")
    .option("--schema <name>", "schema name", "ptycho")
    .option("--json", "print the report as JSON")
    .action((file: string, options: { schema: string; json?: boolean }) => {
      const report = { ...validateDataset(resolve(context.cwd, file), { schema: options.schema }), path: file };
      if (options.json) context.stdout(`${JSON.stringify(report, null, 2)}\n`);
      else {
        for (const warning of report.warnings) context.stdout(`warning: ${warning}\n`);
        if (report.valid) context.stdout(`${file}: matches schema '${report.schema}' (${report.arrays.length} arrays)\n`);
        else for (const violation of report.violations) context.stdout(`${violation.key}: ${violation.message}\n`);
      }
      if (!report.valid) {
        const missing = report.violations.some((violation) => violation.code === DataErrorCode.SchemaMissingKey);
        throw new SchemaError(
          missing ? DataErrorCode.SchemaMissingKey : DataErrorCode.SchemaViolation,
          `${file} does not match schema '${report.schema}': ${report.violations.length} problem${report.violations.length === 1 ? "" : "s"} (${report.violations
            .slice(0, 3)
            .map((violation) => violation.message)
            .join("; ")}${report.violations.length > 3 ? "; ..." : ""})`,
          report.violations,
        );
      }
    });
}
