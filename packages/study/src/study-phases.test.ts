import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadNpz } from "@studykit/data";
import { presetConfig, mergeStudyConfig, type StudyConfig } from "./study-config.js";
import { runPhaseC } from "./simulate-phase.js";
import { runPhaseD, type GroupsFile } from "./overlap-phase.js";
import { partitionBySpacing, spacingThreshold } from "./overlap-views.js";
import { buildStudyMatrix } from "./study-pipeline.js";
import type { ResolvedRuntime } from "./runtime-selection.js";
import type { StudyJobConfig } from "./study-job.js";
import { findPython, pythonDependency, skipWithout } from "../../../tools/test-dependencies.js";

const root = mkdtempSync(path.join(tmpdir(), "studykit-phases-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config: StudyConfig = mergeStudyConfig(presetConfig("quick"), {
  object: { source: "procedural", height: 128, width: 128 },
  scan: { count: 300 },
  doses: [1e3, 1e5],
  overlap: { minCount: 10 },
});

const python = findPython("numpy");

describe("phases C and D", () => {
  const phaseC = runPhaseC(config, root);

  it("writes patched_{train,test}.npz per dose with the legacy key and the ptycho arrays", () => {
    expect(phaseC.reused).toBe(false);
    expect(phaseC.manifest.doses.map((record) => record.dose)).toEqual([1e3, 1e5]);
    const train = loadNpz(path.join(root, "phaseC/dose_1000/patched_train.npz"));
    expect(Object.keys(train).sort()).toEqual(["Y", "diffraction", "objectGuess", "probeGuess", "scan_index", "xcoords", "ycoords"]);
    const n = phaseC.manifest.positions.train;
    expect(train["diffraction"]!.shape).toEqual([n, 32, 32]);
    expect(train["diffraction"]!.dtype).toBe("<f4");
    expect(train["Y"]!.shape).toEqual([n, 32, 32]);
    expect(train["Y"]!.complex).toBe(true);
    expect(train["objectGuess"]!.shape).toEqual([128, 128]);
    expect(train["probeGuess"]!.shape).toEqual([32, 32]);
    expect(phaseC.manifest.positions.train + phaseC.manifest.positions.test).toBe(300);
    // Spatial split: every train position lies above every test position.
    const test = loadNpz(path.join(root, "phaseC/dose_1000/patched_test.npz"));
    const maxTrainY = Math.max(...(train["ycoords"]!.data as Float64Array));
    const minTestY = Math.min(...(test["ycoords"]!.data as Float64Array));
    expect(maxTrainY).toBeLessThan(minTestY);
  });

  it("mean photons per pattern are within 5% of each dose, and the stored amplitudes are noisy whole counts", () => {
    for (const record of phaseC.manifest.doses) expect(Math.abs(record.meanPhotonCount / record.dose - 1)).toBeLessThan(0.05);
    // Amplitudes are sqrt(Poisson counts)/s: (amplitude·s)² is a whole number of photons at every pixel (the
    // noise-free far field almost never is), so the seeded sampler really reached the forward model.
    const record = phaseC.manifest.doses[0]!;
    const diffraction = loadNpz(path.join(root, record.files.train))["diffraction"]!.data as Float32Array;
    let worst = 0;
    for (let index = 0; index < diffraction.length; index += 7) {
      const counts = (diffraction[index]! * record.scale) ** 2;
      worst = Math.max(worst, Math.abs(counts - Math.round(counts)));
    }
    expect(worst).toBeLessThan(1e-2);
  });

  it.skipIf(skipWithout(pythonDependency(python, ["numpy"], ["python3-numpy"])))("numpy reads the files, and Y·s is the object crop at (ycoords − N/2, xcoords − N/2)", () => {
    const scale = phaseC.manifest.doses[0]!.scale;
    const script = `
import numpy as np, sys, json
d = np.load(sys.argv[1])
assert d["diffraction"].dtype == np.float32 and d["Y"].dtype == np.complex64 and d["scan_index"].dtype == np.int64
obj = d["objectGuess"]; n = d["probeGuess"].shape[0]; s = float(sys.argv[2])
err = 0.0
for i in range(len(d["xcoords"])):
    y, x = int(d["ycoords"][i]) - n // 2, int(d["xcoords"][i]) - n // 2
    err = max(err, float(np.abs(d["Y"][i] * s - obj[y:y + n, x:x + n]).max()))
photons = float((d["diffraction"].astype(np.float64) ** 2).sum(axis=(1, 2)).mean() * s * s)
print(json.dumps({"err": err, "photons": photons}))`;
    const out = JSON.parse(execFileSync(python!, ["-c", script, path.join(root, "phaseC/dose_1000/patched_train.npz"), String(scale)], { encoding: "utf8" })) as { err: number; photons: number };
    expect(out.err).toBeLessThan(1e-5);
    expect(Math.abs(out.photons / 1000 - 1)).toBeLessThan(0.1);
  });

  it("a second run with the same config reuses the files; a changed config resimulates", () => {
    const before = statSync(path.join(root, "phaseC/dose_1000/patched_train.npz")).mtimeMs;
    expect(runPhaseC(config, root).reused).toBe(true);
    expect(statSync(path.join(root, "phaseC/dose_1000/patched_train.npz")).mtimeMs).toBe(before);
  });

  it("phase D keeps dense positions ≥ S apart, groups them in fours, and rejects a view below the minimum", () => {
    const { manifest } = runPhaseD(config, root, phaseC.manifest);
    const dense = manifest.views.find((record) => record.view === "dense" && record.dose === 1000 && record.split === "train")!;
    expect(dense.status).toBe("accepted");
    expect(dense.spacing).toBeCloseTo(spacingThreshold(0.7, 32), 10);
    const view = loadNpz(path.join(root, dense.files!.dataset));
    const xs = view["xcoords"]!.data as Float64Array;
    const ys = view["ycoords"]!.data as Float64Array;
    expect(xs.length).toBe(dense.accepted);
    // The training view is every training position (quick's overlap.scans: null), in disjoint scans each
    // ≥ S apart: the npz rows are the scans one after the other, the first being one spacing-filtered scan.
    const train = loadNpz(path.join(root, "phaseC/dose_1000/patched_train.npz"));
    const trainXs = train["xcoords"]!.data as Float64Array;
    const trainYs = train["ycoords"]!.data as Float64Array;
    const scans = partitionBySpacing(Array.from(trainXs, (x, index) => ({ x, y: trainYs[index]! })), dense.spacing, null);
    expect(dense.scans).toBe(scans.length);
    expect(dense.accepted).toBe(phaseC.manifest.positions.train);
    expect(Array.from(xs)).toEqual(scans.flat().map((index) => trainXs[index]!));
    const scanOfRow = scans.flatMap((scan, index) => scan.map(() => index));
    let first = 0;
    for (const scan of scans) {
      for (let i = first; i < first + scan.length; i++) {
        for (let j = i + 1; j < first + scan.length; j++) expect(Math.hypot(xs[i]! - xs[j]!, ys[i]! - ys[j]!)).toBeGreaterThanOrEqual(dense.spacing);
      }
      first += scan.length;
    }
    const groups = JSON.parse(readFileSync(path.join(root, dense.files!.groups!), "utf8")) as GroupsFile;
    // nGroups by default: ⌈training positions / 4⌉ (K-choose-C oversampling), each inside one scan.
    expect(groups.groups).toHaveLength(Math.ceil(phaseC.manifest.positions.train / 4));
    expect(dense.groupCount).toBe(groups.groups.length);
    for (const group of groups.groups) {
      expect(new Set(group).size).toBe(4);
      expect(new Set(group.map((row) => scanOfRow[row])).size).toBe(1);
    }
    // On a 128×128 object with 300 positions the sparse view (S = 25.6 px) keeps too few points.
    const sparse = manifest.views.find((record) => record.view === "sparse" && record.dose === 1000 && record.split === "train")!;
    expect(sparse.status).toBe("rejected");
    expect(sparse.reason).toMatch(/spacing threshold/);
    expect(existsSync(path.join(root, "phaseD/dose_1000/sparse"))).toBe(false);
  });

  it("the PINN jobs' physics scales predict the measured amplitudes from the amplitude targets' object (naive DFT)", () => {
    const { manifest: phaseD } = runPhaseD(config, root, phaseC.manifest);
    const runtime = { engine: "onnxruntime", backend: "cpu", fallbacks: [], identity: {} } as unknown as ResolvedRuntime;
    const matrix = buildStudyMatrix(config, root, phaseC.manifest, phaseD, runtime);
    const job = matrix.jobs.find((entry) => entry.id === "dose_100000/dense/pinn-gs2")!;
    const jobConfig = job.config as unknown as StudyJobConfig;
    expect(jobConfig.method).toBe("pinn");
    expect(jobConfig.physics!.canvasPadding).toBe(32);
    expect(matrix.jobs.find((entry) => entry.id === "dose_100000/baseline/pinn-gs1")!.config).toMatchObject({ physics: { canvasPadding: null } });
    expect(matrix.jobs.find((entry) => entry.id === "dose_100000/baseline/gs1")!.config).toMatchObject({ method: "supervised", physics: null });
    // The network's object is the amplitude target's: O_net = Y·amplitudeScale·e^{i arg Y} = O / max|O|. Its
    // predicted intensity intensityScale·|DFT(P·probeScale·O_net)|² (orthonormal DFT, fftshifted) must match
    // the model input squared, X² = (diffraction·inputScale)², summed over patterns (Poisson noise averages out).
    const arrays = loadNpz(path.join(root, "phaseC/dose_100000/patched_train.npz"));
    const n = 32;
    const probe = arrays["probeGuess"]!.data as Float64Array;
    const patches = arrays["Y"]!.data as Float64Array;
    const diffraction = arrays["diffraction"]!.data as Float32Array;
    const { intensityScale, probeScale } = jobConfig.physics!;
    let predicted = 0;
    let measured = 0;
    for (let pattern = 0; pattern < 8; pattern++) {
      const psiRe = new Float64Array(n * n);
      const psiIm = new Float64Array(n * n);
      for (let pixel = 0; pixel < n * n; pixel++) {
        const oRe = patches[2 * (pattern * n * n + pixel)]! * jobConfig.amplitudeScale;
        const oIm = patches[2 * (pattern * n * n + pixel) + 1]! * jobConfig.amplitudeScale;
        const pRe = probe[2 * pixel]! * probeScale;
        const pIm = probe[2 * pixel + 1]! * probeScale;
        psiRe[pixel] = oRe * pRe - oIm * pIm;
        psiIm[pixel] = oRe * pIm + oIm * pRe;
      }
      for (let ku = 0; ku < n; ku++) {
        for (let kv = 0; kv < n; kv++) {
          let re = 0;
          let im = 0;
          for (let y = 0; y < n; y++) {
            for (let x = 0; x < n; x++) {
              const angle = (-2 * Math.PI * (ku * y + kv * x)) / n;
              const c = Math.cos(angle);
              const sn = Math.sin(angle);
              re += psiRe[y * n + x]! * c - psiIm[y * n + x]! * sn;
              im += psiRe[y * n + x]! * sn + psiIm[y * n + x]! * c;
            }
          }
          predicted += (intensityScale * (re * re + im * im)) / (n * n);
        }
      }
      for (let pixel = 0; pixel < n * n; pixel++) measured += (diffraction[pattern * n * n + pixel]! * jobConfig.inputScale) ** 2;
    }
    expect(predicted / measured).toBeGreaterThan(0.98);
    expect(predicted / measured).toBeLessThan(1.02);
  });

  it("phase D cuts the test split's views by the same rule, from the test positions only, without groups", () => {
    const { manifest } = runPhaseD(config, root, phaseC.manifest);
    const test = loadNpz(path.join(root, "phaseC/dose_1000/patched_test.npz"));
    const testYs = test["ycoords"]!.data as Float64Array;
    const dense = manifest.views.find((record) => record.view === "dense" && record.dose === 1000 && record.split === "test")!;
    expect(dense.status).toBe("accepted");
    expect(dense.candidates).toBe(phaseC.manifest.positions.test);
    expect(dense.files).toEqual({ dataset: "phaseD/dose_1000/dense/dense_test.npz", groups: null });
    const view = loadNpz(path.join(root, dense.files!.dataset));
    const xs = view["xcoords"]!.data as Float64Array;
    const ys = view["ycoords"]!.data as Float64Array;
    expect(xs.length).toBe(dense.accepted);
    // Every kept position is a test position (y on the test side of the split), at least S from the others.
    for (const y of ys) expect(y).toBeGreaterThanOrEqual(Math.min(...testYs));
    for (let i = 0; i < xs.length; i++) {
      for (let j = i + 1; j < xs.length; j++) expect(Math.hypot(xs[i]! - xs[j]!, ys[i]! - ys[j]!)).toBeGreaterThanOrEqual(dense.spacing);
    }
    // The diffraction rows travel with their positions: scan_index picks the same rows of Phase C's test file.
    const scanIndex = Array.from(view["scan_index"]!.data as BigInt64Array, Number);
    const testIndex = Array.from(test["scan_index"]!.data as BigInt64Array, Number);
    const pixels = 32 * 32;
    const row = testIndex.indexOf(scanIndex[1]!);
    expect(Array.from((view["diffraction"]!.data as Float32Array).subarray(pixels, 2 * pixels))).toEqual(Array.from((test["diffraction"]!.data as Float32Array).subarray(row * pixels, (row + 1) * pixels)));
    const sparse = manifest.views.find((record) => record.view === "sparse" && record.dose === 1000 && record.split === "test")!;
    expect(sparse.status).toBe("rejected");
    expect(sparse.reason).toMatch(/test positions/);
  });
});

describe("phase reuse checks contents", () => {
  it("a phase manifest of another format or phase is not reused: the phase runs again and rewrites it", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "studykit-format-"));
    try {
      const first = runPhaseC(config, dir);
      const manifestC = path.join(dir, "phaseC", "phase_manifest.json");
      writeFileSync(manifestC, JSON.stringify({ ...first.manifest, formatVersion: 0 }));
      const second = runPhaseC(config, dir);
      expect(second.reused).toBe(false);
      expect(JSON.parse(readFileSync(manifestC, "utf8")).formatVersion).toBe(first.manifest.formatVersion);
      const views = runPhaseD(config, dir, second.manifest);
      const manifestD = path.join(dir, "phaseD", "phase_manifest.json");
      writeFileSync(manifestD, JSON.stringify({ ...views.manifest, phase: "C" }));
      const again = runPhaseD(config, dir, second.manifest);
      expect(again.reused).toBe(false);
      expect(JSON.parse(readFileSync(manifestD, "utf8")).phase).toBe("D");
      // And unchanged manifests are reused, so the two refusals above are about the manifests alone.
      expect(runPhaseC(config, dir).reused).toBe(true);
      expect(runPhaseD(config, dir, second.manifest).reused).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a damaged phase C file is resimulated, not reused", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "studykit-damage-"));
    try {
      const first = runPhaseC(config, dir);
      const file = path.join(dir, first.manifest.doses[0]!.files.test);
      const { saveNpz } = await import("@studykit/data");
      // Same keys, different contents: existence alone must not count as current.
      const arrays = loadNpz(file);
      const diffraction = arrays["diffraction"]!;
      const changed = Float32Array.from(diffraction.data as Float32Array, (value) => value + 1);
      saveNpz(file, { ...arrays, diffraction: { data: changed, shape: diffraction.shape } });
      const second = runPhaseC(config, dir);
      expect(second.reused).toBe(false);
      expect(Array.from(loadNpz(file)["diffraction"]!.data as Float32Array)).toEqual(Array.from(diffraction.data as Float32Array));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
