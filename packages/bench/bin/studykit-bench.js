#!/usr/bin/env node
/**
 * A workspace executable as npm links it into `node_modules/.bin`: this file's name without `.js` is the
 * command (`studykit`, `studykit-bench`), and every package's bin is this same file (tests/install.test.ts
 * checks it). It is committed, with its exec bit, instead of pointing npm at `dist/bin.js` because npm links
 * a workspace's bins during `npm ci`, before anything is built: a bin target that does not exist yet is
 * never linked, and `tsc` writes `dist/bin.js` without an exec bit. It only loads the package's build, and
 * says how to make one.
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";

// Node runs the link's target, so this is the committed file's own name even when started as .bin/NAME.
const command = basename(fileURLToPath(import.meta.url), ".js");
const entry = new URL("../dist/bin.js", import.meta.url);

/** The one error line of the CLI's contract (`error[CODE]: message`, exit 2: the user can fix it). */
function notBuilt(reason) {
  process.stderr.write(`error[E_NOT_BUILT]: ${command} is not built (${reason}): run \`npm ci\` and \`npm run build\` at the root of the studykit checkout\n`);
  process.exitCode = 2;
}

if (!existsSync(fileURLToPath(entry))) {
  notBuilt(`${fileURLToPath(entry)} does not exist`);
} else {
  try {
    await import(entry.href);
  } catch (error) {
    // A package the build imports is not built or not installed; anything else is the command's own report.
    if (error?.code !== "ERR_MODULE_NOT_FOUND") throw error;
    notBuilt(error.message);
  }
}
