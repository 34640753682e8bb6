import { describe, expect, it } from "vitest";
import { descrKindSize, parseDescr } from "./dtype.js";

describe("parseDescr", () => {
  it.each([
    ["<f8", "f", 8, "<"],
    [">i4", "i", 4, ">"],
    ["|u1", "u", 1, "|"],
    ["|b1", "b", 1, "|"],
    ["<c16", "c", 16, "<"],
    ["<U12", "U", 48, "<"],
    [">U3", "U", 12, ">"],
    ["|S5", "S", 5, "|"],
    [">f2", "f", 2, ">"],
  ])("%s", (descr, kind, itemSize, byteOrder) => {
    expect(parseDescr(descr)).toEqual({ descr, kind, itemSize, byteOrder });
  });

  it("refuses object arrays with E_NPY_OBJECT and other kinds with E_NPY_DTYPE_UNSUPPORTED naming the descr", () => {
    expect(() => parseDescr("|O")).toThrow(expect.objectContaining({ code: "E_NPY_OBJECT" }));
    expect(() => parseDescr("|O8")).toThrow(expect.objectContaining({ code: "E_NPY_OBJECT" }));
    expect(() => parseDescr("<M8[ns]")).toThrow(expect.objectContaining({ code: "E_NPY_DTYPE_UNSUPPORTED" }));
    expect(() => parseDescr("<M8")).toThrow(/"<M8"/);
    expect(() => parseDescr("|V8")).toThrow(expect.objectContaining({ code: "E_NPY_DTYPE_UNSUPPORTED" }));
    expect(() => parseDescr("<f3")).toThrow(expect.objectContaining({ code: "E_NPY_DTYPE_UNSUPPORTED" }));
    expect(() => parseDescr("<f")).toThrow(expect.objectContaining({ code: "E_NPY_DTYPE_UNSUPPORTED" }));
  });

  it("names the kind and size without byte order", () => {
    expect(descrKindSize(parseDescr(">U7"))).toBe("U7");
    expect(descrKindSize(parseDescr("<c8"))).toBe("c8");
  });
});
