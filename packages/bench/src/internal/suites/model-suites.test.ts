import { describe, expect, it } from "vitest";
import { LOSS_TOLERANCE, lossesAgree } from "./model-suites.js";

describe("lossesAgree (the PyTorch peer's first losses against ours)", () => {
  it("accepts float32 rounding differences and refuses a different step", () => {
    expect(LOSS_TOLERANCE).toBe(1e-3);
    // Measured here: ONNX Runtime [3.643636, 4.377063, 4.042171], PyTorch [3.643636, 4.377061, 4.042150].
    expect(lossesAgree([3.643636, 4.377063, 4.042171], [3.643636, 4.377061, 4.042150])).toBe(true);
    // 2e-3 relative at step 2 (e.g. Adam ε 1e-8 against 1e-7 on small gradients, or another loss).
    expect(lossesAgree([1, 2, 3], [1, 2.004, 3])).toBe(false);
    // A loss twice ours (mean over both heads at once instead of the sum of the two means).
    expect(lossesAgree([2], [1])).toBe(false);
    expect(lossesAgree([1, 2], [1, Number.NaN])).toBe(false);
  });

  it("compares only the steps both sides reported, and nothing when one reported none", () => {
    expect(lossesAgree([1, 2, 3], [1, 2])).toBe(true);
    expect(lossesAgree([1, 2, 3], [])).toBe(false);
  });
});
