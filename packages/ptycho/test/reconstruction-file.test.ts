/**
 * Reconstructions from and to files: ptycho-schema npz in, `reconstruction.npz` out (byte-identical for the
 * same seed), coded errors for inputs that cannot be reconstructed, cancellation and progress.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadNpz, saveNpz, type WritableArray } from "@studykit/data";
import { loadPtychoProblem, reconstruct, saveReconstruction, type ReconstructOptions } from "@studykit/ptycho";
import { afterAll, describe, expect, it } from "vitest";
import { simulatedScan } from "./simulated-scan.js";

const directory = mkdtempSync(join(tmpdir(), "studykit-ptycho-file-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const scan = simulatedScan({ size: 16, objectSize: 48, overlap: 0.6, dose: 1e5, seed: 7 });
const count = scan.positions.length;

/** The scan's arrays as Phase C writes them (legacy key `diffraction`). */
function phaseCArrays(): Record<string, WritableArray> {
  return {
    diffraction: { data: Float32Array.from(scan.amplitudes), shape: [count, 16, 16] },
    objectGuess: { data: scan.truth.data, shape: [48, 48], complex: true },
    probeGuess: { data: scan.probe.data, shape: [16, 16], complex: true },
    xcoords: Float64Array.from(scan.positions, (position) => position.x),
    ycoords: Float64Array.from(scan.positions, (position) => position.y),
  };
}

function writeInput(name: string, arrays: Record<string, WritableArray>): string {
  const file = join(directory, name);
  saveNpz(file, arrays);
  return file;
}

const input = writeInput("patched_test.npz", phaseCArrays());

async function reconstructToBytes(name: string, options: ReconstructOptions): Promise<Buffer> {
  const result = await reconstruct(loadPtychoProblem(input), options);
  const file = join(directory, name);
  saveReconstruction(file, result, input);
  return readFileSync(file);
}

function codeOf(action: () => unknown): { code: string; message: string } {
  try {
    action();
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error("expected an error");
}

describe("reconstruction files", () => {
  it("writes object, probe, positions, error history and parameters that read back", async () => {
    const problem = loadPtychoProblem(input);
    const result = await reconstruct(problem, { algorithm: "rpie", iterations: 3, seed: 1 });
    const file = join(directory, "phaseF", "dose_1e5", "reconstruction.npz");
    saveReconstruction(file, result, input);
    const arrays = loadNpz(file);
    expect(Object.keys(arrays).sort()).toEqual(["amplitude_mae", "fourier_error", "object", "parameters", "phase_mae", "positions", "probe"]);
    expect(arrays["object"]!.shape).toEqual([48, 48]);
    expect(arrays["object"]!.dtype).toBe("<c16");
    expect(Array.from(arrays["object"]!.data as Float64Array)).toEqual(Array.from(result.object.data));
    expect(arrays["probe"]!.shape).toEqual([16, 16]);
    expect(arrays["positions"]!.shape).toEqual([count, 2]);
    expect((arrays["positions"]!.data as Float64Array)[2 * 5 + 1]).toBe(scan.positions[5]!.y);
    expect(Array.from(arrays["fourier_error"]!.data as Float64Array)).toEqual(Array.from(result.fourierError));
    const parameters = JSON.parse((arrays["parameters"]!.data as string[])[0]!);
    expect(parameters).toMatchObject({ algorithm: "rpie", iterations: 3, seed: 1, positionHandling: "rounded-to-nearest-pixel", maxRoundingResidual: 0, source: "patched_test.npz" });
    // Without a ground truth there is no object error to record.
    const unscored = await reconstruct(loadPtychoProblem(input, { objectGuess: "shape-only" }), { iterations: 1 });
    expect(unscored.phaseMae).toBeNull();
    saveReconstruction(join(directory, "unscored.npz"), unscored);
    expect(Object.keys(loadNpz(join(directory, "unscored.npz"))).sort()).toEqual(["fourier_error", "object", "parameters", "positions", "probe"]);
    // Nothing but the file itself is left in the directory (the write went through a renamed temporary).
    expect(readdirSync(join(directory, "phaseF", "dose_1e5"))).toEqual(["reconstruction.npz"]);
  });

  it("gives byte-identical files for the same seed (the mini-batch variant at any thread count)", async () => {
    const epie = await reconstructToBytes("epie-a.npz", { algorithm: "epie", iterations: 4, seed: 9 });
    expect((await reconstructToBytes("epie-b.npz", { algorithm: "epie", iterations: 4, seed: 9 })).equals(epie)).toBe(true);
    expect((await reconstructToBytes("epie-c.npz", { algorithm: "epie", iterations: 4, seed: 10 })).equals(epie)).toBe(false);
    const batched = await reconstructToBytes("batch-a.npz", { algorithm: "minibatch", iterations: 4, seed: 9, batchSize: 8, threads: 2 });
    expect((await reconstructToBytes("batch-b.npz", { algorithm: "minibatch", iterations: 4, seed: 9, batchSize: 8, threads: 2 })).equals(batched)).toBe(true);
    const oneThread = await reconstructToBytes("batch-c.npz", { algorithm: "minibatch", iterations: 4, seed: 9, batchSize: 8, threads: 1 });
    // The thread count is recorded in the parameters; the estimates themselves are identical.
    const twoThreadArrays = loadNpz(join(directory, "batch-a.npz"));
    const oneThreadArrays = loadNpz(join(directory, "batch-c.npz"));
    expect(oneThread.equals(batched)).toBe(false);
    expect(Array.from(oneThreadArrays["object"]!.data as Float64Array)).toEqual(Array.from(twoThreadArrays["object"]!.data as Float64Array));
  });

  it("reads the canonical diff3d key and the legacy (H, W, n) layout as the same patterns", () => {
    const reference = loadPtychoProblem(input);
    const { diffraction: _, ...rest } = phaseCArrays();
    const canonical = loadPtychoProblem(writeInput("canonical.npz", { ...rest, diff3d: { data: Float32Array.from(scan.amplitudes), shape: [count, 16, 16] } }));
    expect(Array.from(canonical.amplitudes)).toEqual(Array.from(reference.amplitudes));
    const legacy = new Float32Array(scan.amplitudes.length);
    for (let pattern = 0; pattern < count; pattern++) {
      for (let pixel = 0; pixel < 256; pixel++) legacy[pixel * count + pattern] = scan.amplitudes[pattern * 256 + pixel]!;
    }
    const transposed = loadPtychoProblem(writeInput("legacy-layout.npz", { ...rest, diffraction: { data: legacy, shape: [16, 16, count] } }));
    expect(Array.from(transposed.amplitudes)).toEqual(Array.from(reference.amplitudes));
  });

    it("names the file and every missing key when a file lacks what a reconstruction needs", () => {
    const { diffraction: _, ...objectAndProbeOnly } = phaseCArrays();
    const noDiffraction = writeInput("object-only.npz", objectAndProbeOnly);
    const error = codeOf(() => loadPtychoProblem(noDiffraction));
    expect(error.code).toBe("E_PTYCHO_MISSING_KEY");
    expect(error.message).toContain(noDiffraction);
    expect(error.message).toContain("diff3d (or diffraction)");
    expect(error.message).toContain("--object-from");
    const { probeGuess: __, ycoords: ___, ...noProbe } = phaseCArrays();
    const both = codeOf(() => loadPtychoProblem(writeInput("no-probe.npz", noProbe)));
    expect(both.code).toBe("E_PTYCHO_MISSING_KEY");
    expect(both.message).toContain("probeGuess");
    expect(both.message).toContain("ycoords");
  });

  it("refuses NaN amplitudes, positions outside the object and mismatched shapes with codes naming the file", () => {
    const amplitudes = Float32Array.from(scan.amplitudes);
    amplitudes[2 * 256 + 3 * 16 + 4] = Number.NaN;
    const nan = writeInput("nan.npz", { ...phaseCArrays(), diffraction: { data: amplitudes, shape: [count, 16, 16] } });
    const nanError = codeOf(() => loadPtychoProblem(nan));
    expect(nanError.code).toBe("E_PTYCHO_NON_FINITE");
    expect(nanError.message).toContain(nan);
    expect(nanError.message).toContain("diff3d[2, 3, 4] = NaN");

    const xs = Float64Array.from(scan.positions, (position) => position.x);
    xs[1] = 47;
    const outside = writeInput("outside.npz", { ...phaseCArrays(), xcoords: xs });
    const outsideError = codeOf(() => loadPtychoProblem(outside));
    expect(outsideError.code).toBe("E_PTYCHO_POSITION_OUTSIDE");
    expect(outsideError.message).toContain(outside);
    expect(outsideError.message).toContain("1 (x = 47");

    const smallProbe = writeInput("small-probe.npz", { ...phaseCArrays(), probeGuess: { data: new Float64Array(128), shape: [8, 8], complex: true } });
    const probeError = codeOf(() => loadPtychoProblem(smallProbe));
    expect(probeError.code).toBe("E_PTYCHO_SHAPE");
    expect(probeError.message).toContain("probeGuess is 8×8");

    const fewerCoordinates = writeInput("fewer.npz", { ...phaseCArrays(), ycoords: Float64Array.from(scan.positions.slice(1), (position) => position.y) });
    const countError = codeOf(() => loadPtychoProblem(fewerCoordinates));
    expect(countError.code).toBe("E_PTYCHO_SHAPE");
    expect(countError.message).toContain(fewerCoordinates);
  });

  it("starts from the given object and scores only the central windows", async () => {
    const problem = loadPtychoProblem(input);
    // Starting at the true object, one sweep stays close to it; from the default flat object it does not.
    const fromTruth = await reconstruct(problem, { iterations: 1, initialObject: scan.truth });
    const fromOnes = await reconstruct(problem, { iterations: 1 });
    expect(fromTruth.parameters.initialObject).toBe("given");
    expect(fromTruth.phaseMae![0]!).toBeLessThan(0.02);
    expect(fromOnes.phaseMae![0]!).toBeGreaterThan(0.05);
    // The given object is copied, not updated in place.
    expect(Array.from(scan.truth.data)).toEqual(Array.from(loadNpz(input)["objectGuess"]!.data as Float64Array));
    // The default scored region is the central 8×8 of each 16×16 patch; whole patches cover more pixels.
    const whole = await reconstruct(problem, { iterations: 1, scoreWindow: 16 });
    expect(whole.scoredPixels).toBeGreaterThan(fromOnes.scoredPixels);
  });

    it("refuses out-of-range options with E_PTYCHO_OPTION", async () => {
    const problem = loadPtychoProblem(input);
    await expect(reconstruct(problem, { iterations: 0 })).rejects.toMatchObject({ code: "E_PTYCHO_OPTION" });
    await expect(reconstruct(problem, { algorithm: "rpie", objectWeight: 1.5 })).rejects.toMatchObject({ code: "E_PTYCHO_OPTION" });
    await expect(reconstruct(problem, { algorithm: "dm" as never })).rejects.toMatchObject({ code: "E_PTYCHO_OPTION" });
  });

  it("reports progress after every iteration and stops with E_CANCELLED when aborted", async () => {
    const problem = loadPtychoProblem(input);
    const controller = new AbortController();
    const seen: number[] = [];
    const run = reconstruct(problem, {
      iterations: 50,
      signal: controller.signal,
      onProgress: (progress) => {
        seen.push(progress.iteration);
        expect(progress.phaseMae).not.toBeNull();
        if (progress.iteration === 2) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: "E_CANCELLED" });
    expect(seen).toEqual([1, 2]);
    const minibatch = new AbortController();
    minibatch.abort();
    await expect(reconstruct(problem, { algorithm: "minibatch", signal: minibatch.signal })).rejects.toMatchObject({ code: "E_CANCELLED" });
  });
});
