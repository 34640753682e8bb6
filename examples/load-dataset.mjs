#!/usr/bin/env node
/**
 * Load a ptychography npz, validate it against the `ptycho` schema and print its snapshot hash.
 *
 *   node examples/load-dataset.mjs data/patched_train.npz
 *
 * Keys are canonicalised (a legacy `diffraction` array arrives as `diff3d`); a file that breaks the
 * schema gets one error listing every violation. The snapshot hash covers array contents, not file bytes:
 * the same arrays saved compressed, in Fortran order or big-endian give the same hash, so it is what run
 * identities record.
 */
import { datasetSnapshotHash, loadDataset } from "@studykit/data";

const file = process.argv[2];
if (!file) {
  console.error("usage: node examples/load-dataset.mjs FILE.npz");
  process.exit(2);
}

try {
  const dataset = loadDataset(file, { schema: "ptycho" });
  for (const [key, array] of Object.entries(dataset.arrays)) {
    const stored = dataset.sources[key] === key ? "" : ` (stored as ${dataset.sources[key]})`;
    console.log(`${key.padEnd(12)} ${array.dtype.padEnd(5)} (${array.shape.join(", ")})${stored}`);
  }
  for (const warning of dataset.warnings) console.log(`warning: ${warning}`);
  console.log(`snapshot ${datasetSnapshotHash(file)}`);
} catch (error) {
  // Every studykit error carries a stable code and a message that says what to fix.
  console.error(`error[${error.code ?? "E_INTERNAL"}]: ${error.message}`);
  process.exit(error.code ? 2 : 1);
}
