import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PNG } from "pngjs";
import * as vega from "vega";
import { afterAll, describe, expect, it } from "vitest";
import type { ComplexImage } from "@studykit/ptycho";
import { differenceMaps, renderDifferencePng, symmetricScaleLimit } from "./report-images.js";
import { writeStudyReport, type ReportJobRow } from "./report-writer.js";

const dir = mkdtempSync(path.join(tmpdir(), "studykit-difference-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A 4×5 object scored on the box of its first 4 columns, with pixel (3, 3) uncovered (drawn grey).
const height = 4;
const width = 5;
const box = { top: 0, left: 0, bottom: 4, right: 4 };
const coverage = Array.from({ length: height * width }, (_, index) => (index % width < 4 && index !== 3 * width + 3 ? 2 : 0));
const truthAmplitude = (row: number, column: number) => 0.5 + 0.1 * row + 0.05 * column;
// Pixel (0, 0) sits near +π, so the reconstruction's phase there crosses the branch cut.
const truthPhase = (row: number, column: number) => (row === 0 && column === 0 ? 3 : -1 + 0.3 * row + 0.2 * column);
const amplitudeError = (row: number, column: number) => 0.02 * (row - column);
const phaseError = (row: number, column: number) => 0.05 * (column - 1.5) + (row === 2 && column === 1 ? 0.4 : 0);
const constantOffset = 0.7;

function image(amplitude: (row: number, column: number) => number, phase: (row: number, column: number) => number): ComplexImage {
  const data = new Float64Array(2 * height * width);
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      const index = row * width + column;
      data[2 * index] = amplitude(row, column) * Math.cos(phase(row, column));
      data[2 * index + 1] = amplitude(row, column) * Math.sin(phase(row, column));
    }
  }
  return { height, width, data };
}

const truth = image(truthAmplitude, truthPhase);
const reconstruction = image((r, c) => truthAmplitude(r, c) + amplitudeError(r, c), (r, c) => truthPhase(r, c) + constantOffset + phaseError(r, c));

/** The expected colour of value `v` on the scale −limit … +limit: vega's redblue, blue low, red high. */
function expectedColour(value: number, limit: number): number[] {
  const level = Math.round(255 * Math.min(1, Math.max(0, (value + limit) / (2 * limit))));
  const match = /rgb\((\d+), (\d+), (\d+)\)/.exec((vega.scheme("redblue") as (t: number) => string)(1 - level / 255))!;
  return [Number(match[1]), Number(match[2]), Number(match[3]), 255];
}

function pixel(png: PNG, row: number, column: number): number[] {
  const start = 4 * (row * png.width + column);
  return Array.from(png.data.subarray(start, start + 4));
}

describe("difference maps", () => {
  it("writes reconstruction − truth after the metrics' global phase alignment, on a symmetric scale stated in the caption", async () => {
    // Independently: the offset that best aligns the reconstruction is the angle of Σ |t||r| e^{i(φr − φt)} over covered pixels.
    let sumCos = 0;
    let sumSin = 0;
    const covered: [number, number][] = [];
    for (let row = 0; row < height; row++) {
      for (let column = 0; column < 4; column++) {
        if (!coverage[row * width + column]) continue;
        covered.push([row, column]);
        const weight = truthAmplitude(row, column) * (truthAmplitude(row, column) + amplitudeError(row, column));
        sumCos += weight * Math.cos(constantOffset + phaseError(row, column));
        sumSin += weight * Math.sin(constantOffset + phaseError(row, column));
      }
    }
    const offset = Math.atan2(sumSin, sumCos);
    const expectedPhase = (row: number, column: number) => constantOffset + phaseError(row, column) - offset; // small, no wrap needed
    // With 15 covered pixels the 99th percentile is the largest |difference|; round up to 2 significant digits by hand.
    const roundUp = (value: number) => Math.ceil(value * 100 - 1e-9) / 100;
    const phaseLimit = roundUp(Math.max(...covered.map(([row, column]) => Math.abs(expectedPhase(row, column)))));
    const amplitudeLimit = roundUp(Math.max(...covered.map(([row, column]) => Math.abs(amplitudeError(row, column)))));
    expect(amplitudeLimit).toBe(0.06);

    // The pipeline's steps: maps, shared limits, PNGs, then the real report writer.
    const maps = differenceMaps(truth, reconstruction, coverage, box);
    const mask = Array.from({ length: 16 }, (_, index) => coverage[Math.floor(index / 4) * width + (index % 4)]! > 0 ? 1 : 0);
    const scale = { amplitude: symmetricScaleLimit([maps.amplitude], mask), phase: symmetricScaleLimit([maps.phase], mask) };
    expect(scale).toEqual({ amplitude: amplitudeLimit, phase: phaseLimit });
    const images = new Map([
      ["gt-a.png", renderDifferencePng(maps.amplitude, 4, 4, { limit: 1 })],
      ["gt-p.png", renderDifferencePng(maps.amplitude, 4, 4, { limit: 1 })],
      ["r-a.png", renderDifferencePng(maps.amplitude, 4, 4, { limit: 1 })],
      ["r-p.png", renderDifferencePng(maps.amplitude, 4, 4, { limit: 1 })],
      ["r-a-diff.png", renderDifferencePng(maps.amplitude, 4, 4, { limit: scale.amplitude, mask })],
      ["r-p-diff.png", renderDifferencePng(maps.phase, 4, 4, { limit: scale.phase, mask })],
    ]);
    const row: ReportJobRow = { jobId: "dose_1000/baseline/gs1", dose: 1000, view: "baseline", gridsize: 1, method: "supervised gs1", status: "succeeded", note: null, metrics: null, bundleSha256: null, trainingSamples: null, history: [], iterationHistory: [], images: { amplitude: "r-a.png", phase: "r-p.png", amplitudeDifference: "r-a-diff.png", phaseDifference: "r-p-diff.png" }, wallTimeMs: null };
    await writeStudyReport(dir, { title: "T", runId: "run-1", preset: "quick", summary: [], groundTruth: { amplitude: "gt-a.png", phase: "gt-p.png" }, differenceScale: scale, rows: [row], notes: [] }, images);

    const phasePng = PNG.sync.read(readFileSync(path.join(dir, "images/r-p-diff.png")));
    // (0, 0) crossed the branch cut: its difference is the small error, not ≈ −2π.
    for (const [r, c] of [[0, 0], [1, 2], [2, 1], [3, 0]] as const) expect(pixel(phasePng, r, c), `phase (${r}, ${c})`).toEqual(expectedColour(expectedPhase(r, c), phaseLimit));
    expect(pixel(phasePng, 3, 3)).toEqual([230, 230, 230, 255]);
    const amplitudePng = PNG.sync.read(readFileSync(path.join(dir, "images/r-a-diff.png")));
    // (3, 0): +0.06, the top of the scale (dark red); (0, 3): −0.06, the bottom (dark blue); (1, 1): 0, the middle.
    expect(pixel(amplitudePng, 3, 0)).toEqual([140, 13, 37, 255]);
    expect(pixel(amplitudePng, 0, 3)).toEqual([19, 75, 133, 255]);
    expect(pixel(amplitudePng, 1, 1)).toEqual(expectedColour(0, amplitudeLimit));
    for (const [r, c] of [[2, 0], [0, 2]] as const) expect(pixel(amplitudePng, r, c)).toEqual(expectedColour(amplitudeError(r, c), amplitudeLimit));

    const md = readFileSync(path.join(dir, "report.md"), "utf8");
    expect(md).toContain(`amplitude −${amplitudeLimit} to +${amplitudeLimit}; phase −${phaseLimit} to +${phaseLimit} rad`);
    expect(md).toContain("| dose_1000/baseline/gs1 | ![dose_1000/baseline/gs1 amplitude](images/r-a.png) | ![dose_1000/baseline/gs1 phase](images/r-p.png) | ![dose_1000/baseline/gs1 amplitude difference](images/r-a-diff.png) | ![dose_1000/baseline/gs1 phase difference](images/r-p-diff.png) |");
    const html = readFileSync(path.join(dir, "report.html"), "utf8");
    expect(html).toContain("<th>amplitude − truth</th><th>phase − truth</th>");
    expect(html.match(/src="data:image\/png;base64,/g)).toHaveLength(6);
  });

  it("leaves a reconstruction that differs only by a constant phase offset with zero difference", () => {
    const shifted = image(truthAmplitude, (r, c) => truthPhase(r, c) - 2.5);
    const maps = differenceMaps(truth, shifted, coverage, box);
    for (const value of [...maps.amplitude, ...maps.phase]) expect(Math.abs(value)).toBeLessThan(1e-12);
  });

  it("takes the 99th percentile of |difference| over masked-in pixels, rounded up to two significant digits", () => {
    // 200 magnitudes 0.001 … 0.2 (one negative) and a masked-out outlier: the 198th smallest is 0.198.
    const values = Float64Array.from({ length: 201 }, (_, index) => (index === 200 ? 50 : index === 7 ? -0.008 : (index + 1) / 1000));
    const mask = Array.from({ length: 201 }, (_, index) => (index === 200 ? 0 : 1));
    expect(symmetricScaleLimit([values], mask)).toBe(0.2);
    expect(symmetricScaleLimit([Float64Array.of(0.0123, -0.0456)], [1, 1])).toBe(0.046);
    expect(symmetricScaleLimit([new Float64Array(4)], [1, 1, 1, 1])).toBe(1);
  });
});
