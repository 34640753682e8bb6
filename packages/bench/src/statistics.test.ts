import { expect, it } from "vitest";
import { speedRatio, summarize } from "./statistics.js";

it("summarises odd and even sample counts and computes ratios from medians", () => {
  expect(summarize([3, 1, 2])).toEqual({ min: 1, median: 2, max: 3, samples: 3 });
  expect(summarize([4, 1, 2, 3]).median).toBe(2.5);
  expect(speedRatio(summarize([1, 1, 1]), summarize([2, 2, 2]))).toBe(2);
  expect(() => summarize([])).toThrow(RangeError);
});
