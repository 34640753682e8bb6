/**
 * The subset of `onnx.proto` (ONNX IR, https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) that studykit
 * writes, as a protobufjs reflection descriptor, and the encoder built on it.
 *
 * Hand-written rather than generated: the full schema (and the `onnx-proto` package's generated code) is
 * large, and we only emit models, never parse foreign ones. Field numbers and enum values are the ones the
 * ONNX spec fixes; the message and field names follow the spec so a reader can check them side by side.
 * Encoding is deterministic: protobufjs writes fields in declaration order and we never use maps.
 */
import protobuf from "protobufjs";

/** `TensorProto.DataType` values used by studykit. */
export const ONNX_DATA_TYPE = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  DOUBLE: 11,
} as const;
export type OnnxDataTypeName = keyof typeof ONNX_DATA_TYPE;

/** `AttributeProto.AttributeType` values. */
export const ONNX_ATTRIBUTE_TYPE = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

/** IR version 8 goes with opset 17 (ONNX 1.12+); ONNX Runtime 1.30 and onnx 1.13's checker accept it. */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET_VERSION = 17;

const descriptor = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: "int64", id: 1 },
            producerName: { type: "string", id: 2 },
            producerVersion: { type: "string", id: 3 },
            domain: { type: "string", id: 4 },
            modelVersion: { type: "int64", id: 5 },
            docString: { type: "string", id: 6 },
            graph: { type: "GraphProto", id: 7 },
            opsetImport: { rule: "repeated", type: "OperatorSetIdProto", id: 8 },
            metadataProps: { rule: "repeated", type: "StringStringEntryProto", id: 14 },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: "string", id: 1 }, version: { type: "int64", id: 2 } },
        },
        StringStringEntryProto: {
          fields: { key: { type: "string", id: 1 }, value: { type: "string", id: 2 } },
        },
        GraphProto: {
          fields: {
            node: { rule: "repeated", type: "NodeProto", id: 1 },
            name: { type: "string", id: 2 },
            initializer: { rule: "repeated", type: "TensorProto", id: 5 },
            docString: { type: "string", id: 10 },
            input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
            output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
            valueInfo: { rule: "repeated", type: "ValueInfoProto", id: 13 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: "repeated", type: "string", id: 1 },
            output: { rule: "repeated", type: "string", id: 2 },
            name: { type: "string", id: 3 },
            opType: { type: "string", id: 4 },
            attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
            docString: { type: "string", id: 6 },
            domain: { type: "string", id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            s: { type: "bytes", id: 4 },
            t: { type: "TensorProto", id: 5 },
            g: { type: "GraphProto", id: 6 },
            floats: { rule: "repeated", type: "float", id: 7 },
            ints: { rule: "repeated", type: "int64", id: 8 },
            strings: { rule: "repeated", type: "bytes", id: 9 },
            docString: { type: "string", id: 13 },
            type: { type: "int32", id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: "repeated", type: "int64", id: 1 },
            dataType: { type: "int32", id: 2 },
            name: { type: "string", id: 8 },
            rawData: { type: "bytes", id: 9 },
            docString: { type: "string", id: 12 },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: "string", id: 1 },
            type: { type: "TypeProto", id: 2 },
            docString: { type: "string", id: 3 },
          },
        },
        TypeProto: {
          fields: { tensorType: { type: "TypeProtoTensor", id: 1 }, denotation: { type: "string", id: 6 } },
        },
        // `TypeProto.Tensor` in the spec; flattened to a sibling because only its fields go on the wire.
        TypeProtoTensor: {
          fields: { elemType: { type: "int32", id: 1 }, shape: { type: "TensorShapeProto", id: 2 } },
        },
        TensorShapeProto: {
          fields: { dim: { rule: "repeated", type: "TensorShapeDimension", id: 1 } },
        },
        // `TensorShapeProto.Dimension`: `dim_value` and `dim_param` form a oneof; we set exactly one.
        TensorShapeDimension: {
          fields: {
            dimValue: { type: "int64", id: 1 },
            dimParam: { type: "string", id: 2 },
            denotation: { type: "string", id: 3 },
          },
        },
      },
    },
  },
};

let modelType: protobuf.Type | undefined;

/**
 * onnx.proto is proto2: a singular field that is set is written even when it holds its default (an INT
 * attribute `axis = 0` must carry `i`, or onnx.checker refuses it as "no value field"). protobufjs 8 reads
 * an unlabelled JSON descriptor with implicit presence, so every message is marked proto2 explicitly; the
 * edition does not propagate from the enclosing namespace, hence per message.
 */
function withProto2Presence<T extends { nested: { onnx: { nested: Record<string, object> } } }>(json: T): T {
  for (const message of Object.values(json.nested.onnx.nested)) Object.assign(message, { edition: "proto2" });
  return json;
}

function getModelType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(withProto2Presence(descriptor)).lookupType("onnx.ModelProto");
  return modelType;
}

/** Plain-object forms of the messages (camelCase field names, as protobufjs expects). */
export interface OnnxTensorProto {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}
export interface OnnxAttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensorProto;
  floats?: number[];
  ints?: number[];
}
export interface OnnxNodeProto {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain?: string;
  attribute: OnnxAttributeProto[];
}
export interface OnnxValueInfoProto {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: Array<{ dimValue: number } | { dimParam: string }> } } };
}
export interface OnnxGraphProto {
  name: string;
  node: OnnxNodeProto[];
  initializer: OnnxTensorProto[];
  input: OnnxValueInfoProto[];
  output: OnnxValueInfoProto[];
  docString?: string;
}
export interface OnnxModelProto {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  graph: OnnxGraphProto;
  opsetImport: Array<{ domain: string; version: number }>;
  metadataProps?: Array<{ key: string; value: string }>;
}

/** Serialises a model to ONNX protobuf bytes. */
export function encodeOnnxModel(model: OnnxModelProto): Uint8Array {
  const type = getModelType();
  const message = type.fromObject(model);
  return type.encode(message).finish();
}

/** Decodes bytes written by {@link encodeOnnxModel} (used by tests and to read back a bundle's model). */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModelProto {
  const type = getModelType();
  return type.toObject(type.decode(bytes), { longs: Number, bytes: Uint8Array as unknown as typeof Array, defaults: false, arrays: true }) as OnnxModelProto;
}
