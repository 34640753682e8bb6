/**
 * The training checkpoint file (`checkpoint.bin`, and `best-weights.bin` in the same format): everything a
 * run needs to resume at an epoch boundary and end bitwise where an uninterrupted run ends.
 *
 * Layout, in order:
 * - the magic line `STUDYKIT-CHECKPOINT-1\n` (UTF-8);
 * - the header length, u32 little-endian;
 * - the header, canonical JSON: `{ state, weights: [{ name, shape }], slots: [{ name, shape }], payloadSha256 }`;
 * - the payload: every weight then every optimizer slot, float32 little-endian, row-major, in header order.
 *
 * The payload's SHA-256 is in the header, so a torn or altered file is refused (`E_CHECKPOINT_CORRUPT`)
 * rather than resumed from.
 */
import { canonicalJson, type JsonObject } from "@studykit/core";
import { sha256 } from "@studykit/native";
import { TrainerErrorCode, TrainingError } from "../errors.js";
import type { NamedWeight } from "../model-description.js";
import type { OptimizerState } from "../engines/training-engine.js";
import type { EpochMetrics, EpochRecord } from "../train.js";

const CHECKPOINT_MAGIC = "STUDYKIT-CHECKPOINT-1\n";

/** The loop's state after an epoch, as the checkpoint header records it. */
export interface CheckpointState {
  readonly configHash: string;
  readonly epochsDone: number;
  readonly history: EpochRecord[];
  readonly metrics: EpochMetrics[];
  readonly best: number | null;
  readonly sinceBest: number;
  /** 1-based epoch of `best` (absent in checkpoints written before best-weight restore). */
  readonly bestEpoch?: number | null;
  readonly stoppedEarly: boolean;
  readonly optimizerStep: number;
}

/** The checkpoint bytes for `state`, `weights` and the optimizer's slots. */
export function encodeCheckpoint(state: CheckpointState, weights: readonly NamedWeight[], optimizer: OptimizerState): Uint8Array {
  const tensors = [...weights, ...optimizer.slots];
  const total = tensors.reduce((s, t) => s + t.values.length, 0);
  const payload = new Float32Array(total);
  let offset = 0;
  for (const t of tensors) {
    payload.set(t.values, offset);
    offset += t.values.length;
  }
  const payloadBytes = new Uint8Array(payload.buffer);
  const header = new TextEncoder().encode(
    canonicalJson({
      state: state as unknown as JsonObject,
      weights: weights.map((w) => ({ name: w.name, shape: [...w.shape] })),
      slots: optimizer.slots.map((w) => ({ name: w.name, shape: [...w.shape] })),
      payloadSha256: sha256(payloadBytes),
    }),
  );
  const magic = new TextEncoder().encode(CHECKPOINT_MAGIC);
  const out = new Uint8Array(magic.length + 4 + header.length + payloadBytes.length);
  out.set(magic, 0);
  new DataView(out.buffer).setUint32(magic.length, header.length, true);
  out.set(header, magic.length + 4);
  out.set(payloadBytes, magic.length + 4 + header.length);
  return out;
}

/** Reads checkpoint bytes (from `path`, named in errors); throws `E_CHECKPOINT_CORRUPT` saying what is wrong. */
export function decodeCheckpoint(path: string, bytes: Uint8Array): { state: CheckpointState; weights: NamedWeight[]; optimizer: OptimizerState } {
  const bad = (why: string) => new TrainingError(TrainerErrorCode.CheckpointCorrupt, `checkpoint ${path} is unreadable: ${why}; delete it to start over, or restore it from a copy`);
  const magic = new TextEncoder().encode(CHECKPOINT_MAGIC);
  if (bytes.length < magic.length + 4 || new TextDecoder().decode(bytes.subarray(0, magic.length)) !== CHECKPOINT_MAGIC) throw bad("wrong magic (not a studykit checkpoint)");
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(magic.length, true);
  const start = magic.length + 4;
  if (start + headerLength > bytes.length) throw bad(`header length ${headerLength} exceeds the file (${bytes.length} bytes)`);
  let header: { state: CheckpointState; weights: Array<{ name: string; shape: number[] }>; slots: Array<{ name: string; shape: number[] }>; payloadSha256: string };
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(start, start + headerLength)));
  } catch (error) {
    throw bad(`header is not JSON (${(error as Error).message})`);
  }
  const payloadBytes = new Uint8Array(bytes.subarray(start + headerLength)); // a copy: aligned for Float32Array
  if (sha256(payloadBytes) !== header.payloadSha256) throw bad("payload checksum mismatch");
  const payload = new Float32Array(payloadBytes.buffer, payloadBytes.byteOffset, payloadBytes.byteLength / 4);
  let offset = 0;
  const take = (list: Array<{ name: string; shape: number[] }>) =>
    list.map((t) => {
      const size = t.shape.reduce((a, b) => a * b, 1);
      const values = payload.slice(offset, offset + size);
      offset += size;
      return { name: t.name, shape: t.shape, values };
    });
  const weights = take(header.weights);
  const slots = take(header.slots);
  if (offset !== payload.length) throw bad(`payload holds ${payload.length} values, the header lists ${offset}`);
  return { state: header.state, weights, optimizer: { step: header.state.optimizerStep, slots } };
}
