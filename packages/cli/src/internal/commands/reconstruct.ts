/**
 * `studykit reconstruct FILE.npz`: an iterative ptychographic reconstruction (ePIE, rPIE or the mini-batch
 * variant of `@studykit/ptycho`) of one `ptycho`-schema npz, such as a study's
 * `phaseC/dose_<d>/patched_test.npz`.
 *
 * - Writes `reconstruction.npz` (ptycho's `saveReconstruction`: atomic, byte-identical for the same seed)
 *   into `--out DIR`, by default `<input name>-reconstruction/` beside the input, so reconstructions of the
 *   same file with different settings go where the user says and never overwrite the input's directory.
 * - Progress on stderr after every iteration: a bar on a terminal, one plain line per iteration otherwise.
 * - Summary on stdout (text, or one JSON object with `--json`): algorithm, iterations, positions/s, wall
 *   time, final Fourier error, the object error when the file holds the ground truth, the output's path and
 *   SHA-256 (and with `--json` the error history and the resolved parameters). The file's `objectGuess` is
 *   taken as the ground truth, as in the study's simulated files; `--object-guess shape-only` (measured
 *   data, where it is only an earlier estimate) uses it for the object's shape and scores nothing.
 * - Every flag is checked before the file is read (`E_USAGE`, exit 2); a bad file is ptycho's coded error
 *   (exit 2). Ctrl-C (or SIGTERM) cancels between positions: exit 130 (143), nothing written; a second
 *   Ctrl-C exits at once.
 */
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { CANCELLED_CODE, CancelledError, hasErrorCode, IoError, IoErrorCode, sha256File, StudykitError } from "@studykit/native";
import type { ObjectGuessRole, ReconstructionAlgorithm, ReconstructionProgress, ReconstructionResult } from "@studykit/ptycho";
import type { CliContext } from "../../cli-context.js";
import { reportError } from "../../error-report.js";
import { UsageError } from "../../errors.js";

// Loaded when the command runs (it pulls in the data readers and the FFT kernels).
const loadPtycho = () => import("@studykit/ptycho");

/** The file written inside the output directory (the name Phase F of the study uses too). */
export const RECONSTRUCTION_FILE = "reconstruction.npz";

/** Conventional exit statuses of a process stopped by SIGINT / SIGTERM (128 + signal number). */
const SIGNAL_EXIT: Readonly<Record<"SIGINT" | "SIGTERM", number>> = { SIGINT: 130, SIGTERM: 143 };

const ALGORITHMS: readonly ReconstructionAlgorithm[] = ["epie", "rpie", "minibatch"];
const OBJECT_GUESS_ROLES: readonly ObjectGuessRole[] = ["ground-truth", "shape-only"];

interface ReconstructFlags {
  algorithm: string;
  iterations: number;
  probeUpdateFrom?: number;
  alpha?: number;
  batchSize?: number;
  threads?: number;
  seed: number;
  objectGuess: string;
  out?: string;
  json?: boolean;
}

function usage(message: string): UsageError {
  return new UsageError(`${message} (see \`studykit reconstruct --help\`)`);
}

/** Parser of a whole-number flag ≥ `min`: digits only, so `2.5`, `1e3`, `0x10` and `-1` are refused. */
function integerFlag(flag: string, min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) throw usage(`${flag} must be a whole number ≥ ${min}, got ${JSON.stringify(text)}`);
    return value;
  };
}

function alphaFlag(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0) throw usage(`--alpha must be a number ≥ 0, got ${JSON.stringify(text)}`);
  return value;
}

/** Checks that need several flags at once; everything here runs before the file is opened. */
function checkFlags(flags: ReconstructFlags): ReconstructionAlgorithm {
  const algorithm = flags.algorithm as ReconstructionAlgorithm;
  if (!ALGORITHMS.includes(algorithm)) throw usage(`unknown --algorithm ${JSON.stringify(flags.algorithm)}: use one of ${ALGORITHMS.join(", ")}`);
  if (!OBJECT_GUESS_ROLES.includes(flags.objectGuess as ObjectGuessRole)) throw usage(`unknown --object-guess ${JSON.stringify(flags.objectGuess)}: use ${OBJECT_GUESS_ROLES.join(" or ")}`);
  if (flags.probeUpdateFrom !== undefined && flags.probeUpdateFrom >= flags.iterations) {
    throw usage(
      `--probe-update-from ${flags.probeUpdateFrom} is not below --iterations ${flags.iterations}: the probe would never be updated (iterations count from 0; drop the flag to keep the known probe)`,
    );
  }
  if (flags.alpha !== undefined) {
    // ptycho's ranges: ePIE's α is a step size in (0, 2]; rPIE's and the mini-batch's α a weight in [0, 1].
    const ok = algorithm === "epie" ? flags.alpha > 0 && flags.alpha <= 2 : flags.alpha <= 1;
    if (!ok) throw usage(`--alpha ${flags.alpha} is out of range for ${algorithm}: use ${algorithm === "epie" ? "0 < α ≤ 2 (a step size)" : "0 ≤ α ≤ 1 (the regularisation weight)"}`);
  }
  if (algorithm !== "minibatch") {
    if (flags.batchSize !== undefined) throw usage(`--batch-size applies to --algorithm minibatch only (${algorithm} updates one position at a time)`);
    if (flags.threads !== undefined) throw usage(`--threads applies to --algorithm minibatch only (${algorithm} runs on the main thread)`);
  }
  return algorithm;
}

/** The default output directory: `<input name without .npz>-reconstruction/` beside the input. */
export function defaultOutputDirectory(input: string): string {
  return path.join(path.dirname(input), `${path.basename(input).replace(/\.npz$/i, "")}-reconstruction`);
}

/**
 * Checks, before any work, that `reconstruction.npz` can be written into `directory`: the directory, or
 * its nearest existing ancestor (the save creates the rest), is a directory we may write to. A regular file
 * in the way or a read-only directory is bad input (`E_IO…`, exit 2), found now instead of after the run.
 */
function checkOutputDirectory(directory: string): void {
  // A missing path, or one under a regular file (ENOTDIR), does not exist: look at its parent.
  const statOf = (candidate: string) => {
    try {
      return statSync(candidate, { throwIfNoEntry: false });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
      throw error;
    }
  };
  let existing = directory;
  let stats = statOf(existing);
  while (!stats && path.dirname(existing) !== existing) {
    existing = path.dirname(existing);
    stats = statOf(existing);
  }
  if (stats && !stats.isDirectory()) {
    const where = existing === directory ? "something that is not a directory already has that name" : `${existing} is a regular file, not a directory`;
    throw new IoError(IoErrorCode.Other, `cannot write ${path.join(directory, RECONSTRUCTION_FILE)}: ${where}; choose another --out DIR`, existing);
  }
  const target = path.join(directory, RECONSTRUCTION_FILE);
  if (existing === directory && statOf(target)?.isDirectory()) {
    throw new IoError(IoErrorCode.IsDirectory, `cannot write ${target}: it is a directory; remove it or choose another --out DIR`, target);
  }
  try {
    accessSync(existing, constants.W_OK);
  } catch (error) {
    throw new IoError(IoErrorCode.Permission, `cannot write into ${existing} (for ${path.join(directory, RECONSTRUCTION_FILE)}): permission denied; make it writable or choose another --out DIR`, existing, { cause: error });
  }
}

/** A file-system failure of the save (a full disk, a directory removed meanwhile) as a coded `E_IO` error. */
function saveFailure(error: unknown, output: string): unknown {
  // Coded errors (E_...) and bugs pass unchanged; only Node's system errors (ENOSPC, EACCES, ...: they
  // carry the failed syscall) are the user's to fix.
  if (hasErrorCode(error) || typeof (error as { syscall?: unknown } | null)?.syscall !== "string") return error;
  const { code, message } = error as NodeJS.ErrnoException;
  return new IoError(IoErrorCode.Other, `cannot write ${output}: ${message} [${code}]; nothing was written there (check free space and permissions, or choose another --out DIR)`, output, { cause: error });
}

/**
 * A file without diffraction (an object and probe only, like a published reconstruction) cannot be
 * reconstructed; ptycho's error says so, and the CLI adds the two commands that get there from its shell.
 */
function withSimulationHint(error: unknown, input: string, shown: string): unknown {
  if (!hasErrorCode(error, "E_PTYCHO_MISSING_KEY") || !/\bdiff3d\b/.test(error.message)) return error;
  const out = path.join("study-out", path.basename(input).replace(/\.npz$/i, ""));
  const phaseC = path.join(out, "phaseC", "dose_100000", "patched_test.npz");
  return new StudykitError(
    error.code,
    `${error.message}. From the shell: \`studykit study plan --object-from ${shown} --reuse-coordinates --out ${out}\` simulates it ` +
      `(\`study run\` also trains), then reconstruct a Phase C file it writes, e.g. \`studykit reconstruct ${phaseC}\``,
    { cause: error },
  );
}

interface ProgressDisplay {
  update(progress: ReconstructionProgress): void;
  stop(): void;
}

function formatError(value: number): string {
  return value.toPrecision(4);
}

/** A bar on a terminal (cli-progress), plain lines elsewhere: both on stderr, so `--json` stdout stays clean. */
function progressDisplay(context: CliContext, iterations: number): ProgressDisplay {
  if (context.stderrIsTerminal) {
    // cli-progress writes escape sequences through `write` and reads `isTTY` / `columns`: route them to the
    // context's stderr.
    const stream = { isTTY: true, columns: process.stderr.columns, write: (text: string) => (context.stderr(text), true) } as unknown as NodeJS.WriteStream;
    const bar = new cliProgress.SingleBar(
      { stream, hideCursor: true, fps: 5, format: "iteration {value}/{total} [{bar}] Fourier error {fourierError} | phase MAE {phaseMae} | ETA {eta_formatted}" },
      cliProgress.Presets.shades_classic,
    );
    bar.start(iterations, 0, { fourierError: "-", phaseMae: "-" });
    return {
      update(progress) {
        bar.update(progress.iteration, { fourierError: formatError(progress.fourierError), phaseMae: progress.phaseMae === null ? "n/a" : `${progress.phaseMae.toFixed(4)} rad` });
      },
      stop() {
        bar.stop();
      },
    };
  }
  return {
    update(progress) {
      const phase = progress.phaseMae === null ? "" : `, phase MAE ${progress.phaseMae.toFixed(4)} rad`;
      context.stderr(`reconstruct: iteration ${progress.iteration}/${progress.iterations}, Fourier error ${formatError(progress.fourierError)}${phase} (${(progress.elapsedMs / 1000).toFixed(1)} s)\n`);
    },
    stop() {},
  };
}

/** Runs `run` with SIGINT/SIGTERM aborting `controller`; a second signal exits at once. */
async function withSignalCancellation<T>(context: CliContext, controller: AbortController, run: () => Promise<T>): Promise<{ value?: T; signal?: "SIGINT" | "SIGTERM" }> {
  let received: "SIGINT" | "SIGTERM" | undefined;
  const onSignal = (signal: "SIGINT" | "SIGTERM") => {
    if (received) process.exit(SIGNAL_EXIT[signal]);
    received = signal;
    context.stderr(`\n${signal}: cancelling the reconstruction (press Ctrl-C again to exit at once)\n`);
    controller.abort(new Error(signal));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return { value: await run() };
  } catch (error) {
    if (received && hasErrorCode(error, CANCELLED_CODE)) return { signal: received };
    throw error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function summaryOf(result: ReconstructionResult, extra: { input: string; output: string; sha256: string; positions: number; wallTimeSeconds: number }) {
  const last = result.parameters.iterations - 1;
  return {
    input: extra.input,
    output: extra.output,
    sha256: extra.sha256,
    algorithm: result.parameters.algorithm,
    iterations: result.parameters.iterations,
    positions: extra.positions,
    positionsPerSecond: result.timings.positionsPerSecond,
    reconstructionSeconds: result.timings.totalMs / 1000,
    wallTimeSeconds: extra.wallTimeSeconds,
    finalFourierError: result.fourierError[last]!,
    objectError: result.phaseMae && result.amplitudeMae ? { phaseMae: result.phaseMae[last]!, amplitudeMae: result.amplitudeMae[last]!, scoredPixels: result.scoredPixels } : null,
    history: {
      fourierError: Array.from(result.fourierError),
      phaseMae: result.phaseMae ? Array.from(result.phaseMae) : null,
      amplitudeMae: result.amplitudeMae ? Array.from(result.amplitudeMae) : null,
    },
    parameters: result.parameters,
  };
}

export function registerReconstructCommand(program: Command, context: CliContext): void {
  program
    .command("reconstruct")
    .description("iterative ptychographic reconstruction (ePIE, rPIE, mini-batch) of a ptycho-schema npz; writes reconstruction.npz")
    .argument("<file>", "npz with diffraction (diff3d or diffraction), probeGuess, xcoords, ycoords, objectGuess (ground truth, or the object's shape)")
    .option("--algorithm <name>", `${ALGORITHMS.join(", ")}`, "epie")
    .option("--iterations <n>", "sweeps over all positions", integerFlag("--iterations", 1), 20)
    .option("--probe-update-from <k>", "update the probe from iteration K on (0-based, K < N); default: the probe is known and kept", integerFlag("--probe-update-from", 0))
    .option("--alpha <a>", "object weight α: ePIE step in (0, 2] (default 1); rPIE / mini-batch weight in [0, 1] (default 0.1 / 0.5)", alphaFlag)
    .option("--batch-size <b>", "positions per step of --algorithm minibatch (default 32)", integerFlag("--batch-size", 1))
    .option("--threads <t>", "FFT threads of --algorithm minibatch (default 2; the result does not depend on it)", integerFlag("--threads", 1))
    .option("--seed <s>", "seed of the position order", integerFlag("--seed", 0), 0)
    .option("--object-guess <role>", "what the file's objectGuess is: ground-truth (scores every iteration; the study's simulated files) or shape-only (measured data)", "ground-truth")
    .option("--out <dir>", "output directory (default: <file name>-reconstruction/ beside the file)")
    .option("--json", "print one JSON object (summary, error history, output path and SHA-256) on stdout")
    .action(async (file: string, flags: ReconstructFlags) => {
      const started = performance.now();
      const algorithm = checkFlags(flags);
      const input = path.resolve(context.cwd, file);
      const outDir = flags.out === undefined ? defaultOutputDirectory(input) : path.resolve(context.cwd, flags.out);
      const output = path.join(outDir, RECONSTRUCTION_FILE);
      checkOutputDirectory(outDir);
      const { loadPtychoProblem, reconstruct, saveReconstruction } = await loadPtycho();
      let problem;
      try {
        problem = loadPtychoProblem(input, { objectGuess: flags.objectGuess as ObjectGuessRole });
      } catch (error) {
        throw withSimulationHint(error, input, file);
      }
      const display = progressDisplay(context, flags.iterations);
      const controller = new AbortController();
      let outcome;
      try {
        outcome = await withSignalCancellation(context, controller, () =>
          reconstruct(problem, {
            algorithm,
            iterations: flags.iterations,
            seed: flags.seed,
            probeUpdateFrom: flags.probeUpdateFrom ?? null,
            ...(flags.alpha !== undefined ? { objectWeight: flags.alpha } : {}),
            ...(flags.batchSize !== undefined ? { batchSize: flags.batchSize } : {}),
            ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
            signal: controller.signal,
            onProgress: (progress) => display.update(progress),
          }),
        );
      } finally {
        display.stop();
      }
      if (outcome.signal) {
        reportError(new CancelledError(`reconstruction of ${file} cancelled by ${outcome.signal}; nothing was written (${output} is untouched)`), context.stderr);
        context.exitCode = SIGNAL_EXIT[outcome.signal];
        return;
      }
      const result = outcome.value!;
      try {
        saveReconstruction(output, result, input);
      } catch (error) {
        throw saveFailure(error, output);
      }
      const digest = await sha256File(output);
      const summary = summaryOf(result, { input, output, sha256: digest.sha256, positions: problem.positions.length, wallTimeSeconds: (performance.now() - started) / 1000 });
      if (flags.json) {
        context.stdout(`${JSON.stringify(summary, null, 2)}\n`);
        return;
      }
      const objectLine = summary.objectError
        ? `object error: phase MAE ${summary.objectError.phaseMae.toFixed(4)} rad, amplitude MAE ${summary.objectError.amplitudeMae.toFixed(4)} (central ${result.parameters.scoreWindow}×${result.parameters.scoreWindow} windows, ${summary.objectError.scoredPixels} px, global phase removed)`
        : "object error: n/a (--object-guess shape-only: no ground truth)";
      const lines = [
        `reconstructed ${file}: ${summary.algorithm}, ${summary.iterations} iterations over ${summary.positions} positions`,
        `speed: ${Math.round(summary.positionsPerSecond)} positions/s; wall time ${summary.wallTimeSeconds.toFixed(2)} s (reconstruction ${summary.reconstructionSeconds.toFixed(2)} s)`,
        `final Fourier error: ${formatError(summary.finalFourierError)}`,
        objectLine,
        `output: ${output}`,
        `sha256: ${digest.sha256}`,
      ];
      context.stdout(`${lines.join("\n")}\n`);
    });
}
