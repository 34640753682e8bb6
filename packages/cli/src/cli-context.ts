/** What every command gets: output streams and the exit code it should set. */
export interface CliContext {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether `stderr` is a terminal (progress bars there; plain lines otherwise). */
  readonly stderrIsTerminal: boolean;
  /** Working directory for relative paths. */
  readonly cwd: string;
  /** Set by a command that finished with a non-zero status without throwing (e.g. partial failures). */
  exitCode: number;
}
