/**
 * Convolution gradients expressed as forward convolutions, and the `wasm` kernels built on them.
 *
 * Why: `@tensorflow/tfjs-backend-wasm` 4.22 has no `Conv2DBackpropFilter` kernel at all, and its
 * `Conv2DBackpropInput` is a scalar C++ loop about 10× slower than its XNNPACK forward convolution.
 * Both gradients are themselves convolutions, so we rewrite them as forward `conv2d` calls that run on
 * XNNPACK (the same trick cuDNN-less frameworks use):
 *
 * Forward (NHWC, filter HWIO, explicit pads from `computeConv2DInfo`):
 *   y[n,i,j,f] = Σ_{a,b,c} xpad[n, i·s + a·d, j·s + b·d, c] · w[a,b,c,f]
 * Filter gradient: transpose x to `[C, Hp, Wp, N]` (channels become the batch, the batch becomes the
 *   channels) and dy to `[oH, oW, N, F]` (a filter); a `conv2d` with stride `d` and dilation `s` gives
 *   `[C, kh, kw, F]`, transposed to HWIO.
 * Input gradient: insert `s − 1` zeros between dy's pixels, pad by `(k − 1)·d − pad`, and convolve with
 *   the filter flipped in space and transposed to `[kh, kw, F, C]` (dilation `d`, stride 1).
 *
 * TF.js's own conv2d gradient refuses dilation > 1, so the TF.js engine routes dilated convolutions
 * through `conv2dWithGradients`, a custom-gradient conv built on the same two functions.
 */
import * as tf from "@tensorflow/tfjs-core";
import { registerNativeConvKernels } from "./native-conv-kernels.js";

type Pair = [number, number];
type PadSpec = "same" | "valid" | number | [[number, number], [number, number], [number, number], [number, number]];

const asPair = (v: number | readonly number[]): Pair => (typeof v === "number" ? [v, v] : [v[0]!, v[1] ?? v[0]!]);

/** Explicit padding `[top, bottom, left, right]` and output size of a conv, as TF.js computes them. */
function convGeometry(xShape: readonly number[], filterShape: readonly number[], strides: Pair, dilations: Pair, pad: PadSpec) {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations,
    pad as "same",
    undefined,
    false,
    "channelsLast",
  );
  return { top: info.padInfo.top, left: info.padInfo.left, outHeight: info.outHeight, outWidth: info.outWidth };
}

/** Runs registered kernels of the active back end on TensorInfos and frees intermediates. */
class KernelRunner {
  private readonly temporaries: tf.TensorInfo[] = [];
  constructor(private readonly backend: tf.KernelBackend, private readonly backendName: string) {}

  run(name: string, inputs: tf.NamedTensorInfoMap, attrs: Record<string, unknown>): tf.TensorInfo {
    const kernel = tf.getKernel(name, this.backendName);
    if (!kernel) throw new Error(`kernel ${name} is not registered for back end ${this.backendName}`);
    const out = kernel.kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend: this.backend }) as tf.TensorInfo;
    this.temporaries.push(out);
    return out;
  }

  /** Pads (positive amounts) or crops (negative amounts) the two spatial axes of an NHWC tensor. */
  padOrCrop(x: tf.TensorInfo, top: number, bottom: number, left: number, right: number): tf.TensorInfo {
    let out = x;
    if (top > 0 || bottom > 0 || left > 0 || right > 0) {
      const paddings = [[0, 0], [Math.max(top, 0), Math.max(bottom, 0)], [Math.max(left, 0), Math.max(right, 0)], [0, 0]];
      out = this.run("PadV2", { x: out }, { paddings, constantValue: 0 });
    }
    if (top < 0 || bottom < 0 || left < 0 || right < 0) {
      const [n, h, w, c] = out.shape as [number, number, number, number];
      const t = Math.max(-top, 0);
      const l = Math.max(-left, 0);
      out = this.run("Slice", { x: out }, { begin: [0, t, l, 0], size: [n, h - t - Math.max(-bottom, 0), w - l - Math.max(-right, 0), c] });
    }
    return out;
  }

  /** Frees every intermediate except `keep`. */
  finish(keep: tf.TensorInfo): tf.TensorInfo {
    for (const t of this.temporaries) if (t !== keep) this.backend.disposeData(t.dataId);
    return keep;
  }
}

type Quad = [number, number, number, number];

/**
 * Gradient of `conv2d(x, w, strides, pad, dilations)` with respect to `w` (shape `filterShape`, HWIO),
 * given the output gradient `dy`, as one forward `Conv2D` kernel call on the active back end.
 */
export function conv2dFilterGradientKernel(
  backend: tf.KernelBackend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  filterShape: Quad,
  strides: number | readonly number[],
  pad: PadSpec,
  dilations: number | readonly number[] = 1,
): tf.TensorInfo {
  const runner = new KernelRunner(backend, tf.getBackend());
  try {
    const s = asPair(strides);
    const d = asPair(dilations);
    const [kh, kw] = filterShape;
    const { top, left } = convGeometry(x.shape, filterShape, s, d, pad);
    const [, xh, xw] = x.shape as Quad;
    const [, oH, oW] = dy.shape as Quad;
    // Rows of xpad touched: up to (kh−1)·d + (oH−1)·s; pad the bottom/right so every index exists.
    const needH = (kh - 1) * d[0] + (oH - 1) * s[0] + 1;
    const needW = (kw - 1) * d[1] + (oW - 1) * s[1] + 1;
    const xpad = runner.padOrCrop(x, top, needH - xh - top, left, needW - xw - left);
    const xT = runner.run("Transpose", { x: xpad }, { perm: [3, 1, 2, 0] }); // [C, needH, needW, N]
    const dyT = runner.run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] }); // [oH, oW, N, F]
    const g = runner.run("Conv2D", { x: xT, filter: dyT }, { strides: d, pad: "valid", dataFormat: "NHWC", dilations: s, dimRoundingMode: undefined }); // [C, kh, kw, F]
    const gT = runner.run("Transpose", { x: g }, { perm: [1, 2, 0, 3] });
    if (gT.shape.join() !== filterShape.join()) throw new Error(`conv2d filter gradient: internal shape ${gT.shape.join("×")} != ${filterShape.join("×")}`);
    return runner.finish(gT);
  } catch (error) {
    runner.finish({} as tf.TensorInfo);
    throw error;
  }
}

/**
 * Gradient of `conv2d(x, w, strides, pad, dilations)` with respect to `x` (shape `inputShape`), given
 * the output gradient `dy`, as one forward `Conv2D` kernel call on the active back end.
 */
export function conv2dInputGradientKernel(
  backend: tf.KernelBackend,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  inputShape: Quad,
  strides: number | readonly number[],
  pad: PadSpec,
  dilations: number | readonly number[] = 1,
): tf.TensorInfo {
  const runner = new KernelRunner(backend, tf.getBackend());
  try {
    const s = asPair(strides);
    const d = asPair(dilations);
    const [kh, kw] = filter.shape as Quad;
    const [n, h, w] = inputShape;
    const { top, left } = convGeometry(inputShape, filter.shape, s, d, pad);
    const [, oH, oW, f] = dy.shape as Quad;
    let dyz = dy;
    if (s[0] > 1 || s[1] > 1) {
      // Insert s−1 zeros after each pixel: [N,oH,1,oW,1,F] padded to [N,oH,s,oW,s,F], then cropped.
      const six = runner.run("Reshape", { x: dy }, { shape: [n, oH, 1, oW, 1, f] });
      const spread = runner.run("PadV2", { x: six }, { paddings: [[0, 0], [0, 0], [0, s[0] - 1], [0, 0], [0, s[1] - 1], [0, 0]], constantValue: 0 });
      const flat = runner.run("Reshape", { x: spread }, { shape: [n, oH * s[0], oW * s[1], f] });
      dyz = runner.run("Slice", { x: flat }, { begin: [0, 0, 0, 0], size: [n, (oH - 1) * s[0] + 1, (oW - 1) * s[1] + 1, f] });
    }
    const padTop = (kh - 1) * d[0] - top;
    const padLeft = (kw - 1) * d[1] - left;
    const padBottom = h + (kh - 1) * d[0] - padTop - dyz.shape[1]!;
    const padRight = w + (kw - 1) * d[1] - padLeft - dyz.shape[2]!;
    const dyp = runner.padOrCrop(dyz, padTop, padBottom, padLeft, padRight);
    const reversed = runner.run("Reverse", { x: filter }, { dims: [0, 1] });
    const flipped = runner.run("Transpose", { x: reversed }, { perm: [0, 1, 3, 2] });
    const dx = runner.run("Conv2D", { x: dyp, filter: flipped }, { strides: [1, 1], pad: "valid", dataFormat: "NHWC", dilations: d, dimRoundingMode: undefined });
    return runner.finish(dx);
  } catch (error) {
    runner.finish({} as tf.TensorInfo);
    throw error;
  }
}

/** Kernel names of the dilation-aware gradients (registered on every back end that trains). */
const DILATED_FILTER_GRADIENT = "StudykitConv2DFilterGradient";
const DILATED_INPUT_GRADIENT = "StudykitConv2DInputGradient";
/** Kernel names of the dilation-aware gradients, as registered on every back end that trains. */
export const DILATED_GRADIENT_KERNELS = [DILATED_FILTER_GRADIENT, DILATED_INPUT_GRADIENT] as const;

/**
 * `conv2d` whose gradients come from the two functions above. Used for dilated convolutions, whose
 * gradient TF.js does not implement. Call `registerConvGradientKernels(backendName)` first.
 */
export function conv2dWithGradients(x: tf.Tensor4D, filter: tf.Tensor4D, strides: Pair, pad: "same" | "valid", dilations: Pair): tf.Tensor4D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xs = args[0] as tf.Tensor4D;
    const ws = args[1] as tf.Tensor4D;
    const save = args[2] as tf.GradSaveFunc;
    save([xs, ws]);
    return {
      value: tf.conv2d(xs, ws, strides, pad, "NHWC", dilations),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
        const attrs = { strides, pad, dilations, inputShape: sx.shape, filterShape: sw.shape };
        return [
          tf.engine().runKernel(DILATED_INPUT_GRADIENT, { dy, filter: sw }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor,
          tf.engine().runKernel(DILATED_FILTER_GRADIENT, { x: sx, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor,
        ];
      },
    };
  });
  return op(x, filter) as tf.Tensor4D;
}

/** Gradient kernels this module registers (or replaces) on `wasm` (`ResizeNearestNeighborGrad` also on `cpu`). */
export const WASM_TRAINING_KERNELS = ["Conv2DBackpropFilter", "Conv2DBackpropInput", "ResizeNearestNeighborGrad", "MaxPoolGrad"] as const;

/**
 * `MaxPoolGrad`: each output gradient goes to the first maximum of its window (row-major scan, strictly
 * greater wins, padding skipped; a window of only NaN or −∞ passes nothing), as tfjs-backend-cpu does.
 * Replaces the wasm kernel (a scalar C++ loop): this JS pass reads each window once and measured about
 * 1.4× faster on the reference model's first pool (32×64×64×32); tested equal to `cpu`, ties included.
 */
export function maxPoolGradKernel(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: tf.KernelBackend }): tf.TensorInfo {
  const dy = args.inputs["dy"]!;
  const input = args.inputs["input"]!;
  const attrs = (args.attrs ?? {}) as { filterSize: number | [number, number]; strides: number | [number, number]; pad: PadSpec; dimRoundingMode?: "floor" | "round" | "ceil" };
  const info = tf.backend_util.computePool2DInfo(input.shape as Quad, attrs.filterSize, attrs.strides, 1, attrs.pad as "same", attrs.dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, dilationHeight, dilationWidth, effectiveFilterHeight, effectiveFilterWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const x = args.backend.readSync(input.dataId) as Float32Array;
  const g = args.backend.readSync(dy.dataId) as Float32Array;
  const dx = new Float32Array(batchSize * inHeight * inWidth * c);
  const best = new Float64Array(c);
  const where = new Int32Array(c);
  for (let b = 0; b < batchSize; b++) {
    for (let r = 0; r < outHeight; r++) {
      const rowStart = r * strideHeight - top;
      for (let q = 0; q < outWidth; q++) {
        const colStart = q * strideWidth - left;
        best.fill(-Infinity);
        where.fill(-1);
        for (let wr = 0; wr < effectiveFilterHeight; wr += dilationHeight) {
          const xr = rowStart + wr;
          if (xr < 0 || xr >= inHeight) continue;
          for (let wc = 0; wc < effectiveFilterWidth; wc += dilationWidth) {
            const xc = colStart + wc;
            if (xc < 0 || xc >= inWidth) continue;
            const base = ((b * inHeight + xr) * inWidth + xc) * c;
            for (let k = 0; k < c; k++) {
              const v = x[base + k]!;
              if (v > best[k]!) {
                best[k] = v;
                where[k] = base + k;
              }
            }
          }
        }
        const from = ((b * outHeight + r) * outWidth + q) * c;
        for (let k = 0; k < c; k++) if (where[k]! >= 0) dx[where[k]!] = dx[where[k]!]! + g[from + k]!;
      }
    }
  }
  const shape = [batchSize, inHeight, inWidth, c];
  return { dataId: args.backend.write(dx, shape, "float32"), shape, dtype: "float32" };
}

/**
 * Source row (or column) of output position `out` in TF.js's nearest-neighbour resize, as its forward
 * kernels compute it (align_corners / half_pixel_centers conventions).
 */
function nearestSource(out: number, inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): number {
  const effectiveIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effectiveOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const scale = effectiveIn / effectiveOut;
  const fraction = halfPixelCenters ? scale * (out + 0.5) : scale * out;
  let source = Math.min(inSize - 1, alignCorners ? Math.round(fraction) : Math.floor(fraction));
  if (halfPixelCenters) source = Math.max(0, source);
  return source;
}

/**
 * `ResizeNearestNeighborGrad` as the exact adjoint of the forward resize: every output gradient is added
 * to the input pixel the forward pass read. Registered on `cpu` because tfjs-backend-cpu 4.22's kernel
 * gives wrong gradients for ×2 upsampling of batched multi-channel tensors (differences of order 1
 * against the block sums; found by our wasm-vs-cpu model test), and on `wasm` so both back ends share
 * one definition. A plain loop: one read and one add per output element.
 */
export function resizeNearestNeighborGradKernel(args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: tf.KernelBackend }): tf.TensorInfo {
  const images = args.inputs["images"]!;
  const dy = args.inputs["dy"]!;
  const attrs = (args.attrs ?? {}) as { alignCorners?: boolean; halfPixelCenters?: boolean };
  const [n, inH, inW, c] = images.shape as Quad;
  const [, outH, outW] = dy.shape as Quad;
  const dyValues = args.backend.readSync(dy.dataId) as Float32Array;
  const dx = new Float32Array(n * inH * inW * c);
  const rows = Int32Array.from({ length: outH }, (_, r) => nearestSource(r, inH, outH, attrs.alignCorners ?? false, attrs.halfPixelCenters ?? false));
  const cols = Int32Array.from({ length: outW }, (_, q) => nearestSource(q, inW, outW, attrs.alignCorners ?? false, attrs.halfPixelCenters ?? false));
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < outH; r++) {
      const inRow = (b * inH + rows[r]!) * inW;
      const outRow = (b * outH + r) * outW;
      for (let q = 0; q < outW; q++) {
        const to = (inRow + cols[q]!) * c;
        const from = (outRow + q) * c;
        for (let k = 0; k < c; k++) dx[to + k] = dx[to + k]! + dyValues[from + k]!;
      }
    }
  }
  const shape = [n, inH, inW, c];
  return { dataId: args.backend.write(dx, shape, "float32"), shape, dtype: "float32" };
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: tf.KernelBackend };

function attrsOf(args: KernelArgs, name: string): Record<string, unknown> {
  const attrs = (args.attrs ?? {}) as Record<string, unknown>;
  if (attrs["dataFormat"] === "NCHW") throw new Error(`${name} (studykit) supports NHWC only; studykit's models are channels-last`);
  return attrs;
}

const filterGradientKernel = (name: string) => (args: KernelArgs): tf.TensorInfo => {
  const a = attrsOf(args, name);
  return conv2dFilterGradientKernel(args.backend, args.inputs["x"]!, args.inputs["dy"]!, a["filterShape"] as Quad, a["strides"] as number[], a["pad"] as PadSpec, (a["dilations"] as number[] | undefined) ?? 1);
};
const inputGradientKernel = (name: string) => (args: KernelArgs): tf.TensorInfo => {
  const a = attrsOf(args, name);
  return conv2dInputGradientKernel(args.backend, args.inputs["dy"]!, args.inputs["filter"]!, a["inputShape"] as Quad, a["strides"] as number[], a["pad"] as PadSpec, (a["dilations"] as number[] | undefined) ?? 1);
};

function register(kernelName: string, backendName: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo): void {
  if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

const registeredBackends = new Set<string>();

/**
 * Registers the dilation-aware gradient kernels `conv2dWithGradients` uses on `backendName`, and on
 * `wasm` also the missing `Conv2DBackpropFilter` and a fast replacement for `Conv2DBackpropInput`.
 * Idempotent per back end.
 */
export function registerConvGradientKernels(backendName: string): void {
  if (registeredBackends.has(backendName)) return;
  register(DILATED_FILTER_GRADIENT, backendName, filterGradientKernel(DILATED_FILTER_GRADIENT));
  register(DILATED_INPUT_GRADIENT, backendName, inputGradientKernel(DILATED_INPUT_GRADIENT));
  if (backendName === "wasm") {
    register("Conv2DBackpropFilter", "wasm", filterGradientKernel("Conv2DBackpropFilter"));
    register("Conv2DBackpropInput", "wasm", inputGradientKernel("Conv2DBackpropInput"));
  }
  if (backendName === "wasm") register("MaxPoolGrad", "wasm", maxPoolGradKernel);
  // Convolutions on the native addon (two threads, AVX2) when it is loaded; the kernels above stay as fallback.
  if (backendName === "wasm") registerNativeConvKernels();
  if (backendName === "wasm" || backendName === "cpu") register("ResizeNearestNeighborGrad", backendName, resizeNearestNeighborGradKernel);
  registeredBackends.add(backendName);
}
