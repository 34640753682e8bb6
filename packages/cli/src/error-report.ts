/**
 * The CLI's error contract (DESIGN.md): `error[CODE]: message` on stderr, no stack trace; exit 2 for
 * bad input the user can fix, 1 for internal failures. `STUDYKIT_DEBUG=1` adds the stack.
 */
import { hasErrorCode } from "@studykit/native";
import { CliErrorCode } from "./errors.js";

/** Exit codes. */
export const ExitCode = { Ok: 0, Internal: 1, BadInput: 2 } as const;

/** Writes the error line(s) for `error` and returns the exit code. */
export function reportError(error: unknown, write: (text: string) => void): number {
  const debug = process.env.STUDYKIT_DEBUG === "1";
  if (hasErrorCode(error)) {
    write(`error[${error.code}]: ${error.message}\n`);
    if (debug && error.stack) write(`${error.stack}\n`);
    const userFacing = (error as { userFacing?: unknown }).userFacing !== false;
    return userFacing ? ExitCode.BadInput : ExitCode.Internal;
  }
  const message = error instanceof Error ? error.message : String(error);
  write(`error[${CliErrorCode.Internal}]: ${message} (this is a bug in studykit; rerun with STUDYKIT_DEBUG=1 for a stack trace)\n`);
  if (debug && error instanceof Error && error.stack) write(`${error.stack}\n`);
  return ExitCode.Internal;
}
