/**
 * `studykit hash FILE... [--json] [--concurrency N]`: SHA-256 of files, in parallel across cores.
 *
 * Prints `<sha256>  <path>` lines exactly like `sha256sum` (so `sha256sum -c` can check them), or with
 * `--json` an array of `{ path, bytes, sha256 }`. A file that cannot be read gets an `error[CODE]` line
 * on stderr and makes the exit status 2, but every other file is still reported.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { sha256Files, StudykitError } from "@studykit/native";
import type { CliContext } from "../cli-context.js";
import { reportError } from "../error-report.js";

function parseConcurrency(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new StudykitError("E_USAGE", `--concurrency must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

export function registerHashCommand(program: Command, context: CliContext): void {
  program
    .command("hash")
    .description("print the SHA-256 of files (like sha256sum), hashing them in parallel")
    .argument("<files...>", "files to hash")
    .option("--json", "print a JSON array of { path, bytes, sha256 }")
    .option("--concurrency <n>", "files hashed at once (default: available cores)", parseConcurrency)
    .action(async (files: string[], options: { json?: boolean; concurrency?: number }) => {
      const results = await sha256Files(
        files.map((file) => resolve(context.cwd, file)),
        options.concurrency === undefined ? {} : { concurrency: options.concurrency },
      );
      const digests: { path: string; bytes: number; sha256: string }[] = [];
      results.forEach((result, index) => {
        const shown = files[index]!;
        if (result.ok) digests.push({ path: shown, bytes: result.bytes, sha256: result.sha256 });
        else context.exitCode = Math.max(context.exitCode, reportError(result.error, context.stderr));
      });
      if (options.json) context.stdout(`${JSON.stringify(digests, null, 2)}\n`);
      else for (const digest of digests) context.stdout(`${digest.sha256}  ${digest.path}\n`);
    });
}
