/**
 * Cheap check whether an ONNX Runtime execution provider's shared library is installed, so a missing
 * CUDA provider is reported as a reason instead of ORT printing a load error on every session.
 */
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { GraphBuilder, NCHWC_DOMAIN } from "./internal/graph-builder.js";

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
  return found ? undefined : `${library} is not installed (install it: cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install)`;
}

const probes = new Map<string, Promise<string | undefined>>();

/**
 * Whether `provider` can really run a graph here: its library is installed (see
 * {@link providerUnavailableReason}) and a one-node session created on it alone runs once and gives the
 * right answer. A CUDA library on a machine without a usable device passes the first check and fails this
 * one, at start-up instead of in every job. Undefined when it works, else why not; cached per provider.
 */
export function probeExecutionProvider(provider: "cpu" | "cuda"): Promise<string | undefined> {
  let probe = probes.get(provider);
  if (probe === undefined) {
    probe = (async () => {
      const missing = providerUnavailableReason(provider);
      if (missing !== undefined) return missing;
      let session: ort.InferenceSession | undefined;
      try {
        const b = new GraphBuilder(`${provider}-probe`);
        const x = b.addInput("x", "float32", [4]);
        b.node("Add", [x, x], {}, { names: ["y"] });
        b.addOutput("y");
        session = await ort.InferenceSession.create(b.toModelBytes(), { executionProviders: [provider], logSeverityLevel: 4 });
        const result = await session.run({ x: new ort.Tensor("float32", Float32Array.of(1, 2, 3, 4), [4]) });
        const y = Array.from(result["y"]!.data as Float32Array);
        return y.join(",") === "2,4,6,8" ? undefined : `a ${provider} session computed x + x = [${y.join(", ")}] for x = [1, 2, 3, 4]`;
      } catch (error) {
        return `a ${provider} session does not start: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`;
      } finally {
        await session?.release().catch(() => {});
      }
    })();
    probes.set(provider, probe);
  }
  return probe;
}

/** Session options turning ORT's intra-op spin-waiting on or off (absent: ORT's default). */
export function spinningOption(spinning: boolean | undefined): { extra?: Record<string, unknown> } {
  if (spinning === undefined) return {};
  return { extra: { session: { intra_op: { allow_spinning: spinning ? "1" : "0" } } } };
}

let blockSize: Promise<number> | undefined;

/**
 * ONNX Runtime's NCHWc block size on this machine (8 with AVX2, 16 with AVX-512), asked of ORT itself: a
 * ReorderInput of 4 channels pads them to one block. 0 where the blocked kernels are unavailable (another
 * CPU architecture, or an ORT build without them); the engine then uses NCHW graphs.
 */
export function nchwcBlockSize(): Promise<number> {
  blockSize ??= (async () => {
    try {
      const b = new GraphBuilder("nchwc-probe");
      b.nchwcBlock = 1;
      const x = b.addInput("x", "float32", [1, -1, 1, 1], [undefined, "channels"]);
      b.node("ReorderInput", [x], {}, { domain: NCHWC_DOMAIN, names: ["y"] });
      b.addOutput("y");
      const session = await ort.InferenceSession.create(b.toModelBytes(), { executionProviders: ["cpu"], intraOpNumThreads: 1, logSeverityLevel: 4 });
      try {
        const result = await session.run({ x: new ort.Tensor("float32", new Float32Array(4), [1, 4, 1, 1]) });
        const block = result.y!.dims[1]!;
        return block >= 8 && block % 4 === 0 ? block : 0;
      } finally {
        await session.release();
      }
    } catch {
      return 0;
    }
  })();
  return blockSize;
}
