/** `studykit info`: versions and which native/fallback implementations are in use. */
import type { Command } from "commander";
import { nativeStatus } from "@studykit/native";
import type { CliContext } from "../../cli-context.js";

export function registerInfoCommand(program: Command, context: CliContext): void {
  program
    .command("info")
    .description("print versions and which native kernels are in use")
    .option("--json", "print JSON")
    .action((options: { json?: boolean }) => {
      const status = nativeStatus();
      const info = { node: process.version, platform: `${process.platform}-${process.arch}`, native: status };
      if (options.json) context.stdout(`${JSON.stringify(info, null, 2)}\n`);
      else {
        context.stdout(`node      ${info.node} (${info.platform})\n`);
        context.stdout(`native    ${status.implementation}${status.path ? ` (${status.path})` : ""}\n`);
        context.stdout(`sha256    ${status.sha256Backend}\n`);
      }
    });
}
