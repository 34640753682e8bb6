/**
 * Replicate-aware run comparison: each (dose, view, method) cell's mean ± 95% interval over each study's
 * replicates, and whether the intervals support the change between the two studies.
 */
import { describe, expect, it } from "vitest";
import type { ComparisonResult } from "./compare-phase.js";
import { replicateCellDeltas } from "./run-comparison.js";

/** One replicate's Phase G result holding one PINN gs2 job (dense, 1e5) with the given phase MAE. */
function replicate(index: number, phaseMae: number): ComparisonResult {
  const metrics = { phaseMae, amplitudeMae: 0.1, amplitudeSsim: 0.5, phaseSsim: 0.4, frcHalfBitResolutionPx: null };
  return {
    runId: "run-x",
    replicate: index,
    seed: index,
    jobs: [{ jobId: "dose_100000/dense/pinn-gs2", dose: 100000, view: "dense", trainingMethod: "pinn", gridsize: 2, status: "succeeded", method: "PINN gs2", note: null, metrics, inference: null, images: null, wallTimeMs: 1000 }],
    iterative: [],
  } as unknown as ComparisonResult;
}

describe("replicateCellDeltas", () => {
  it("supports a change only when the two 95% intervals do not overlap", () => {
    // A: 0.30, 0.31, 0.29 (mean 0.30, s = 0.01, half-width t(0.975, 2)·s/√3 = 4.3027·0.01/√3 = 0.02484).
    const a = [replicate(0, 0.3), replicate(1, 0.31), replicate(2, 0.29)];
    const far = [replicate(0, 0.2), replicate(1, 0.21), replicate(2, 0.19)];
    const near = [replicate(0, 0.29), replicate(1, 0.3), replicate(2, 0.28)];
    const phase = (deltas: ReturnType<typeof replicateCellDeltas>) => deltas.find((delta) => delta.metric === "phaseMae")!;
    const supported = phase(replicateCellDeltas(a, far));
    expect(supported).toMatchObject({ dose: 100000, view: "dense", method: "PINN gs2", verdict: "supported" });
    expect(supported.delta).toBeCloseTo(-0.1, 12);
    expect(supported.a!.halfWidth).toBeCloseTo((4.302652729911275 * 0.01) / Math.sqrt(3), 9);
    expect(phase(replicateCellDeltas(a, near))).toMatchObject({ verdict: "not supported" });
    expect(phase(replicateCellDeltas(a, near)).delta).toBeCloseTo(-0.01, 12);
    // One replicate has no interval: the change is not assessed, whatever its size.
    expect(phase(replicateCellDeltas([replicate(0, 0.3)], far))).toMatchObject({ verdict: "not assessed", a: { n: 1, halfWidth: null } });
    // A metric neither side has (an FRC never crossed) has no delta.
    expect(replicateCellDeltas(a, far).find((delta) => delta.metric === "frcHalfBitResolutionPx")).toMatchObject({ delta: null, verdict: "not assessed" });
  });

  it("compares only the cells both sides score", () => {
    const other = { ...replicate(0, 0.3), jobs: [{ ...replicate(0, 0.3).jobs[0]!, jobId: "dose_100000/sparse/pinn-gs2", view: "sparse" }] } as ComparisonResult;
    expect(replicateCellDeltas([replicate(0, 0.3)], [other])).toEqual([]);
  });
});
