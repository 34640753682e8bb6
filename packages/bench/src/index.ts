/**
 * `@studykit/bench`: the benchmarking harness. Each suite runs studykit's code and its peers (numpy,
 * PyTorch, node:crypto, sha256sum...) in one run on the same generated inputs and reports min / median / max
 * and the speed ratio of ours to each peer, as JSON, a Markdown table and one chart per suite.
 */
export { summarize, speedRatio } from "./statistics.js";
export type { Summary } from "./statistics.js";
export { BenchErrorCode, BenchUsageError, BenchContenderError, PeerMismatchError } from "./errors.js";
export type { BenchErrorCodeValue } from "./errors.js";
export { runBench, parseSuiteName, parseRunCount, MAX_RUNS } from "./run-bench.js";
export { combineRuns } from "./repeated-runs.js";
export type { BenchOptions, BenchRun } from "./run-bench.js";
export { SUITE_NAMES, RESULTS_SCHEMA_VERSION } from "./results.js";
export { contenderProblems, assertNoContenderProblems, REQUIRED_CONTENDERS, MAY_FAIL_CONTENDERS } from "./contender-requirements.js";
export type {
  BenchResults,
  SuiteName,
  SuiteResult,
  ComparisonGroup,
  ContenderResult,
  ContenderRole,
  MeasuredContender,
  UnavailableContender,
  RatioResult,
  ValueCheck,
  Goal,
  MachineInfo,
  CodeProvenance,
  Parallelism,
  Work,
} from "./results.js";
export { renderMarkdown } from "./markdown-report.js";
export { describeMachine, codeProvenance } from "./machine-info.js";
export { maxMainThreadStall } from "./main-thread-stall.js";
export { startLoopbackRedis, hasRedisServer, freeLoopbackPort } from "./loopback-redis.js";
export type { LoopbackRedis, LoopbackRedisOptions } from "./loopback-redis.js";
