import { readFileSync } from "node:fs";

/** The CLI package version, read from its package.json so it can never drift. */
export const CLI_VERSION: string = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;
