import { describe, expect, it } from "vitest";
import { summariseReplicates, writeFindings, type ReplicateRow, type SummaryMetricKey } from "./replicate-summary.js";

/** Rows of one cell: one per replicate, with the given phase and amplitude MAE values. */
function cellRows(dose: number, view: string, method: string, phaseMae: readonly (number | null)[], amplitudeMae?: readonly number[]): ReplicateRow[] {
  return phaseMae.map((value, replicate) => ({
    replicate,
    dose,
    view,
    method,
    family: method.startsWith("epie") ? "iterative" : "network",
    metrics: value === null ? null : { phaseMae: value, amplitudeMae: amplitudeMae?.[replicate] ?? 0.1, amplitudeSsim: 0.5, phaseSsim: 0.5, frcHalfBitResolutionPx: null },
    wallTimeMs: 1000 * (replicate + 1),
  }));
}

const phaseOnly: { metrics: readonly SummaryMetricKey[] } = { metrics: ["phaseMae"] };

describe("summariseReplicates", () => {
  it("gives each cell its mean and t interval over the replicates that scored it", () => {
    const cells = summariseReplicates([...cellRows(1e3, "dense", "PINN gs2", [0.3, 0.32, 0.34]), ...cellRows(1e3, "dense", "epie 50 it", [0.15, null, 0.17])], 3);
    const pinn = cells.find((cell) => cell.method === "PINN gs2")!;
    expect(pinn.scored).toBe(3);
    expect(pinn.metrics.phaseMae!.mean).toBeCloseTo(0.32, 12);
    // s = 0.02, t_{0.975,2} = 4.3027 (table): half-width 4.3027 · 0.02 / √3.
    expect(pinn.metrics.phaseMae!.halfWidth!).toBeCloseTo((4.3027 * 0.02) / Math.sqrt(3), 4);
    expect(pinn.wallTimeMs!.mean).toBeCloseTo(2000, 9);
    // A failed replicate is not a zero: two of three scored the iterative cell.
    const epie = cells.find((cell) => cell.method === "epie 50 it")!;
    expect(epie.scored).toBe(2);
    expect(epie.metrics.phaseMae!.n).toBe(2);
    expect(epie.metrics.phaseMae!.mean).toBeCloseTo(0.16, 12);
    // An FRC that never crossed in any replicate has no mean.
    expect(pinn.metrics.frcHalfBitResolutionPx).toBeNull();
  });
});

describe("writeFindings", () => {
  it("names the winner, its margin, and says the intervals support a clear difference", () => {
    const cells = summariseReplicates([...cellRows(1e4, "dense", "PINN gs2", [0.3, 0.31, 0.29]), ...cellRows(1e4, "dense", "epie 50 it", [0.05, 0.051, 0.049])], 3);
    const [finding] = writeFindings(cells, phaseOnly);
    expect(finding).toMatchObject({ dose: 1e4, view: "dense", metric: "phaseMae", winner: "epie 50 it", support: "supported" });
    // 0.25 lower, 83% of 0.30; half-widths 4.3027·0.001/√3 = 0.0025 and 0.0248.
    expect(finding!.text).toBe(
      "dose 1e4, dense: epie 50 it has the best phase MAE, 0.0500 ± 0.0025 (n=3), 0.2500 (83%) lower than PINN gs2 (0.3000 ± 0.0248 (n=3)); the 95% intervals do not overlap, so the replicates support the difference.",
    );
  });

  it("says when overlapping intervals do not support the difference", () => {
    const cells = summariseReplicates([...cellRows(1e3, "sparse", "PINN gs2", [0.3, 0.4, 0.35]), ...cellRows(1e3, "sparse", "epie 50 it", [0.33, 0.38, 0.28])], 3);
    const [finding] = writeFindings(cells, phaseOnly);
    expect(finding!.winner).toBe("epie 50 it");
    expect(finding!.support).toBe("unsupported");
    expect(finding!.text).toContain("the 95% intervals overlap, so the replicates do not support the difference");
  });

  it("calls means equal to the printed precision a tie, whatever the intervals", () => {
    const cells = summariseReplicates([...cellRows(1e5, "baseline", "supervised gs1", [0.20001, 0.20001, 0.20001]), ...cellRows(1e5, "baseline", "PINN gs1", [0.2, 0.2, 0.2])], 3);
    const [finding] = writeFindings(cells, phaseOnly);
    expect(finding).toMatchObject({ winner: null, support: "tie" });
    expect(finding!.text).toMatch(/^dose 1e5, baseline: PINN gs1 and supervised gs1 tie on phase MAE/);
  });

  it("with one replicate, gives no interval and does not assess the difference", () => {
    const cells = summariseReplicates([...cellRows(1e3, "baseline", "supervised gs1", [0.26]), ...cellRows(1e3, "baseline", "PINN gs1", [0.27])], 1);
    const [finding] = writeFindings(cells, phaseOnly);
    expect(finding!.support).toBe("not-assessed");
    expect(finding!.text).toBe("dose 1e3, baseline: supervised gs1 has the best phase MAE, 0.2600 (n=1, no interval), 0.0100 (4%) lower than PINN gs1 (0.2700 (n=1, no interval)); n=1, no interval, so the difference is not assessed.");
    expect(finding!.text).not.toContain("±");
  });

  it("ranks higher-is-better metrics the other way and calls out a winner no better than the mean predictor", () => {
    const rows: ReplicateRow[] = [
      ...cellRows(1e3, "dense", "PINN gs2", [0.36, 0.37, 0.35], [0.2, 0.2, 0.2]),
      ...cellRows(1e3, "dense", "epie 50 it", [0.4, 0.41, 0.39], [0.3, 0.3, 0.3]),
    ];
    const cells = summariseReplicates(rows, 3);
    const [phase] = writeFindings(cells, { metrics: ["phaseMae"], floor: { phaseMae: 0.353 } });
    expect(phase!.winner).toBe("PINN gs2");
    expect(phase!.text).toContain("no better than predicting the mean (0.3530)");
    // Higher SSIM is better: equal SSIM everywhere here, so a tie.
    const [ssim] = writeFindings(cells, { metrics: ["amplitudeSsim"] });
    expect(ssim!.support).toBe("tie");
  });

  it("reports a lone method as the only one scored, and writes nothing for a cell nobody scored", () => {
    const cells = summariseReplicates([...cellRows(1e3, "sparse", "PINN gs2", [0.3, 0.32]), ...cellRows(1e3, "dense", "PINN gs2", [null, null])], 2);
    const findings = writeFindings(cells, phaseOnly);
    expect(findings).toHaveLength(1);
    expect(findings[0]!.support).toBe("single");
    expect(findings[0]!.text).toMatch(/^dose 1e3, sparse: only PINN gs2 was scored on phase MAE: 0\.3100 ± /);
  });

  it("does not rank a metric that some replicate lacks (an FRC not reached), and says which cells lack it", () => {
    const rows: ReplicateRow[] = [
      ...cellRows(1e5, "baseline", "epie 50 it", [0.02, 0.02, 0.02]).map((row) => ({ ...row, metrics: { ...row.metrics!, frcHalfBitResolutionPx: null } })),
      ...cellRows(1e5, "baseline", "supervised gs1", [0.24, 0.24, 0.24]).map((row, index) => ({ ...row, metrics: { ...row.metrics!, frcHalfBitResolutionPx: 5 + index * 0.1 } })),
    ];
    const [finding] = writeFindings(summariseReplicates(rows, 3), { metrics: ["frcHalfBitResolutionPx"] });
    expect(finding).toMatchObject({ winner: null, support: "not-assessed" });
    expect(finding!.text).toBe("dose 1e5, baseline: FRC half-bit resolution is not ranked: epie 50 it (0 of 3 replicates) lack a value in some replicates.");
  });
});
