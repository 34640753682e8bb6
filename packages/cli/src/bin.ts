#!/usr/bin/env node
import { runCli } from "./index.js";

// A reader that closes the pipe early (`studykit hash ... | head -1`) is not an error: stop quietly, as
// coreutils do, instead of crashing on an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await runCli(process.argv.slice(2));
