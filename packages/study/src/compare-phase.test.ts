import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { writeJsonAtomicSync } from "@studykit/core";
import { afterAll, describe, expect, it } from "vitest";
import { meanPredictorImage, scoreForComparison } from "./compare-phase.js";
import type { ComplexImage } from "@studykit/ptycho";
import { generateObject } from "./procedural-sample.js";

const dir = mkdtempSync(path.join(tmpdir(), "studykit-compare-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A 96×96 object scored on a 64×64 box inside it (large enough for MS-SSIM's five scales).
const truth = generateObject({ height: 96, width: 96, seed: 11, featureSize: 6 });
const box = { top: 16, left: 16, bottom: 80, right: 80 };
const coverage = Float64Array.from({ length: 96 * 96 }, (_, index) => {
  const row = Math.floor(index / 96);
  const column = index % 96;
  return row >= box.top && row < box.bottom && column >= box.left && column < box.right ? 1 : 0;
});

/** `image` multiplied by e^{iθ}: the same object up to a global phase. */
function rotated(image: ComplexImage, theta: number): ComplexImage {
  const data = new Float64Array(image.data.length);
  for (let index = 0; index < image.height * image.width; index++) {
    const re = image.data[2 * index]!;
    const im = image.data[2 * index + 1]!;
    data[2 * index] = re * Math.cos(theta) - im * Math.sin(theta);
    data[2 * index + 1] = re * Math.sin(theta) + im * Math.cos(theta);
  }
  return { height: image.height, width: image.width, data };
}

describe("Phase G scoring", () => {
  it("reports the constant mean image's FRC as not reached (null), never as a finite resolution", () => {
    const metrics = scoreForComparison(truth, meanPredictorImage(truth, coverage), coverage, box);
    expect(metrics.frc50ResolutionPx).toBeNull();
    expect(metrics.frcHalfBitResolutionPx).toBeNull();
    expect(metrics.frc.fixed.reached).toBe(false);
    expect(metrics.frc.halfBit.reached).toBe(false);
    // The constant image has no structure: its MS-SSIM is far below a faithful copy's.
    expect(metrics.amplitudeMsSsim).not.toBeNull();
    expect(metrics.amplitudeMsSsim!).toBeLessThan(0.5);
    // comparison.json is written by the atomic JSON writer, which refuses NaN: the rings where the constant
    // image has no power are null in the curve, and not reached is null there too.
    expect(metrics.frc.curve.correlation.some((value) => value === null)).toBe(true);
    const file = path.join(dir, "comparison.json");
    writeJsonAtomicSync(file, metrics);
    const json = JSON.parse(readFileSync(file, "utf8")) as { frc50ResolutionPx: unknown; frcHalfBitResolutionPx: unknown };
    expect(json.frc50ResolutionPx).toBeNull();
    expect(json.frcHalfBitResolutionPx).toBeNull();
  });

  it("scores the truth itself, up to a global phase, as perfect: MS-SSIM 1, no FRC crossing below Nyquist", () => {
    const metrics = scoreForComparison(truth, rotated(truth, 1.3), coverage, box);
    expect(metrics.amplitudeMae).toBeLessThan(1e-12);
    expect(metrics.phaseMae).toBeLessThan(1e-9);
    expect(metrics.amplitudeMsSsim).toBeCloseTo(1, 9);
    expect(metrics.phaseMsSsim).toBeCloseTo(1, 9);
    // Correlation 1 at every ring: the curve never falls below either threshold.
    expect(metrics.frc.fixed.status).toBe("never-below");
    expect(metrics.frc50ResolutionPx).toBeNull();
  });

  it("gives a blurred copy a finite FRC resolution coarser than 2 px, and a worse MS-SSIM than the copy", () => {
    // A 5×5 box blur of the truth: fine detail lost, coarse structure kept.
    const blurred = new Float64Array(truth.data.length);
    for (let row = 0; row < 96; row++) {
      for (let column = 0; column < 96; column++) {
        let re = 0;
        let im = 0;
        let count = 0;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) {
            const r = row + dy;
            const c = column + dx;
            if (r < 0 || r >= 96 || c < 0 || c >= 96) continue;
            re += truth.data[2 * (r * 96 + c)]!;
            im += truth.data[2 * (r * 96 + c) + 1]!;
            count += 1;
          }
        }
        blurred[2 * (row * 96 + column)] = re / count;
        blurred[2 * (row * 96 + column) + 1] = im / count;
      }
    }
    const metrics = scoreForComparison(truth, { height: 96, width: 96, data: blurred }, coverage, box);
    expect(metrics.frc.fixed.status).toBe("crossed");
    expect(metrics.frc50ResolutionPx!).toBeGreaterThan(2);
    expect(metrics.frcHalfBitResolutionPx).not.toBeNull();
    expect(metrics.amplitudeMsSsim!).toBeLessThan(0.999);
  });
});
