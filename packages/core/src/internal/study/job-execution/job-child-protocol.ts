/**
 * Messages between the coordinator and a job's child process (over Node's IPC channel, JSON encoded).
 */
import type { JsonValue } from "../../../identity/canonical-json.js";
import type { StudyJob } from "../../../study/job-matrix.js";

/** Parent → child: run this job once. */
export interface RunMessage {
  readonly type: "run";
  readonly module: string;
  readonly exportName: string;
  readonly config: JsonValue;
  readonly job: StudyJob;
  readonly attempt: number;
}

/** Parent → child: abort the runner's signal. */
export interface CancelMessage {
  readonly type: "cancel";
}

/** Child → parent. */
export type ChildMessage =
  | { readonly type: "log"; readonly line: string }
  | { readonly type: "result"; readonly output: unknown }
  | { readonly type: "error"; readonly code: string | null; readonly message: string; readonly stack: string | null };
