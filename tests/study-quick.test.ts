/**
 * The quick preset end to end (`studykit study run --preset quick`, what `npm run study` runs), twice:
 * higher dose must give lower reconstruction error, for the networks and for Phase F's iterative
 * reconstruction (shown for every dose × view), and the second run must reuse every job and every Phase F
 * reconstruction with the same run id and hashes. Reuse is all this second run shows: that retraining gives the same bundles is
 * checked by study-e2e.test.ts, whose forced rerun of a smaller study rebuilds every bundle. It takes about
 * five minutes on an idle 2-core machine (more on a loaded one), so it is part of every `npm test`;
 * STUDYKIT_SKIP_QUICK_STUDY=1 skips it for quick local iterations. Under CI (`CI` set, as `.ci/run` does)
 * that variable is ignored, with a warning: CI always runs the quick study, so it cannot pass by skipping.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isCI } from "../tools/test-dependencies.js";

const skipAsked = process.env["STUDYKIT_SKIP_QUICK_STUDY"] === "1";
const enabled = !skipAsked || isCI();
if (skipAsked) console.warn(enabled ? "running the quick-preset study anyway: STUDYKIT_SKIP_QUICK_STUDY=1 is ignored under CI" : "skipping the quick-preset study: STUDYKIT_SKIP_QUICK_STUDY=1 is set");

const root = path.resolve(new URL("..", import.meta.url).pathname);
const out = mkdtempSync(path.join(tmpdir(), "studykit-quick-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Manifest {
  runId: string;
  jobs: { id: string; status: string; bundleSha256: string | null }[];
  reconstructions: { id: string; status: string; sha256: string | null }[];
}
interface Comparison {
  jobs: { jobId: string; dose: number; view: string; trainingMethod: string; gridsize: number; metrics: { amplitudeMae: number; phaseMae: number } | null }[];
  meanPredictor: { phaseMae: number };
  iterative: { dose: number; view: string; status: string; metrics: { amplitudeMae: number; phaseMae: number } | null }[];
}

const runQuick = () => spawnSync(process.execPath, [path.join(root, "packages/cli/dist/bin.js"), "study", "run", "--preset", "quick", "--out", out], { encoding: "utf8", timeout: 1_800_000 });

describe.skipIf(!enabled)("studykit study run --preset quick", () => {
  it("gives lower reconstruction error at higher dose, and a second run reuses every job", () => {
    const first = runQuick();
    expect(first.status, first.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(out, "study_manifest.json"), "utf8")) as Manifest;
    const comparison = JSON.parse(readFileSync(path.join(out, "phaseG/comparison.json"), "utf8")) as Comparison;
    // The supervised baseline (every training pattern) at the three doses: its phase error falls as the dose
    // rises. Phase only: its amplitude error is set by training, not by the dose (3 replicates at 9d3ff39:
    // 0.072–0.086 at every dose, in no order), so adding it only blurs the dose step. Phase in those
    // replicates: 0.255 / 0.250 / 0.259 at 1e3, 0.219 / 0.218 / 0.218 at 1e4, 0.213 / 0.208 / 0.207 at 1e5.
    const baseline = comparison.jobs.filter((job) => job.view === "baseline" && job.trainingMethod === "supervised" && job.metrics).sort((a, b) => a.dose - b.dose);
    expect(baseline.map((job) => job.dose)).toEqual([1e3, 1e4, 1e5]);
    const errors = baseline.map((job) => job.metrics!.phaseMae);
    const shown = `baseline phase MAE at 1e3, 1e4, 1e5: ${errors.map((value) => value.toFixed(4)).join(", ")}`;
    expect(errors[0]!, shown).toBeGreaterThan(errors[1]!);
    expect(errors[1]!, shown).toBeGreaterThan(errors[2]!);

    // The PINN gridsize-2 jobs learn from the physics alone: at 1e5 each is at most 0.7× the phase error of
    // predicting the mean (issue 21). Measured over 3 replicates of this preset at 9d3ff39: 0.56–0.57×
    // (dense) and 0.64–0.67× (sparse); the max-pool compact network was at 0.71× on sparse, the tiny at 0.77×.
    for (const view of ["dense", "sparse"]) {
      const pinn = comparison.jobs.find((job) => job.dose === 1e5 && job.view === view && job.trainingMethod === "pinn" && job.gridsize === 2);
      expect(pinn?.metrics, `PINN ${view} gs2 at 1e5`).not.toBeNull();
      expect(pinn!.metrics!.phaseMae, `PINN ${view} gs2 phase MAE against the mean predictor's ${comparison.meanPredictor.phaseMae.toFixed(4)}`).toBeLessThanOrEqual(0.7 * comparison.meanPredictor.phaseMae);
    }

    // Phase F: the test split of every dose × view is reconstructed and scored; ePIE's phase error falls
    // steeply with dose on the views with enough overlap (the sparse view is shown, but its error is set by
    // its few positions more than by the dose).
    for (const dose of [1e3, 1e4, 1e5]) {
      for (const view of ["baseline", "dense", "sparse"]) {
        const entry = comparison.iterative.find((item) => item.dose === dose && item.view === view);
        expect(entry?.metrics, `Phase F ${dose} ${view}`).not.toBeNull();
      }
    }
    for (const view of ["baseline", "dense"]) {
      const phase = [1e3, 1e4, 1e5].map((dose) => comparison.iterative.find((item) => item.dose === dose && item.view === view)!.metrics!.phaseMae);
      const iterativeShown = `Phase F ${view} phase MAE at 1e3, 1e4, 1e5: ${phase.map((value) => value.toFixed(4)).join(", ")}`;
      expect(phase[0]!, iterativeShown).toBeGreaterThan(phase[1]!);
      expect(phase[1]!, iterativeShown).toBeGreaterThan(phase[2]!);
    }

    const second = runQuick();
    expect(second.status, second.stderr).toBe(0);
    const again = JSON.parse(readFileSync(path.join(out, "study_manifest.json"), "utf8")) as Manifest;
    expect(again.runId).toBe(manifest.runId);
    for (const job of again.jobs.filter((entry) => entry.status !== "skipped")) {
      expect(job.status).toBe("reused");
      expect(job.bundleSha256).toBe(manifest.jobs.find((entry) => entry.id === job.id)?.bundleSha256);
    }
    expect(again.reconstructions).toHaveLength(18);
    for (const record of again.reconstructions.filter((entry) => entry.status !== "skipped")) {
      expect(record.status, record.id).toBe("reused");
      expect(record.sha256, record.id).toBe(manifest.reconstructions.find((entry) => entry.id === record.id)?.sha256);
    }
  }, 3_600_000);
});
