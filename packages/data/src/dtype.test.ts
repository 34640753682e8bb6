import { describe, expect, it } from "vitest";
import { parseDescr } from "./dtype.js";

describe("parseDescr", () => {
  it.each([
    ["<f8", "f", 8, "<"],
    [">i4", "i", 4, ">"],
    ["|u1", "u", 1, "|"],
    ["|b1", "b", 1, "|"],
    ["<c16", "c", 16, "<"],
    ["<U12", "U", 48, "<"],
    ["|S5", "S", 5, "|"],
  ])("%s", (descr, kind, itemSize, byteOrder) => {
    expect(parseDescr(descr)).toEqual({ descr, kind, itemSize, byteOrder });
  });

  it("refuses object arrays and unsupported kinds with codes naming the descr", () => {
    expect(() => parseDescr("|O")).toThrow(expect.objectContaining({ code: "E_NPY_DTYPE_UNSUPPORTED" }));
    expect(() => parseDescr("|O8")).toThrow(expect.objectContaining({ code: "E_NPY_OBJECT" }));
    expect(() => parseDescr("<M8")).toThrow(/"<M8"/);
    expect(() => parseDescr("<f3")).toThrow(expect.objectContaining({ code: "E_NPY_DTYPE_UNSUPPORTED" }));
  });
});
