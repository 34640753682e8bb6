/**
 * ePIE, rPIE and the mini-batch update against an independent numpy implementation of their rules, step
 * for step: the same scan, the same position order (data's shuffledOrder, passed to python), a probe update
 * from the second iteration on. Objects, probes and the Fourier-error history must agree to rounding.
 *
 * The probe here has a random phase, so no far-field pixel of an exit wave is (nearly) zero: where |F(ψ)|
 * is at rounding level, the corrected phase is rounding noise, and two correct FFTs would disagree there
 * (a band-limited probe on the flat starting object has such pixels outside its aperture).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadNpz, saveNpz, shuffledOrder } from "@studykit/data";
import { createComplexImage, rasterScanPositions, reconstruct, simulateDiffraction, type PtychoProblem, type ReconstructionAlgorithm } from "@studykit/ptycho";
import { afterAll, describe, expect, it } from "vitest";
import { findPython, pythonDependency, skipWithout } from "../../../tools/test-dependencies.js";
import { poissonSampler, smoothObject, uniformSource } from "./simulated-scan.js";

const python = findPython("numpy");
const noNumpy = skipWithout(pythonDependency(python, ["numpy"], ["python3-numpy"]));

const directory = mkdtempSync(join(tmpdir(), "studykit-ptycho-pie-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** Maiden & Rodenburg 2009 (ePIE) and Maiden, Johnson & Li 2017 (rPIE), written from the papers' formulas. */
const NUMPY_PIE = `
import sys
import numpy as np
f = np.load(sys.argv[1])
algorithm = str(f["algorithm"][0])
A = f["amplitudes"]
n = A.shape[1]
M = (np.fft.ifftshift(A.astype(np.float64), axes=(1, 2)) * n).astype(np.float32).astype(np.float64)
P = f["probe"].copy()
O = np.ones(tuple(f["object_shape"]), dtype=np.complex128)
tops = np.floor(f["ys"] + 0.5).astype(int) - n // 2
lefts = np.floor(f["xs"] + 0.5).astype(int) - n // 2
alpha, beta, probe_from = float(f["alpha"]), float(f["beta"]), int(f["probe_from"])
batch = int(f["batch"])
errors = []
def correction(j):
    t, l = tops[j], lefts[j]
    patch = O[t:t + n, l:l + n].copy()
    psi = P * patch
    F = np.fft.fft2(psi)
    mag = np.abs(F)
    safe = np.where(mag > 0, mag, 1)
    F = np.where(mag > 0, M[j] * F / safe, M[j])
    return t, l, patch, np.fft.ifft2(F) - psi, np.sum((mag - M[j]) ** 2)
for iteration, order in enumerate(f["orders"]):
    error = 0.0
    if algorithm == "minibatch":
        # Every member from the same estimates; corrections summed, divided by the regularised illumination.
        for start in range(0, len(order), batch):
            members = [correction(j) for j in order[start:start + batch]]
            num = np.zeros_like(O); D = np.zeros(O.shape)
            pnum = np.zeros_like(P); E = np.zeros(P.shape)
            for t, l, patch, delta, e in members:
                error += e
                num[t:t + n, l:l + n] += np.conj(P) * delta
                D[t:t + n, l:l + n] += np.abs(P) ** 2
                pnum += np.conj(patch) * delta
                E += np.abs(patch) ** 2
            touched = D > 0
            O[touched] += num[touched] / ((1 - alpha) * D[touched] + alpha * D.max())
            if iteration >= probe_from:
                P = P + pnum / ((1 - beta) * E + beta * E.max())
        errors.append(error / np.sum(M ** 2))
        continue
    for j in order:
        t, l = tops[j], lefts[j]
        patch = O[t:t + n, l:l + n].copy()
        psi = P * patch
        F = np.fft.fft2(psi)
        mag = np.abs(F)
        error += np.sum((mag - M[j]) ** 2)
        safe = np.where(mag > 0, mag, 1)
        F = np.where(mag > 0, M[j] * F / safe, M[j])
        delta = np.fft.ifft2(F) - psi
        p2 = np.abs(P) ** 2
        o2 = np.abs(patch) ** 2
        if algorithm == "epie":
            O[t:t + n, l:l + n] = patch + alpha * np.conj(P) * delta / p2.max()
            if iteration >= probe_from:
                P = P + beta * np.conj(patch) * delta / o2.max()
        else:
            O[t:t + n, l:l + n] = patch + np.conj(P) * delta / ((1 - alpha) * p2 + alpha * p2.max())
            if iteration >= probe_from:
                P = P + np.conj(patch) * delta / ((1 - beta) * o2 + beta * o2.max())
    errors.append(error / np.sum(M ** 2))
np.savez(sys.argv[2], object=O, probe=P, errors=np.array(errors))
`;

describe.skipIf(noNumpy)("ePIE, rPIE and the mini-batch update against numpy", () => {
  const uniform = uniformSource(17);
  const probe = createComplexImage(16, 16);
  for (let row = 0; row < 16; row++) {
    for (let column = 0; column < 16; column++) {
      const envelope = Math.exp(-((row - 7.5) ** 2 + (column - 7.5) ** 2) / (2 * 4 ** 2));
      const phase = 2 * Math.PI * uniform();
      probe.data[2 * (row * 16 + column)] = envelope * Math.cos(phase);
      probe.data[2 * (row * 16 + column) + 1] = envelope * Math.sin(phase);
    }
  }
  const truth = smoothObject(48, 48, 11);
  const positions = rasterScanPositions({ objectHeight: 48, objectWidth: 48, size: 16, overlap: 0.6 });
  const scan: PtychoProblem = {
    amplitudes: simulateDiffraction(probe, truth, positions, { dose: 1e5, noise: poissonSampler(12) }).amplitudes,
    positions,
    probe,
    objectHeight: 48,
    objectWidth: 48,
  };
  const iterations = 3;

  it.each([
    ["epie", 0.9, 0.7],
    ["rpie", 0.2, 0.5],
    ["minibatch", 0.3, 0.6],
  ] as const)("%s (α = %s, β = %s) follows the published update rules step for step", async (algorithm: ReconstructionAlgorithm, alpha, beta) => {
    const seed = 4;
    const batchSize = 5;
    const result = await reconstruct(scan, { algorithm, iterations, seed, objectWeight: alpha, probeWeight: beta, probeUpdateFrom: 1, batchSize, threads: 2 });
    const count = scan.positions.length;
    const orders = new Int32Array(iterations * count);
    for (let iteration = 0; iteration < iterations; iteration++) orders.set(shuffledOrder(count, seed, iteration), iteration * count);
    const input = join(directory, `${algorithm}.npz`);
    const output = join(directory, `${algorithm}.out.npz`);
    saveNpz(input, {
      algorithm: [algorithm],
      amplitudes: { data: Float32Array.from(scan.amplitudes), shape: [count, 16, 16] },
      probe: { data: scan.probe.data, shape: [16, 16], complex: true },
      object_shape: Int32Array.of(48, 48),
      xs: Float64Array.from(scan.positions, (position) => position.x),
      ys: Float64Array.from(scan.positions, (position) => position.y),
      orders: { data: orders, shape: [iterations, count] },
      alpha: { data: Float64Array.of(alpha), shape: [] },
      beta: { data: Float64Array.of(beta), shape: [] },
      probe_from: { data: Int32Array.of(1), shape: [] },
      batch: { data: Int32Array.of(batchSize), shape: [] },
    });
    const run = spawnSync(python!, ["-c", NUMPY_PIE, input, output], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const expected = loadNpz(output);
    const largestDifference = (actual: Float64Array, reference: Float64Array) => {
      let largest = 0;
      for (let index = 0; index < actual.length; index++) largest = Math.max(largest, Math.abs(actual[index]! - reference[index]!));
      return largest;
    };
    expect(largestDifference(result.object.data, expected["object"]!.data as Float64Array)).toBeLessThan(1e-9);
    expect(largestDifference(result.probe.data, expected["probe"]!.data as Float64Array)).toBeLessThan(1e-9);
    const errors = expected["errors"]!.data as Float64Array;
    for (let iteration = 0; iteration < iterations; iteration++) expect(result.fourierError[iteration]! / errors[iteration]!).toBeCloseTo(1, 9);
    // The probe did change from the second iteration on.
    expect(largestDifference(result.probe.data, scan.probe.data)).toBeGreaterThan(1e-3);
  });
});
