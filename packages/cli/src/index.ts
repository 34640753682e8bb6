/** `@studykit/cli`: the `studykit` command. Thin: it parses flags and calls the packages. */
import { runCli as runWithContext } from "./internal/program.js";
import type { CliContext } from "./cli-context.js";

export type { CliContext } from "./cli-context.js";
export { reportError, ExitCode } from "./error-report.js";
export { CliErrorCode } from "./errors.js";
export type { CliErrorCodeValue } from "./errors.js";

/** Runs `studykit` with `argv` (arguments after the program name); resolves to the exit code. */
export function runCli(argv: readonly string[], context: Partial<CliContext> = {}): Promise<number> {
  return runWithContext(argv, {
    stdout: context.stdout ?? ((text) => process.stdout.write(text)),
    stderr: context.stderr ?? ((text) => process.stderr.write(text)),
    // A caller's own stderr function is not the process's terminal unless it says so.
    stderrIsTerminal: context.stderrIsTerminal ?? (context.stderr === undefined && process.stderr.isTTY === true),
    cwd: context.cwd ?? process.cwd(),
    exitCode: 0,
  });
}
