import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { encodeNpyPreamble, parseNpyHeader } from "./npy-header.js";
import { parsePythonLiteral } from "./python-literal.js";

function npyWithHeader(header: string, data = 0, major = 1): Uint8Array {
  const text = Buffer.from(header, major === 3 ? "utf8" : "latin1");
  const prefix = major === 1 ? 10 : 12;
  const out = Buffer.alloc(prefix + text.length + data);
  out.write("\x93NUMPY", 0, "latin1");
  out[6] = major;
  if (major === 1) out.writeUInt16LE(text.length, 8);
  else out.writeUInt32LE(text.length, 8);
  text.copy(out, prefix);
  return out;
}

const parse = (header: string, data = 8) => parseNpyHeader(npyWithHeader(header, data), npyWithHeader(header, data).length, "test.npy");

describe("npy header parser", () => {
  it("reads the dict numpy writes, whitespace and key order aside", () => {
    const header = parse("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }          \n");
    expect(header.dtype.descr).toBe("<f8");
    expect(header.shape).toEqual([1]);
    expect(parse('{"shape": (), "fortran_order": True, "descr": ">i4"}\n', 4).fortranOrder).toBe(true);
    expect(parse("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 0, 3), }\n", 0).shape).toEqual([2, 0, 3]);
  });

  it.each([
    ["{'descr': '<f8', 'fortran_order': False, 'shape': 1, }", /'shape' must be a tuple.*got 1/],
    ["{'descr': '<f8', 'fortran_order': 'no', 'shape': (1,), }", /'fortran_order' must be True or False, got 'no'/],
    ["{'descr': 8, 'fortran_order': False, 'shape': (1,), }", /'descr' must be a string.*got 8/],
    ["{'descr': '<f8', 'fortran_order': False, 'shape': (1.5,), }", /not a plain Python dict literal.*\(1\.5,\)/],
    ["{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }", /holds -2/],
    ["{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'descr': '<f4'}", /appears twice/],
    ["{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} + 1", /unexpected text/],
    ["{'descr': '<f8', 'fortran_order': False, 'shape': (1,), } # comment", /unexpected text after the literal/],
    ["{'descr': '<f8', 'fortran_order': False, 'shape': (True,), }", /holds True/],
    ["{'descr': '<f8', 'fortran_order': False, 'shape': (1,),", /unexpected end|expected/],
    ["{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }".replace("(1,)", "(" + "(".repeat(40) + "1" + ")".repeat(40) + ",)"), /nesting too deep/],
  ])("refuses %s with the bad value in the message", (header, message) => {
    expect(() => parse(header)).toThrow(message);
    expect(() => parse(header)).toThrow(expect.objectContaining({ code: "E_NPY_HEADER" }));
  });

  it("writes preambles numpy's layout: a multiple of 64 bytes, ending in a newline, parseable back", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 4096 }), { maxLength: 4 }), fc.boolean(), fc.constantFrom("<f8", ">i2", "|b1", "<U7", "|S3", ">c16"), (shape, fortran, descr) => {
        const preamble = encodeNpyPreamble(descr, fortran, shape);
        expect(preamble.length % 64).toBe(0);
        expect(preamble[preamble.length - 1]).toBe(0x0a);
        const header = parseNpyHeader(preamble, Number.MAX_SAFE_INTEGER, "x", Number.MAX_SAFE_INTEGER);
        expect(header.shape).toEqual(shape);
        expect(header.fortranOrder).toBe(fortran);
        expect(header.dtype.descr).toBe(descr);
      }),
    );
  });

  it("parses strings with escapes and never evaluates anything", () => {
    expect(parsePythonLiteral("'a\\'b\\x41\\u00e9'")).toEqual({ type: "str", value: "a'bAé" });
    for (const text of ["__import__('os')", "eval('1')", "1+1", "[x for x in ()]", "lambda: 1", "{**{}}", "b'x'"]) expect(() => parsePythonLiteral(text)).toThrow();
  });
});
