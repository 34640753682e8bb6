/**
 * A small builder for ONNX graphs with static shape tracking.
 *
 * Every value the builder creates carries its dtype and shape (a dimension may be `-1` where it is only
 * known at run time, e.g. the batch of an inference graph). The training compiler needs the shapes at
 * build time: gradients of broadcasting ops reduce over the broadcast axes, and those axes are fixed
 * when the graph is written rather than discovered with `Shape` ops at run time (fewer nodes, and ORT can
 * constant-fold what remains).
 */
import { OnnxGraphError } from "../../../errors.js";
import {
  encodeOnnxModel,
  ONNX_ATTRIBUTE_TYPE,
  ONNX_DATA_TYPE,
  ONNX_IR_VERSION,
  ONNX_OPSET_VERSION,
  type OnnxAttributeProto,
  type OnnxModelProto,
  type OnnxTensorProto,
} from "./onnx-proto.js";

export type GraphDType = "float32" | "float64" | "int64" | "bool";
export type FloatDType = "float32" | "float64";
export type Shape = readonly number[];

export interface ValueInfo {
  readonly dtype: GraphDType;
  readonly shape: Shape;
}

export type AttributeValue = number | string | readonly number[] | { readonly floats: readonly number[] } | { readonly float: number };

export interface GraphNode {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly domain: string;
}

interface Initializer {
  readonly dtype: GraphDType;
  readonly dims: Shape;
  readonly data: Float32Array | Float64Array | BigInt64Array | Uint8Array;
}

const DTYPE_CODE: Record<GraphDType, number> = {
  float32: ONNX_DATA_TYPE.FLOAT,
  float64: ONNX_DATA_TYPE.DOUBLE,
  int64: ONNX_DATA_TYPE.INT64,
  bool: ONNX_DATA_TYPE.BOOL,
};

export const product = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

/** Numpy broadcasting of two static shapes (`-1` stays `-1` unless the other side pins it). */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else if (x === -1 || y === -1) out.push(Math.max(x, y));
    else throw new OnnxGraphError(`cannot broadcast shapes [${a.join(",")}] and [${b.join(",")}]`);
  }
  return out;
}

const ELEMENTWISE_BINARY = new Set(["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"]);
const COMPARISON = new Set(["Greater", "Less", "Equal", "GreaterOrEqual", "LessOrEqual"]);
const ELEMENTWISE_UNARY = new Set([
  "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Sqrt", "Abs", "Log", "Exp", "Neg", "Sign", "Reciprocal", "Identity", "Cos", "Sin",
]);

/** Builds one ONNX graph; `toModelBytes()` serialises it as a model. */
export class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly values = new Map<string, ValueInfo>();
  /** Known values of constant tensors (shapes, axes, scalars) by name. */
  readonly constants = new Map<string, readonly number[]>();
  private readonly initializers = new Map<string, Initializer>();
  private readonly inputs: Array<{ name: string; dimNames: ReadonlyArray<string | undefined> }> = [];
  private readonly outputs: string[] = [];
  private readonly constantKeys = new Map<string, string>();
  private counter = 0;

  /**
   * ONNX Runtime's NCHWc block size (channels per block) when this graph uses the CPU provider's blocked
   * `com.microsoft.nchwc` ops; shape inference pads their channel dimension to a multiple of it.
   */
  nchwcBlock = 0;

  constructor(
    readonly graphName: string,
    readonly floatType: FloatDType = "float32",
  ) {}

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}__${this.counter++}`;
  }

  info(name: string): ValueInfo {
    const info = this.values.get(name);
    if (!info) throw new OnnxGraphError(`unknown value ${JSON.stringify(name)}`);
    return info;
  }

  shape(name: string): Shape {
    return this.info(name).shape;
  }

  /** Declares a graph input; `dimNames[i]` names a dynamic dimension (shape entry -1). */
  addInput(name: string, dtype: GraphDType, shape: Shape, dimNames: ReadonlyArray<string | undefined> = []): string {
    this.define(name, { dtype, shape });
    this.inputs.push({ name, dimNames });
    return name;
  }

  addOutput(name: string): void {
    this.info(name);
    if (this.outputs.includes(name)) throw new OnnxGraphError(`duplicate graph output ${name}`);
    this.outputs.push(name);
  }

  /** Adds a named initializer (weights). */
  addInitializer(name: string, dtype: GraphDType, dims: Shape, data: Initializer["data"]): string {
    if (data.length !== product(dims)) throw new OnnxGraphError(`initializer ${name}: ${data.length} values for shape [${dims.join(",")}]`);
    this.define(name, { dtype, shape: dims });
    this.initializers.set(name, { dtype, dims, data });
    return name;
  }

  /** A float constant in the graph's float type (deduplicated by value). */
  constFloat(values: number | readonly number[] | Float32Array | Float64Array, dims?: Shape): string {
    const array = typeof values === "number" ? [values] : Array.from(values);
    const shape = dims ?? (typeof values === "number" ? [] : [array.length]);
    const data = this.floatType === "float64" ? Float64Array.from(array) : Float32Array.from(array);
    return this.constant(this.floatType, shape, data, array);
  }

  /** A float32 constant whatever the graph's float type (Resize scales are always float32). */
  constFloat32(values: readonly number[], dims?: Shape): string {
    return this.constant("float32", dims ?? [values.length], Float32Array.from(values), values);
  }

  /** An int64 constant (shapes, axes, indices), deduplicated by value. */
  constInt64(values: readonly number[], dims?: Shape): string {
    const shape = dims ?? [values.length];
    return this.constant("int64", shape, BigInt64Array.from(values.map((v) => BigInt(v))), values);
  }

  private constant(dtype: GraphDType, dims: Shape, data: Initializer["data"], values: readonly number[]): string {
    // Small constants are keyed by value so identical ones are shared; large ones get their own name.
    const key = values.length <= 64 ? `${dtype}|${dims.join(",")}|${values.join(",")}` : undefined;
    const existing = key === undefined ? undefined : this.constantKeys.get(key);
    if (existing !== undefined) return existing;
    const name = this.fresh("const");
    this.addInitializer(name, dtype, dims, data);
    if (values.length <= 64) this.constants.set(name, values);
    if (key !== undefined) this.constantKeys.set(key, name);
    return name;
  }

  private define(name: string, info: ValueInfo): void {
    if (this.values.has(name)) throw new OnnxGraphError(`value ${JSON.stringify(name)} defined twice`);
    this.values.set(name, info);
  }

  /** Appends a node and returns its outputs (shapes inferred). */
  node(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}, options: { outputs?: number; names?: readonly string[]; domain?: string } = {}): string[] {
    for (const input of inputs) if (input !== "") this.info(input);
    const count = options.names?.length ?? options.outputs ?? 1;
    const outputs = options.names ? [...options.names] : Array.from({ length: count }, () => this.fresh(opType.toLowerCase()));
    const infos = options.domain === NCHWC_DOMAIN ? this.inferNchwcShapes(opType, inputs, attributes) : this.inferShapes(opType, inputs, attributes, count);
    outputs.forEach((name, i) => this.define(name, infos[i]!));
    this.nodes.push({ opType, inputs: [...inputs], outputs, attributes, domain: options.domain ?? "" });
    return outputs;
  }

  /** Appends a single-output node and returns its output. */
  op(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue> = {}, name?: string): string {
    return this.node(opType, inputs, attributes, name === undefined ? {} : { names: [name] })[0]!;
  }

  /** Channels of a blocked (NCHWc) tensor holding `channels` real ones. */
  nchwcChannels(channels: number): number {
    if (channels === -1) return -1;
    if (this.nchwcBlock < 1) throw new OnnxGraphError("NCHWc ops need the builder's nchwcBlock");
    return Math.ceil(channels / this.nchwcBlock) * this.nchwcBlock;
  }

  private inferNchwcShapes(opType: string, inputs: readonly string[], attrs: Record<string, AttributeValue>): ValueInfo[] {
    const x = this.info(inputs[0]!);
    const [n, c, ...spatial] = x.shape as [number, number, ...number[]];
    switch (opType) {
      case "ReorderInput":
        // channels_last = 1 reads NHWC; the blocked result is always N, C', H, W.
        return attrs.channels_last === 1
          ? [{ dtype: x.dtype, shape: [n, this.nchwcChannels(x.shape[x.shape.length - 1]!), ...x.shape.slice(1, -1)] }]
          : [{ dtype: x.dtype, shape: [n, this.nchwcChannels(c), ...spatial] }];
      case "ReorderOutput":
        return [{ dtype: x.dtype, shape: attrs.channels_last === 1 ? [n, ...spatial, attrs.channels as number] : [n, attrs.channels as number, ...spatial] }];
      case "Conv":
      case "MaxPool":
      case "AveragePool": {
        const [info] = this.inferShapes(opType, inputs, attrs, 1);
        return [info!];
      }
      case "Upsample": {
        const scales = attrs.scales as readonly number[];
        return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (d === -1 ? -1 : d * scales[i]!)) }];
      }
      default:
        throw new OnnxGraphError(`no shape rule for op ${NCHWC_DOMAIN}.${opType}`);
    }
  }

  private constValues(name: string, what: string): readonly number[] {
    const values = this.constants.get(name);
    if (values === undefined) throw new OnnxGraphError(`${what} must be a constant, got ${name}`);
    return values;
  }

  private inferShapes(opType: string, inputs: readonly string[], attrs: Record<string, AttributeValue>, count: number): ValueInfo[] {
    const first = inputs[0] === undefined ? undefined : this.values.get(inputs[0]);
    const x = first ?? { dtype: this.floatType, shape: [] };
    const intAttr = (key: string, fallback: number): number => (attrs[key] === undefined ? fallback : (attrs[key] as number));
    const intsAttr = (key: string): readonly number[] | undefined => attrs[key] as readonly number[] | undefined;
    if (ELEMENTWISE_UNARY.has(opType)) return [x];
    if (ELEMENTWISE_BINARY.has(opType)) return [{ dtype: x.dtype, shape: broadcastShapes(x.shape, this.shape(inputs[1]!)) }];
    if (COMPARISON.has(opType)) return [{ dtype: "bool", shape: broadcastShapes(x.shape, this.shape(inputs[1]!)) }];
    switch (opType) {
      case "Where": {
        const b = this.info(inputs[1]!);
        return [{ dtype: b.dtype, shape: broadcastShapes(broadcastShapes(x.shape, b.shape), this.shape(inputs[2]!)) }];
      }
      case "Cast": {
        const to = intAttr("to", 0);
        const dtype = (Object.keys(DTYPE_CODE) as GraphDType[]).find((k) => DTYPE_CODE[k] === to);
        if (!dtype) throw new OnnxGraphError(`Cast to unsupported type ${to}`);
        return [{ dtype, shape: x.shape }];
      }
      case "Conv":
      case "MaxPool":
      case "AveragePool": {
        const w = opType === "Conv" ? this.shape(inputs[1]!) : undefined;
        const kernel = w ? w.slice(2) : intsAttr("kernel_shape")!;
        const spatial = x.shape.length - 2;
        const strides = intsAttr("strides") ?? Array(spatial).fill(1);
        const dilations = intsAttr("dilations") ?? Array(spatial).fill(1);
        const pads = intsAttr("pads") ?? Array(2 * spatial).fill(0);
        const dims = kernel.map((k, i) => {
          const size = x.shape[2 + i]!;
          if (size === -1) return -1;
          return Math.floor((size + pads[i]! + pads[i + spatial]! - ((k - 1) * dilations[i]! + 1)) / strides[i]!) + 1;
        });
        const channels = w ? w[0]! : x.shape[1]!;
        return Array.from({ length: count }, (_, i) => ({ dtype: i === 0 ? x.dtype : "int64", shape: [x.shape[0]!, channels, ...dims] }));
      }
      case "ConvTranspose": {
        const w = this.shape(inputs[1]!);
        const kernel = w.slice(2);
        const strides = intsAttr("strides") ?? kernel.map(() => 1);
        const dilations = intsAttr("dilations") ?? kernel.map(() => 1);
        const pads = intsAttr("pads") ?? [...kernel, ...kernel].map(() => 0);
        const outputPadding = intsAttr("output_padding") ?? kernel.map(() => 0);
        const dims = kernel.map((k, i) => {
          const size = x.shape[2 + i]!;
          return size === -1 ? -1 : strides[i]! * (size - 1) + outputPadding[i]! + (k - 1) * dilations[i]! + 1 - pads[i]! - pads[i + kernel.length]!;
        });
        return [{ dtype: x.dtype, shape: [x.shape[0]!, w[1]! * intAttr("group", 1), ...dims] }];
      }
      case "MaxUnpool": {
        // Without an output_shape input: each spatial size grows back to (size − 1)·stride + kernel − pads.
        const kernel = intsAttr("kernel_shape")!;
        const strides = intsAttr("strides") ?? kernel.map(() => 1);
        const pads = intsAttr("pads") ?? [...kernel, ...kernel].map(() => 0);
        const dims = kernel.map((k, i) => {
          const size = x.shape[2 + i]!;
          return size === -1 ? -1 : (size - 1) * strides[i]! + k - pads[i]! - pads[i + kernel.length]!;
        });
        return [{ dtype: x.dtype, shape: [x.shape[0]!, x.shape[1]!, ...dims] }];
      }
      case "Resize": {
        const scales = this.constValues(inputs[2]!, "Resize scales");
        return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (d === -1 ? -1 : Math.floor(d * scales[i]!))) }];
      }
      case "MatMul": {
        const b = this.shape(inputs[1]!);
        if (x.shape.length < 2 || b.length < 2) throw new OnnxGraphError("MatMul builder supports rank >= 2 only");
        const batch = broadcastShapes(x.shape.slice(0, -2), b.slice(0, -2));
        return [{ dtype: x.dtype, shape: [...batch, x.shape[x.shape.length - 2]!, b[b.length - 1]!] }];
      }
      case "Gemm": {
        const b = this.shape(inputs[1]!);
        const m = intAttr("transA", 0) ? x.shape[1]! : x.shape[0]!;
        const n = intAttr("transB", 0) ? b[0]! : b[1]!;
        return [{ dtype: x.dtype, shape: [m, n] }];
      }
      case "Reshape": {
        const target = this.constValues(inputs[1]!, "Reshape shape");
        const known = target.map((d, i) => (d === 0 ? x.shape[i]! : d));
        const rest = known.filter((d) => d !== -1);
        if (known.includes(-1)) {
          const total = product(x.shape);
          if (total < 0 || x.shape.includes(-1)) return [{ dtype: x.dtype, shape: known }];
          return [{ dtype: x.dtype, shape: known.map((d) => (d === -1 ? total / product(rest) : d)) }];
        }
        return [{ dtype: x.dtype, shape: known }];
      }
      case "Transpose": {
        const perm = intsAttr("perm") ?? x.shape.map((_, i) => x.shape.length - 1 - i);
        return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }];
      }
      case "DepthToSpace":
      case "SpaceToDepth": {
        // Spatial dims grow (DepthToSpace) or shrink (SpaceToDepth) by the block, channels the other way by its square.
        const block = intAttr("blocksize", 0);
        const [grow, shrink] = opType === "DepthToSpace" ? [block, 1] : [1, block];
        const [n, c, h, w] = x.shape;
        const scaled = (d: number | undefined, by: number, over: number) => (d === undefined || d < 0 ? -1 : (d * by) / over);
        return [{ dtype: x.dtype, shape: [n!, scaled(c, shrink * shrink, grow * grow), scaled(h, grow, shrink), scaled(w, grow, shrink)] }];
      }
      case "Concat": {
        const axis = normAxis(intAttr("axis", 0), x.shape.length);
        const shape = [...x.shape];
        shape[axis] = inputs.reduce((sum, name) => {
          const d = this.shape(name)[axis]!;
          return sum === -1 || d === -1 ? -1 : sum + d;
        }, 0);
        return [{ dtype: x.dtype, shape }];
      }
      case "Split": {
        const axis = normAxis(intAttr("axis", 0), x.shape.length);
        const sizes = inputs[1] ? this.constValues(inputs[1], "Split sizes") : Array(count).fill(x.shape[axis]! / count);
        return sizes.map((size) => {
          const shape = [...x.shape];
          shape[axis] = size;
          return { dtype: x.dtype, shape };
        });
      }
      case "Slice": {
        const starts = this.constValues(inputs[1]!, "Slice starts");
        const ends = this.constValues(inputs[2]!, "Slice ends");
        const axes = inputs[3] ? this.constValues(inputs[3], "Slice axes") : starts.map((_, i) => i);
        const steps = inputs[4] ? this.constValues(inputs[4], "Slice steps") : starts.map(() => 1);
        const shape = [...x.shape];
        axes.forEach((a, i) => {
          const axis = normAxis(a, shape.length);
          const size = x.shape[axis]!;
          const step = steps[i]!;
          const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v < 0 ? v + size : v, lo), hi);
          const start = step > 0 ? clamp(starts[i]!, 0, size) : clamp(starts[i]!, -1, size - 1);
          const end = step > 0 ? clamp(ends[i]!, 0, size) : clamp(ends[i]!, -1, size - 1);
          shape[axis] = Math.max(0, Math.ceil((end - start) / step));
        });
        return [{ dtype: x.dtype, shape }];
      }
      case "Pad": {
        const pads = this.constValues(inputs[1]!, "Pad pads");
        const rank = x.shape.length;
        return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (d === -1 ? -1 : d + pads[i]! + pads[i + rank]!)) }];
      }
      case "ReduceSum":
      case "ReduceMean":
      case "ReduceMax": {
        const axes = (opType === "ReduceMean" || opType === "ReduceMax" ? intsAttr("axes") : inputs[1] ? this.constValues(inputs[1], "ReduceSum axes") : undefined) ?? x.shape.map((_, i) => i);
        const keep = intAttr("keepdims", 1) === 1;
        const normalized = axes.map((a) => normAxis(a, x.shape.length));
        const shape: number[] = [];
        x.shape.forEach((d, i) => {
          if (!normalized.includes(i)) shape.push(d);
          else if (keep) shape.push(1);
        });
        return [{ dtype: x.dtype, shape }];
      }
      case "ScatterElements":
        return [x];
      case "Expand": {
        return [{ dtype: x.dtype, shape: broadcastShapes(x.shape, this.constValues(inputs[1]!, "Expand shape")) }];
      }
      case "Unsqueeze": {
        const axes = this.constValues(inputs[1]!, "Unsqueeze axes");
        const rank = x.shape.length + axes.length;
        const normalized = axes.map((a) => normAxis(a, rank));
        const shape: number[] = [];
        let j = 0;
        for (let i = 0; i < rank; i++) shape.push(normalized.includes(i) ? 1 : x.shape[j++]!);
        return [{ dtype: x.dtype, shape }];
      }
      default:
        throw new OnnxGraphError(`no shape rule for op ${opType}`);
    }
  }

  /** The ONNX model (protobuf bytes) for this graph. */
  toModelBytes(options: { docString?: string; metadata?: Record<string, string> } = {}): Uint8Array {
    return encodeOnnxModel(this.toModelProto(options));
  }

  toModelProto(options: { docString?: string; metadata?: Record<string, string> } = {}): OnnxModelProto {
    const valueInfo = (name: string, dimNames: ReadonlyArray<string | undefined> = []) => {
      const info = this.info(name);
      return {
        name,
        type: {
          tensorType: {
            elemType: DTYPE_CODE[info.dtype],
            shape: { dim: info.shape.map((d, i) => (d === -1 ? { dimParam: dimNames[i] ?? `dim_${i}` } : { dimValue: d })) },
          },
        },
      };
    };
    const inputDimNames = new Map(this.inputs.map((i) => [i.name, i.dimNames]));
    // Outputs whose leading dimension is dynamic share the first input's name for it (the batch).
    const batchName = this.inputs.find((i) => i.dimNames[0] !== undefined)?.dimNames[0];
    const initializer: OnnxTensorProto[] = [...this.initializers].map(([name, init]) => ({
      name,
      dims: [...init.dims],
      dataType: DTYPE_CODE[init.dtype],
      rawData: toLittleEndianBytes(init.data),
    }));
    return {
      irVersion: ONNX_IR_VERSION,
      producerName: "studykit",
      producerVersion: "1",
      ...(options.docString === undefined ? {} : { docString: options.docString }),
      opsetImport: [{ domain: "", version: ONNX_OPSET_VERSION }, ...[...new Set(this.nodes.map((n) => n.domain).filter((d) => d !== ""))].map((domain) => ({ domain, version: 1 }))],
      graph: {
        name: this.graphName,
        node: this.nodes.map((node, i) => ({
          input: [...node.inputs],
          output: [...node.outputs],
          name: `${node.opType}_${i}`,
          opType: node.opType,
          ...(node.domain === "" ? {} : { domain: node.domain }),
          attribute: Object.entries(node.attributes).map(([name, value]) => encodeAttribute(name, value)),
        })),
        initializer,
        input: this.inputs.map((i) => valueInfo(i.name, inputDimNames.get(i.name))),
        output: this.outputs.map((name) => valueInfo(name, batchName === undefined ? [] : [batchName])),
      },
      ...(options.metadata === undefined ? {} : { metadataProps: Object.entries(options.metadata).map(([key, value]) => ({ key, value })) }),
    };
  }
}

/** ONNX Runtime's domain of blocked-layout CPU kernels (ReorderInput/Output, Conv, MaxPool, Upsample). */
export const NCHWC_DOMAIN = "com.microsoft.nchwc";

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function encodeAttribute(name: string, value: AttributeValue): OnnxAttributeProto {
  if (typeof value === "number") {
    return Number.isInteger(value) ? { name, type: ONNX_ATTRIBUTE_TYPE.INT, i: value } : { name, type: ONNX_ATTRIBUTE_TYPE.FLOAT, f: value };
  }
  if (typeof value === "string") return { name, type: ONNX_ATTRIBUTE_TYPE.STRING, s: new TextEncoder().encode(value) };
  if ("floats" in value) return { name, type: ONNX_ATTRIBUTE_TYPE.FLOATS, floats: [...value.floats] };
  if ("float" in value) return { name, type: ONNX_ATTRIBUTE_TYPE.FLOAT, f: value.float };
  return { name, type: ONNX_ATTRIBUTE_TYPE.INTS, ints: [...(value as readonly number[])] };
}

/** Raw tensor bytes are little-endian per the ONNX spec; copy so we never alias a caller's buffer. */
function toLittleEndianBytes(data: Initializer["data"]): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    const size = data.BYTES_PER_ELEMENT;
    for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
  }
  return bytes;
}

/**
 * The OIHW kernel `w` flipped in both spatial axes, inputs and outputs swapped: the filter of a stride-1
 * Conv's input gradient. The flip reverses the flattened taps with a MatMul by a constant 0/1 matrix
 * (exact): ORT's Slice with negative steps copies one element at a time, ~4× slower for these kernels.
 */
export function flippedSwappedKernel(b: GraphBuilder, w: string): string {
  const [o, c, kh, kw] = b.shape(w) as [number, number, number, number];
  const taps = kh * kw;
  const reverse = new Array<number>(taps * taps).fill(0);
  for (let t = 0; t < taps; t++) reverse[t * taps + (taps - 1 - t)] = 1;
  const flipped = b.op("MatMul", [b.op("Reshape", [w, b.constInt64([o * c, taps])]), b.constFloat(reverse, [taps, taps])]);
  return b.op("Transpose", [b.op("Reshape", [flipped, b.constInt64([o, c, kh, kw])])], { perm: [1, 0, 2, 3] });
}

/**
 * The input gradient of a strided (or dilated) 2-D Conv: a ConvTranspose of its NCHW output gradient `g`
 * with its OIHW filter `w`, whose output_padding makes up the rows and columns at the input's far edges
 * (`inputSize`, [H, W]) that no output read at this stride.
 */
export function convTransposeToInput(
  b: GraphBuilder,
  g: string,
  w: string,
  inputSize: readonly number[],
  geometry: { kernel: readonly number[]; strides: readonly number[]; dilations: readonly number[]; pads: readonly number[] },
): string {
  const { kernel, strides, dilations, pads } = geometry;
  const gShape = b.shape(g);
  const outputPadding = kernel.map((k, i) => inputSize[i]! - (strides[i]! * (gShape[2 + i]! - 1) + (k - 1) * dilations[i]! + 1 - pads[i]! - pads[i + kernel.length]!));
  return b.op("ConvTranspose", [g, w], { kernel_shape: [...kernel], strides: [...strides], dilations: [...dilations], pads: [...pads], output_padding: outputPadding });
}
