import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeOnnxModel, encodeOnnxModel, ONNX_ATTRIBUTE_TYPE, ONNX_DATA_TYPE, type OnnxModelProto } from "./onnx-proto.js";

const name = fc.string({ minLength: 1, maxLength: 12 });
const tensor = fc.record({
  name,
  dims: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }),
  dataType: fc.constantFrom(ONNX_DATA_TYPE.FLOAT, ONNX_DATA_TYPE.INT64, ONNX_DATA_TYPE.DOUBLE),
  rawData: fc.uint8Array({ maxLength: 40 }),
});
const attribute = fc.oneof(
  fc.record({ name, type: fc.constant(ONNX_ATTRIBUTE_TYPE.INT), i: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }) }),
  fc.record({ name, type: fc.constant(ONNX_ATTRIBUTE_TYPE.FLOAT), f: fc.float({ noNaN: true, noDefaultInfinity: true }).map(Math.fround) }),
  fc.record({ name, type: fc.constant(ONNX_ATTRIBUTE_TYPE.INTS), ints: fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 5 }) }),
  fc.record({ name, type: fc.constant(ONNX_ATTRIBUTE_TYPE.STRING), s: fc.uint8Array({ minLength: 1, maxLength: 10 }) }),
);
const model: fc.Arbitrary<OnnxModelProto> = fc.record({
  irVersion: fc.integer({ min: 1, max: 10 }),
  producerName: name,
  producerVersion: name,
  opsetImport: fc.array(fc.record({ domain: fc.string({ maxLength: 5 }), version: fc.integer({ min: 1, max: 30 }) }), { minLength: 1, maxLength: 2 }),
  graph: fc.record({
    name,
    node: fc.array(fc.record({ input: fc.array(name, { maxLength: 3 }), output: fc.array(name, { minLength: 1, maxLength: 2 }), name, opType: name, attribute: fc.array(attribute, { maxLength: 3 }) }), { maxLength: 4 }),
    initializer: fc.array(tensor, { maxLength: 3 }),
    input: fc.array(fc.record({ name, type: fc.record({ tensorType: fc.record({ elemType: fc.constant(1), shape: fc.record({ dim: fc.array(fc.oneof(fc.record({ dimValue: fc.integer({ min: 1, max: 100 }) }), fc.record({ dimParam: name })), { maxLength: 4 }) }) }) }) }), { maxLength: 2 }),
    output: fc.constant([]),
  }),
});

describe("ONNX protobuf encoding", () => {
  it("writes an attribute's value field even when it is zero (proto2 presence, required by onnx.checker)", () => {
    const zeroAttributes: OnnxModelProto = {
      irVersion: 8,
      producerName: "studykit",
      producerVersion: "0",
      opsetImport: [{ domain: "", version: 17 }],
      graph: {
        name: "g",
        node: [{ input: ["x"], output: ["y"], name: "n", opType: "Concat", attribute: [{ name: "axis", type: ONNX_ATTRIBUTE_TYPE.INT, i: 0 }, { name: "alpha", type: ONNX_ATTRIBUTE_TYPE.FLOAT, f: 0 }] }],
        initializer: [],
        input: [],
        output: [],
      },
    };
    const [axis, alpha] = decodeOnnxModel(encodeOnnxModel(zeroAttributes)).graph.node[0]!.attribute;
    expect(axis).toMatchObject({ name: "axis", i: 0 });
    expect(alpha).toMatchObject({ name: "alpha", f: 0 });
  });

  it("round-trips every message field it writes", () => {
    fc.assert(
      fc.property(model, (m) => {
        const decoded = decodeOnnxModel(encodeOnnxModel(m));
        expect(decoded.irVersion).toBe(m.irVersion);
        expect(decoded.producerName).toBe(m.producerName);
        expect(decoded.opsetImport.map((o) => [o.domain ?? "", o.version])).toEqual(m.opsetImport.map((o) => [o.domain, o.version]));
        expect(decoded.graph.name).toBe(m.graph.name);
        expect((decoded.graph.node ?? []).map((n) => [n.opType, n.input ?? [], n.output, (n.attribute ?? []).map((a) => a.name)])).toEqual(m.graph.node.map((n) => [n.opType, n.input, n.output, n.attribute.map((a) => a.name)]));
        (decoded.graph.node ?? []).forEach((n, k) =>
          (n.attribute ?? []).forEach((a, j) => {
            const original = m.graph.node[k]!.attribute[j]!;
            expect(a.type).toBe(original.type);
            if (original.i !== undefined) expect(a.i).toBe(original.i);
            if (original.f !== undefined) expect(a.f).toBe(original.f);
            if (original.ints !== undefined) expect(a.ints).toEqual(original.ints);
            if (original.s !== undefined) expect(Array.from(a.s!)).toEqual(Array.from(original.s));
          }),
        );
        (decoded.graph.initializer ?? []).forEach((t, k) => {
          const original = m.graph.initializer[k]!;
          expect([t.name, t.dims ?? [], t.dataType]).toEqual([original.name, original.dims, original.dataType]);
          expect(Array.from(t.rawData ?? [])).toEqual(Array.from(original.rawData));
        });
        expect((decoded.graph.input ?? []).map((i) => i.type.tensorType.shape.dim)).toEqual(m.graph.input.map((i) => i.type.tensorType.shape.dim));
      }),
      { numRuns: 200 },
    );
  });

  it("writes the field numbers of onnx.proto (ModelProto.ir_version = 1, graph = 7, opset_import = 8)", () => {
    const bytes = encodeOnnxModel({ irVersion: 8, producerName: "", producerVersion: "", opsetImport: [{ domain: "", version: 17 }], graph: { name: "g", node: [], initializer: [], input: [], output: [] } });
    // tag (field 1, varint) = 0x08, value 8; graph: tag (7, length-delimited) = 0x3a; opset: tag (8, LEN) = 0x42.
    expect(bytes[0]).toBe(0x08);
    expect(bytes[1]).toBe(8);
    expect(Array.from(bytes)).toContain(0x3a);
    expect(Array.from(bytes)).toContain(0x42);
  });
});
