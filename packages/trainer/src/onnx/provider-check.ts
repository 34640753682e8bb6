/**
 * Cheap check whether an ONNX Runtime execution provider's shared library is installed, so a missing
 * CUDA provider is reported as a reason instead of ORT printing a load error on every session.
 */
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const PROVIDER_LIBRARIES: Record<string, string | undefined> = {
  cuda: "libonnxruntime_providers_cuda.so",
  cpu: undefined,
};

/** Undefined when the provider may start; otherwise why it cannot. */
export function providerUnavailableReason(provider: string): string | undefined {
  const library = PROVIDER_LIBRARIES[provider];
  if (library === undefined || process.platform !== "linux") return undefined;
  let root: string;
  try {
    root = path.dirname(createRequire(import.meta.url).resolve("onnxruntime-node/package.json"));
  } catch {
    return undefined;
  }
  const bin = path.join(root, "bin");
  const found = existsSync(bin) && readdirSync(bin).some((napi) => existsSync(path.join(bin, napi, "linux", process.arch, library)));
  return found ? undefined : `${library} is not installed (npm install onnxruntime-node --onnxruntime-node-install=cuda12)`;
}

/** Session options turning ORT's intra-op spin-waiting on or off (absent: ORT's default). */
export function spinningOption(spinning: boolean | undefined): { extra?: Record<string, unknown> } {
  if (spinning === undefined) return {};
  return { extra: { session: { intra_op: { allow_spinning: spinning ? "1" : "0" } } } };
}
