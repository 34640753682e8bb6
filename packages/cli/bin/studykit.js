#!/usr/bin/env node
/**
 * The `studykit` executable that npm links as `node_modules/.bin/studykit`. It is committed (with its exec
 * bit) instead of pointing npm at `dist/bin.js` because npm links a workspace's bins during `npm ci`,
 * before anything is built: a bin target that does not exist yet is never linked, and `tsc` writes
 * `dist/bin.js` without an exec bit. This file only loads the build, and says how to make one.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/bin.js", import.meta.url);

/** The one error line of the CLI's contract (`error[CODE]: message`, exit 2: the user can fix it). */
function notBuilt(reason) {
  process.stderr.write(`error[E_NOT_BUILT]: studykit is not built (${reason}): run \`npm ci\` and \`npm run build\` at the root of the studykit checkout\n`);
  process.exitCode = 2;
}

if (!existsSync(fileURLToPath(entry))) {
  notBuilt(`${fileURLToPath(entry)} does not exist`);
} else {
  try {
    await import(entry.href);
  } catch (error) {
    // A package the CLI imports is not built or not installed; anything else is the CLI's own report.
    if (error?.code !== "ERR_MODULE_NOT_FOUND") throw error;
    notBuilt(error.message);
  }
}
