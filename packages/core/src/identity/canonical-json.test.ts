import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, fingerprint } from "./canonical-json.js";

function shuffleKeys(value: unknown, order: number): unknown {
  if (Array.isArray(value)) return value.map((item) => shuffleKeys(item, order));
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    const rotated = entries.map((_, index) => entries[(index + order) % entries.length]!).reverse();
    return Object.fromEntries(rotated.map(([key, item]) => [key, shuffleKeys(item, order + 1)]));
  }
  return value;
}

describe("canonicalJson", () => {
  it("sorts keys by code unit and normalises numbers (RFC 8785 examples)", () => {
    expect(canonicalJson({ b: 1, a: [3, { d: true, c: null }] })).toBe('{"a":[3,{"c":null,"d":true}],"b":1}');
    expect(canonicalJson({ "\u20ac": 1, "\r": 2, "1": 3, A: 4 })).toBe('{"\\r":2,"1":3,"A":4,"€":1}');
    expect(canonicalJson([-0, 1e21, 1e-7, 0.1, 100, 333333333.3333333])).toBe("[0,1e+21,1e-7,0.1,100,333333333.3333333]");
  });

  it("omits undefined properties as absent", () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
  });

  it.each([
    [{ x: { y: NaN } }, "x.y"],
    [{ x: [1, Infinity] }, "x[1]"],
    [[undefined], "[0]"],
    [{ when: new Date(0) }, "when"],
    [{ m: new Map() }, "m"],
    [{ n: 10n }, "n"],
    [{ f: () => 1 }, "f"],
  ])("refuses %o naming the path", (value, path) => {
    expect(() => canonicalJson(value)).toThrow(expect.objectContaining({ code: "E_CANONICAL_JSON", message: expect.stringContaining(path) }));
  });

  it("refuses cycles but accepts shared non-cyclic references", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cycle/);
    const shared = { k: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"k":1},"b":{"k":1}}');
  });

  it("is stable under key reordering and round-trips through JSON.parse (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ noUnicodeString: false }), fc.nat(7), (value, order) => {
        const encoded = canonicalJson(value);
        expect(canonicalJson(shuffleKeys(value, order))).toBe(encoded);
        expect(canonicalJson(JSON.parse(encoded))).toBe(encoded);
      }),
      { numRuns: 300 },
    );
  });

  it("fingerprint is SHA-256 of the canonical UTF-8 bytes", () => {
    const value = { z: "ünïcode", a: [1, 2.5] };
    expect(fingerprint(value)).toBe(createHash("sha256").update(canonicalJson(value), "utf8").digest("hex"));
    expect(fingerprint({ a: [1, 2.5], z: "ünïcode" })).toBe(fingerprint(value));
  });
});
