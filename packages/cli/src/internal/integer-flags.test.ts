import { availableParallelism } from "node:os";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hasErrorCode } from "@studykit/native";
import { parseConcurrency, parseJobConcurrency, positiveIntegerFlag } from "./integer-flags.js";

function usageErrorOf(parse: () => unknown): Error & { code: string } {
  try {
    parse();
  } catch (error) {
    if (hasErrorCode(error)) return error;
    throw error;
  }
  throw new Error("expected a usage error, got a value");
}

describe("whole-number flags", () => {
  it("reads every decimal whole number from 1 to 2^53 − 1, leading zeros included", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.nat({ max: 3 }), (value, zeros) => {
        expect(parseConcurrency(`${"0".repeat(zeros)}${value}`)).toBe(value);
      }),
    );
  });

  it("refuses anything else as E_USAGE naming the flag and the value", () => {
    const notWholeDecimal = fc.oneof(
      fc.constantFrom("", "0", "00", "-1", "+2", " 2", "2 ", "1.5", "1e1", "0x10", "Infinity", "NaN", "9007199254740992", "٣"),
      fc.string().filter((text) => !/^\d+$/.test(text)),
    );
    fc.assert(
      fc.property(notWholeDecimal, (text) => {
        const error = usageErrorOf(() => positiveIntegerFlag("--workers")(text));
        expect(error.code).toBe("E_USAGE");
        expect(error.message).toContain("--workers");
        expect(error.message).toContain(JSON.stringify(text));
      }),
    );
  });
});

describe("parseJobConcurrency (study run --concurrency)", () => {
  it("takes a whole number, or auto for one job per core", () => {
    expect(parseJobConcurrency("3")).toBe(3);
    expect(parseJobConcurrency("auto")).toBe(availableParallelism());
  });

  it.each(["0", "-1", "1.5", "two", "", "Auto"])("refuses %j with a usage error naming the flag", (text) => {
    expect(() => parseJobConcurrency(text)).toThrow(expect.objectContaining({ code: "E_USAGE", message: `--concurrency must be a whole number ≥ 1 or auto, got ${JSON.stringify(text)}` }));
  });
});
