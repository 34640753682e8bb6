/**
 * `studykit hash FILE... [--json] [--concurrency N]`: SHA-256 of files, in parallel across cores.
 *
 * Prints `<sha256>  <path>` lines exactly like `sha256sum` (so `sha256sum -c` can check them), or with
 * `--json` an array of `{ path, bytes, sha256 }`. A file that cannot be read gets an `error[CODE]` line
 * on stderr and makes the exit status 2, but every other file is still reported.
 *
 * `studykit hash --check LIST...` verifies checksum lists the way `sha256sum -c` does: each listed path is
 * resolved against the current directory (as sha256sum does; not against the list's directory), and one
 * line per entry says `path: OK`, `path: FAILED` or `path: FAILED open or read`, the same stdout as
 * sha256sum's. Unlike sha256sum (exit 1, and improperly formatted lines only warned about), any failure,
 * unreadable file or improperly formatted line is bad input here: every such line is named with its line
 * number on stderr, the well-formed entries are still checked, and the exit status is 2. With `--json`
 * the report is an array of `{ list, line, path, status }`.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { IoError, IoErrorCode, sha256Files } from "@studykit/native";
import type { CliContext } from "../../cli-context.js";
import { displayPath, formatChecksumLine, parseChecksumList, type ChecksumEntry } from "../checksum-list.js";
import { ExitCode, reportError } from "../../error-report.js";
import { ChecksumError, CliErrorCode } from "../../errors.js";
import { parseConcurrency } from "../integer-flags.js";

/** Most problems named one by one in a report; the rest are counted. */
const MAX_LISTED = 20;

type CheckStatus = "OK" | "FAILED" | "FAILED open or read";

function listed<T>(items: readonly T[], show: (item: T) => string): string {
  const lines = items.slice(0, MAX_LISTED).map(show);
  if (items.length > MAX_LISTED) lines.push(`... and ${items.length - MAX_LISTED} more`);
  return lines.map((line) => `\n  ${line}`).join("");
}

async function checkLists(lists: readonly string[], options: { json?: boolean; concurrency?: number }, context: CliContext): Promise<void> {
  const report: { list: string; line: number; path: string; status: CheckStatus }[] = [];
  for (const list of lists) {
    let text: string;
    try {
      text = readFileSync(resolve(context.cwd, list), "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const studykitCode = code === "ENOENT" ? IoErrorCode.NotFound : code === "EACCES" || code === "EPERM" ? IoErrorCode.Permission : code === "EISDIR" ? IoErrorCode.IsDirectory : IoErrorCode.Other;
      context.exitCode = Math.max(context.exitCode, reportError(new IoError(studykitCode, `cannot read checksum list ${list}: ${(error as Error).message}`, list, { cause: error, ...(code ? { systemCode: code } : {}) }), context.stderr));
      continue;
    }
    const { entries, problems } = parseChecksumList(text);
    if (problems.length > 0) {
      const count = `${problems.length} improperly formatted line${problems.length === 1 ? "" : "s"}`;
      const message = `${list}: ${count}; each must read "<64 hex>  <path>", "<64 hex> *<path>" or "SHA256 (<path>) = <64 hex>"${listed(problems, (problem) => `line ${problem.line}: ${problem.reason}: ${JSON.stringify(problem.text.slice(0, 120))}`)}`;
      context.exitCode = Math.max(context.exitCode, reportError(new ChecksumError(CliErrorCode.ChecksumLineInvalid, message), context.stderr));
    }
    if (entries.length === 0) {
      if (problems.length === 0) {
        context.exitCode = Math.max(context.exitCode, reportError(new ChecksumError(CliErrorCode.ChecksumListEmpty, `${list}: no checksum lines found; write one with \`studykit hash FILE... > ${list}\` or sha256sum`), context.stderr));
      }
      continue;
    }
    const results = await sha256Files(
      entries.map((entry) => resolve(context.cwd, entry.path)),
      options.concurrency === undefined ? {} : { concurrency: options.concurrency },
    );
    const failed: ChecksumEntry[] = [];
    const unreadable: ChecksumEntry[] = [];
    entries.forEach((entry, index) => {
      const result = results[index]!;
      let status: CheckStatus;
      if (!result.ok) {
        status = "FAILED open or read";
        unreadable.push(entry);
        if (!options.json) reportError(result.error, context.stderr);
      } else {
        status = result.sha256 === entry.sha256 ? "OK" : "FAILED";
        if (status === "FAILED") failed.push(entry);
      }
      report.push({ list, line: entry.line, path: entry.path, status });
      if (!options.json) context.stdout(`${displayPath(entry.path)}: ${status}\n`);
    });
    if (failed.length + unreadable.length > 0) {
      const parts = [
        ...(failed.length > 0 ? [`${failed.length} computed checksum${failed.length === 1 ? "" : "s"} did NOT match`] : []),
        ...(unreadable.length > 0 ? [`${unreadable.length} listed file${unreadable.length === 1 ? "" : "s"} could not be read`] : []),
      ];
      const message = `${list}: ${parts.join(", ")} (the files changed since the list was written, or are missing; restore them or write the list again)${listed([...failed.map((entry) => ({ entry, why: "FAILED" })), ...unreadable.map((entry) => ({ entry, why: "FAILED open or read" }))].sort((a, b) => a.entry.line - b.entry.line), ({ entry, why }) => `line ${entry.line}: ${displayPath(entry.path)}: ${why}`)}`;
      reportError(new ChecksumError(CliErrorCode.ChecksumMismatch, message), context.stderr);
      context.exitCode = ExitCode.BadInput;
    }
  }
  if (options.json) context.stdout(`${JSON.stringify(report, null, 2)}\n`);
}

export function registerHashCommand(program: Command, context: CliContext): void {
  program
    .command("hash")
    .description("print the SHA-256 of files (like sha256sum), hashing them in parallel; --check verifies sha256sum lists")
    .argument("<files...>", "files to hash (with --check: checksum lists to verify)")
    .option("-c, --check", "read sha256sum-format lines from the FILEs and verify each listed file (paths relative to the current directory)")
    .option("--json", "print a JSON array of { path, bytes, sha256 } (with --check: { list, line, path, status })")
    .option("--concurrency <n>", "files hashed at once (default: available cores)", parseConcurrency)
    .action(async (files: string[], options: { json?: boolean; concurrency?: number; check?: boolean }) => {
      if (options.check) {
        await checkLists(files, options, context);
        return;
      }
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
      else for (const digest of digests) context.stdout(`${formatChecksumLine(digest.path, digest.sha256)}\n`);
    });
}
