/**
 * Error codes and error classes of `@studykit/bench` (one contract file for the harness's own failures).
 *
 * Every class subclasses `StudykitError`; `bench` prints `error[CODE]: message` and exits 2 when the user
 * can fix it (`userFacing`), 1 otherwise. A contender that cannot run here is not an error but an absent
 * row (measure.ts's `absent`).
 */
import { StudykitError } from "@studykit/native";

/** Stable codes raised by `@studykit/bench`. */
export const BenchErrorCode = {
  /** A bad `--suite`, `--runs` or other option. */
  Usage: "E_BENCH_USAGE",
  /** The run measured what it could, but a required contender, a peer or a suite broke. */
  Contender: "E_BENCH_CONTENDER",
  /** A PyTorch peer builds a model whose parameter count differs from the trainer's. */
  ModelMismatch: "E_BENCH_MODEL_MISMATCH",
  /** The PINN peer's loss no longer matches the trainer's physics graph. */
  GraphMismatch: "E_BENCH_GRAPH_MISMATCH",
  /** A failure with no code of its own: a bug in the harness. */
  Internal: "E_BENCH_INTERNAL",
} as const;

export type BenchErrorCodeValue = (typeof BenchErrorCode)[keyof typeof BenchErrorCode];

/** Bad `--suite` values and the like (`E_BENCH_USAGE`, exit 2). */
export class BenchUsageError extends StudykitError {
  constructor(message: string) {
    super(BenchErrorCode.Usage, message, { userFacing: true });
  }
}

/**
 * A bench run that measured what it could but has problems (contender-requirements.ts): `code`
 * E_BENCH_CONTENDER, one message line per problem. Not the user's input (exit 1): a required engine, a peer
 * or a suite broke.
 */
export class BenchContenderError extends StudykitError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(BenchErrorCode.Contender, `${problems.length} problem(s) in this run:\n${problems.map((line) => `  ${line}`).join("\n")}`, { userFacing: false });
    this.problems = problems;
  }
}

/**
 * A peer that no longer computes what ours does (another model, another loss), so its row would compare
 * nothing; `code` is {@link BenchErrorCode}'s `ModelMismatch` or `GraphMismatch`. A harness fault (exit 1).
 */
export class PeerMismatchError extends StudykitError {
  constructor(code: typeof BenchErrorCode.ModelMismatch | typeof BenchErrorCode.GraphMismatch, message: string) {
    super(code, message, { userFacing: false });
  }
}
