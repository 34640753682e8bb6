/** `@studykit/bench`: the benchmarking harness (side-by-side ratios, JSON + Markdown + charts). */
export { summarize, speedRatio } from "./statistics.js";
export type { Summary } from "./statistics.js";
