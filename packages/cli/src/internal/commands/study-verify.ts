/**
 * `studykit study verify DIR`: checks a finished study against its files (`@studykit/study`'s
 * `verifyStudy`): every dataset, bundle and reconstruction re-hashed against the manifests, every bundle's
 * identity against its job record. Prints a summary and exits 0 when everything verifies; otherwise lists
 * every mismatch (file, what, expected vs found) in one `error[E_STUDY_VERIFY]` and exits 2.
 */
import path from "node:path";
import type { Command } from "commander";
import type { CliContext } from "../../cli-context.js";
import { ExitCode, reportError } from "../../error-report.js";
import { StudyVerifyError } from "../../errors.js";

/** Mismatches listed in the error message (the JSON output holds all of them). */
const LISTED_PROBLEMS = 50;

/** Adds `verify` under the `study` command (registered by `study.ts`). */
export function registerStudyVerifyCommand(program: Command, context: CliContext): void {
  const study = program.commands.find((command) => command.name() === "study") ?? program.command("study");
  study
    .command("verify")
    .description("re-hash every dataset, bundle and reconstruction of a study against its manifests; exit 2 listing each mismatch")
    .argument("<dir>", "the study's output root (holding study_manifest.json)")
    .option("--json", "print the verification as JSON (problems, files hashed, what could not be checked)")
    .action(async (dir: string, flags: { json?: boolean }) => {
      const { verifyStudy } = await import("@studykit/study");
      const verification = await verifyStudy(path.resolve(context.cwd, dir));
      if (flags.json) context.stdout(`${JSON.stringify(verification, null, 2)}\n`);
      if (!verification.ok) {
        const count = verification.problems.length;
        const listed = verification.problems.slice(0, LISTED_PROBLEMS).map((problem) => `\n  - ${problem.message}`).join("");
        const more = count > LISTED_PROBLEMS ? `\n  … and ${count - LISTED_PROBLEMS} more (--json lists all)` : "";
        const message = `study ${verification.root} does not verify: ${count} mismatch${count === 1 ? "" : "es"} (files changed or removed since the study wrote them; restore them or rerun the study with --force):${listed}${more}`;
        reportError(new StudyVerifyError(message), context.stderr);
        context.exitCode = ExitCode.BadInput;
        return;
      }
      if (flags.json) return;
      const lines = [
        `study ${verification.runId ?? "(no run id)"} verified: ${verification.filesHashed} files re-hashed, ${verification.checks} checks, 0 mismatches`,
        ...verification.notChecked.map((note) => `not checked: ${note}`),
      ];
      context.stdout(`${lines.join("\n")}\n`);
    });
}
