/**
 * Builds the `studykit` command tree. Commands live one per file in `commands/`; this file only wires
 * them and the shared error handling. Parsing is commander's; the commands call the packages.
 */
import { Command, CommanderError } from "commander";
import type { CliContext } from "../cli-context.js";
import { reportError, ExitCode } from "../error-report.js";
import { UsageError } from "../errors.js";
import { registerInfoCommand } from "./commands/version-info.js";
import { registerBenchCommand } from "./commands/bench.js";
import { registerHashCommand } from "./commands/hash.js";
import { registerNpzCommand } from "./commands/npz.js";
import { registerReconstructCommand } from "./commands/reconstruct.js";
import { registerStudyCommand } from "./commands/study.js";
import { registerRunsCommand } from "./commands/runs.js";
import { registerStudyVerifyCommand } from "./commands/study-verify.js";
import { registerQueueCommand } from "./commands/queue.js";
import { registerWorkerCommand } from "./commands/worker.js";
import { CLI_VERSION } from "./version.js";

/** Every command module's registration function, in help order. */
const COMMANDS: readonly ((program: Command, context: CliContext) => void)[] = [registerInfoCommand, registerBenchCommand, registerHashCommand, registerNpzCommand, registerReconstructCommand, registerRunsCommand, registerStudyCommand, registerStudyVerifyCommand, registerWorkerCommand, registerQueueCommand];

function buildProgram(context: CliContext): Command {
  const program = new Command("studykit")
    .description("reproducible machine-learning studies, run in-process in Node.js")
    .version(CLI_VERSION, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: context.stdout, writeErr: () => {} });
  for (const register of COMMANDS) register(program, context);
  for (const command of program.commands) {
    command.exitOverride().configureOutput({ writeOut: context.stdout, writeErr: () => {} });
  }
  return program;
}

const NORMAL_EXITS = new Set(["commander.helpDisplayed", "commander.version", "commander.help"]);

/** Runs the CLI on `argv` (without `node` and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], context: CliContext): Promise<number> {
  const program = buildProgram(context);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return context.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (NORMAL_EXITS.has(error.code)) return ExitCode.Ok;
      if (error.code === "commander.executeSubCommandAsync" || error.exitCode === 0) return error.exitCode;
      const message = error.message.replace(/^error: /, "");
      return reportError(new UsageError(`${message} (see \`studykit --help\`)`, { cause: error }), context.stderr);
    }
    return reportError(error, context.stderr);
  }
}
