import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { parseJobConcurrency } from "./integer-flags.js";

describe("parseJobConcurrency (study run --concurrency)", () => {
  it("takes a whole number, or auto for one job per core", () => {
    expect(parseJobConcurrency("3")).toBe(3);
    expect(parseJobConcurrency("auto")).toBe(availableParallelism());
  });

  it.each(["0", "-1", "1.5", "two", "", "Auto"])("refuses %j with a usage error naming the flag", (text) => {
    expect(() => parseJobConcurrency(text)).toThrow(expect.objectContaining({ code: "E_USAGE", message: `--concurrency must be a whole number ≥ 1 or auto, got ${JSON.stringify(text)}` }));
  });
});
