/**
 * `wasm` convolution kernels served by `@studykit/native` (im2col + an AVX2/FMA GEMM on two threads).
 *
 * Why: tfjs-backend-wasm disables its threads under Node, so its convolutions (and our gradient rewrites
 * in `conv-gradients.ts`, which run on them) use one core with 128-bit SIMD; on the reference model they
 * were ~90% of a training step. The addon reads the inputs straight from the wasm heap and writes into a
 * freshly allocated output tensor there, so nothing is copied. Registered only when the addon is
 * loaded; float32 NHWC only, anything else (and every call when the addon is missing) goes to the kernel
 * that was registered before.
 */
import * as tf from "@tensorflow/tfjs-core";
import { conv2dBackpropFilter, conv2dBackpropInput, conv2dForward, nativeStatus, type Conv2dGeometry } from "@studykit/native";

/** The slice of tfjs-backend-wasm's `BackendWasm` these kernels use (public members of the class). */
interface WasmHeapBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: tf.KernelBackend };
type Quad = [number, number, number, number];
type ConvAttrs = {
  strides: number | [number, number];
  pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding;
  dataFormat?: "NHWC" | "NCHW";
  dilations?: number | [number, number];
  dimRoundingMode?: "floor" | "round" | "ceil";
};

/** Kernels this module replaces on `wasm` when the addon is loaded. */
export const NATIVE_WASM_KERNELS = ["Conv2D", "FusedConv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"] as const;

function isHeapBackend(backend: tf.KernelBackend): backend is WasmHeapBackend {
  const candidate = backend as Partial<WasmHeapBackend>;
  return typeof candidate.makeOutput === "function" && typeof candidate.typedArrayFromHeap === "function";
}

/** Geometry for the addon, or null when the call is outside what it handles (then the old kernel runs). */
function geometryOf(xShape: readonly number[], filterShape: readonly number[], dyShape: readonly number[] | null, attrs: ConvAttrs): Conv2dGeometry | null {
  if (attrs.dataFormat === "NCHW" || xShape.length !== 4 || filterShape.length !== 4) return null;
  const pad = attrs.pad as Parameters<typeof tf.backend_util.computeConv2DInfo>[4];
  const info = tf.backend_util.computeConv2DInfo(xShape as Quad, filterShape as Quad, attrs.strides, attrs.dilations ?? 1, pad, attrs.dimRoundingMode, false, "channelsLast");
  if (dyShape && (dyShape[0] !== info.batchSize || dyShape[1] !== info.outHeight || dyShape[2] !== info.outWidth || dyShape[3] !== info.outChannels)) return null;
  if (info.padInfo.top < 0 || info.padInfo.left < 0 || info.inChannels !== filterShape[2]) return null;
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    outChannels: info.outChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

function allFloat(...tensors: Array<tf.TensorInfo | undefined>): boolean {
  return tensors.every((t) => t !== undefined && t.dtype === "float32");
}

/** Runs `compute` on heap views of `inputs` and a new output tensor (views taken after allocating, as
 * allocation may grow, and so replace, the wasm memory). */
function onHeap(backend: WasmHeapBackend, shape: number[], inputs: tf.TensorInfo[], compute: (views: Float32Array[], output: Float32Array) => void): tf.TensorInfo {
  const out = backend.makeOutput(shape, "float32");
  try {
    compute(inputs.map((t) => backend.typedArrayFromHeap(t)), backend.typedArrayFromHeap(out));
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  }
  return out;
}

function forwardKernel(previous: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo => {
    const { x, filter } = args.inputs as { x?: tf.TensorInfo; filter?: tf.TensorInfo };
    const attrs = (args.attrs ?? {}) as unknown as ConvAttrs;
    const g = x && filter && allFloat(x, filter) && isHeapBackend(args.backend) ? geometryOf(x.shape, filter.shape, null, attrs) : null;
    if (!g || !isHeapBackend(args.backend)) return previous(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    return onHeap(args.backend, [g.batch, g.outHeight, g.outWidth, g.outChannels], [x!, filter!], ([xs, ws], y) => conv2dForward(xs!, ws!, y, g));
  };
}

/** `FusedConv2D` with a per-channel (or scalar) bias and `linear` / `relu`, the fusions the trainer uses. */
function fusedForwardKernel(previous: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as { x?: tf.TensorInfo; filter?: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
    const attrs = (args.attrs ?? {}) as unknown as ConvAttrs & { activation?: string };
    const activation = attrs.activation ?? "linear";
    const outChannels = filter?.shape[3];
    const biasSize = bias ? tf.util.sizeFromShape(bias.shape) : 0;
    const supported =
      x && filter && allFloat(x, filter) && (!bias || (bias.dtype === "float32" && (biasSize === 1 || biasSize === outChannels))) && !preluActivationWeights && (activation === "linear" || activation === "relu");
    const g = supported && isHeapBackend(args.backend) ? geometryOf(x!.shape, filter!.shape, null, attrs) : null;
    if (!g || !isHeapBackend(args.backend)) return previous(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const inputs = bias ? [x!, filter!, bias] : [x!, filter!];
    return onHeap(args.backend, [g.batch, g.outHeight, g.outWidth, g.outChannels], inputs, ([xs, ws, bs], y) => {
      conv2dForward(xs!, ws!, y, g);
      const f = g.outChannels;
      const relu = activation === "relu";
      if (bs) {
        for (let i = 0; i < y.length; i += f) {
          for (let k = 0; k < f; k++) {
            const v = y[i + k]! + bs[bs.length === 1 ? 0 : k]!;
            y[i + k] = relu && v < 0 ? 0 : v;
          }
        }
      } else if (relu) {
        for (let i = 0; i < y.length; i++) if (y[i]! < 0) y[i] = 0;
      }
    });
  };
}

function inputGradientKernel(previous: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo => {
    const { dy, filter } = args.inputs as { dy?: tf.TensorInfo; filter?: tf.TensorInfo };
    const attrs = (args.attrs ?? {}) as unknown as ConvAttrs & { inputShape?: number[] };
    const inputShape = attrs.inputShape;
    const g = dy && filter && inputShape && allFloat(dy, filter) && isHeapBackend(args.backend) ? geometryOf(inputShape, filter.shape, dy.shape, attrs) : null;
    if (!g || !isHeapBackend(args.backend)) return previous(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    return onHeap(args.backend, [...inputShape!], [dy!, filter!], ([dys, ws], dx) => conv2dBackpropInput(dys!, ws!, dx, g));
  };
}

function filterGradientKernel(previous: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo => {
    const { x, dy } = args.inputs as { x?: tf.TensorInfo; dy?: tf.TensorInfo };
    const attrs = (args.attrs ?? {}) as unknown as ConvAttrs & { filterShape?: number[] };
    const filterShape = attrs.filterShape;
    const g = x && dy && filterShape && allFloat(x, dy) && isHeapBackend(args.backend) ? geometryOf(x.shape, filterShape, dy.shape, attrs) : null;
    if (!g || !isHeapBackend(args.backend)) return previous(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    return onHeap(args.backend, [...filterShape!], [x!, dy!], ([xs, dys], dw) => conv2dBackpropFilter(xs!, dys!, dw, g));
  };
}

function nativeLoaded(): boolean {
  try {
    return nativeStatus().implementation === "native";
  } catch {
    return false; // STUDYKIT_REQUIRE_NATIVE without the addon: leave the kernels alone (its own checks report it)
  }
}

/**
 * Replaces the `wasm` convolution kernels with the addon's when it is loaded (each keeps the kernel
 * registered before it for calls it does not handle). Call after the wasm gradient kernels are
 * registered. Returns whether it replaced them. Idempotent.
 */
export function registerNativeConvKernels(): boolean {
  if (replaced) return true;
  if (!nativeLoaded()) return false;
  const wrappers: Record<(typeof NATIVE_WASM_KERNELS)[number], (previous: tf.KernelFunc) => (args: KernelArgs) => tf.TensorInfo> = {
    Conv2D: forwardKernel,
    FusedConv2D: fusedForwardKernel,
    Conv2DBackpropInput: inputGradientKernel,
    Conv2DBackpropFilter: filterGradientKernel,
  };
  for (const name of NATIVE_WASM_KERNELS) {
    const previous = tf.getKernel(name, "wasm");
    if (!previous) continue;
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel({ ...previous, kernelName: name, backendName: "wasm", kernelFunc: wrappers[name](previous.kernelFunc) as unknown as tf.KernelFunc });
  }
  replaced = true;
  return true;
}

let replaced = false;

/** Whether `wasm`'s convolutions run on the addon (see {@link registerNativeConvKernels}). */
export function nativeConvKernelsRegistered(): boolean {
  return replaced;
}
