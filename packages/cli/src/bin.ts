/**
 * The `studykit` process: runs the CLI on the process arguments and routes every failure that escapes it
 * (a stream error, an uncaught exception, an unhandled rejection) through the one error reporter, so the
 * user sees `error[CODE]: message` and exit 2 or 1, never a raw stack trace. npm's `studykit` executable
 * is `bin/studykit.js`, which loads this file.
 */
import { writeSync } from "node:fs";
import { IoError, IoErrorCode } from "@studykit/native";
import { reportError, runCli } from "./index.js";

/** Reports `error` on stderr (synchronously: stderr itself may be the stream that failed) and exits. */
function exitWithError(error: unknown): never {
  const code = reportError(error, (text) => {
    try {
      writeSync(2, text);
    } catch {
      // stderr is gone too: the exit status is all that is left to say it.
    }
  });
  process.exit(code);
}

// A reader that closes the pipe early (`studykit hash ... | head -1`) is not an error: stop quietly, as
// coreutils do. Any other stream failure (a full disk, a closed descriptor) is reported.
for (const [name, stream] of [["stdout", process.stdout], ["stderr", process.stderr]] as const) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    exitWithError(new IoError(IoErrorCode.Other, `cannot write to ${name}: ${error.message}; check where ${name} is redirected`, name, { cause: error }));
  });
}
process.on("uncaughtException", exitWithError);
process.on("unhandledRejection", exitWithError);

process.exitCode = await runCli(process.argv.slice(2));
