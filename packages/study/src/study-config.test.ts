import { describe, expect, it } from "vitest";
import { mergeStudyConfig, presetConfig, validateStudyConfig } from "./study-config.js";

describe("study configuration", () => {
  it("both presets are valid complete configurations", () => {
    for (const name of ["quick", "full"] as const) expect(validateStudyConfig(presetConfig(name))).toEqual(presetConfig(name));
    expect(presetConfig("full").probe.size).toBe(64);
    expect(presetConfig("quick").doses).toEqual([1e3, 1e4, 1e5]);
  });

  it("merges objects deeply and replaces arrays and scalars", () => {
    const merged = mergeStudyConfig(presetConfig("quick"), { doses: [500], training: { epochs: 3 }, object: { source: "procedural", width: 160 } });
    expect(merged.doses).toEqual([500]);
    expect(merged.training.epochs).toBe(3);
    expect(merged.training.batchSize).toBe(presetConfig("quick").training.batchSize);
    expect(merged.object).toEqual({ source: "procedural", height: 192, width: 160 });
  });

  it("reports every problem at once with E_STUDY_CONFIG", () => {
    try {
      mergeStudyConfig(presetConfig("quick"), { doses: [0], views: ["dense", "dense"], probe: { size: 24 }, compare: { stitchWindow: 99 }, extra: 1 });
      expect.unreachable();
    } catch (error) {
      const { code, problems } = error as { code: string; problems: string[] };
      expect(code).toBe("E_STUDY_CONFIG");
      const text = problems.join("\n");
      for (const field of ["doses", "views", "probe.size", "compare.stitchWindow", "extra"]) expect(text).toContain(field);
    }
    expect(() => mergeStudyConfig(presetConfig("quick"), [1, 2])).toThrow(expect.objectContaining({ code: "E_STUDY_CONFIG" }));
  });

  it("validates the reconstruction section, every problem with its key", () => {
    const merged = mergeStudyConfig(presetConfig("quick"), { reconstruction: { algorithm: "rpie", alpha: 0.2, iterations: 5 } });
    expect(merged.reconstruction).toEqual({ ...presetConfig("quick").reconstruction, algorithm: "rpie", alpha: 0.2, iterations: 5 });
    try {
      mergeStudyConfig(presetConfig("quick"), { reconstruction: { algorithm: "lsqml", iterations: 0, seed: -1, batchSize: 0, depth: 3 } });
      expect.unreachable();
    } catch (error) {
      const { code, problems } = error as { code: string; problems: string[] };
      expect(code).toBe("E_STUDY_CONFIG");
      const text = problems.join("\n");
      for (const field of ["reconstruction.algorithm", "reconstruction.iterations", "reconstruction.seed", "reconstruction.batchSize", "depth"]) expect(text).toContain(field);
    }
    // α's range depends on the algorithm: 1.5 is a valid ePIE step but no rPIE weight.
    expect(mergeStudyConfig(presetConfig("quick"), { reconstruction: { algorithm: "epie", alpha: 1.5 } }).reconstruction.alpha).toBe(1.5);
    expect(() => mergeStudyConfig(presetConfig("quick"), { reconstruction: { algorithm: "rpie", alpha: 1.5 } })).toThrow(/reconstruction\.alpha: 1\.5 is outside \[0, 1\] for rpie/);
    expect(() => mergeStudyConfig(presetConfig("quick"), { reconstruction: { probeUpdateFrom: 50 } })).toThrow(/reconstruction\.probeUpdateFrom: 50 would never update the probe in 50 iterations/);
  });

  it("replicates: 1 in quick, 3 in full, 1 when a configuration omits it, a whole number from 1 to 100", () => {
    expect(presetConfig("quick").replicates).toBe(1);
    expect(presetConfig("full").replicates).toBe(3);
    const { replicates: _replicates, ...older } = presetConfig("quick");
    expect(validateStudyConfig(older).replicates).toBe(1);
    expect(mergeStudyConfig(presetConfig("quick"), { replicates: 5 }).replicates).toBe(5);
    for (const bad of [0, 2.5, 101, Number.NaN]) expect(() => mergeStudyConfig(presetConfig("quick"), { replicates: bad }, "--replicates")).toThrow(/replicates/);
  });

  it("switching the object to a file replaces the whole object block", () => {
    const merged = mergeStudyConfig(presetConfig("quick"), { object: { source: "file", path: "x.npz", reuseCoordinates: true } });
    expect(merged.object).toEqual({ source: "file", path: "x.npz", reuseCoordinates: true });
  });

  it("training.schedule: constant in both presets and when omitted; another kind replaces the whole block", () => {
    expect(presetConfig("quick").training.schedule).toEqual({ kind: "constant" });
    expect(presetConfig("full").training.schedule).toEqual({ kind: "constant" });
    const { schedule: _schedule, ...olderTraining } = presetConfig("quick").training;
    expect(validateStudyConfig({ ...presetConfig("quick"), training: olderTraining }).training.schedule).toEqual({ kind: "constant" });
    const cosine = mergeStudyConfig(presetConfig("quick"), { training: { schedule: { kind: "cosine", minLearningRate: 1e-4 } } });
    expect(cosine.training.schedule).toEqual({ kind: "cosine", minLearningRate: 1e-4 });
    expect(mergeStudyConfig(cosine, { training: { schedule: { kind: "constant" } } }).training.schedule).toEqual({ kind: "constant" });
    expect(() => mergeStudyConfig(presetConfig("quick"), { training: { schedule: { kind: "cosine" } } })).toThrow(/training\.schedule/);
    expect(() => mergeStudyConfig(presetConfig("quick"), { training: { schedule: { kind: "warmup" } } })).toThrow(/training\.schedule/);
  });

  it("training.pinnObjective: Poisson NLL when omitted (a configuration written before the option), the amplitude MAE on request, nothing else", () => {
    const { pinnObjective: _objective, ...olderTraining } = presetConfig("quick").training;
    expect(validateStudyConfig({ ...presetConfig("quick"), training: olderTraining }).training.pinnObjective).toBe("poissonNll");
    expect(presetConfig("full").training.pinnObjective).toBe("poissonNll");
    expect(mergeStudyConfig(presetConfig("full"), { training: { pinnObjective: "amplitudeMae" } }).training.pinnObjective).toBe("amplitudeMae");
    expect(() => mergeStudyConfig(presetConfig("quick"), { training: { pinnObjective: "mse" } })).toThrow(/training\.pinnObjective/);
  });

  it("training.augmentation: none when omitted (a configuration written before the option), dihedral on request, nothing else", () => {
    const { augmentation: _augmentation, ...olderTraining } = presetConfig("full").training;
    expect(validateStudyConfig({ ...presetConfig("full"), training: olderTraining }).training.augmentation).toBe("none");
    expect(mergeStudyConfig(presetConfig("full"), { training: { augmentation: "dihedral" } }).training.augmentation).toBe("dihedral");
    expect(() => mergeStudyConfig(presetConfig("quick"), { training: { augmentation: "rotate" } })).toThrow(/training\.augmentation/);
  });

  it("training.model: the four model presets, nothing else", () => {
    for (const model of ["reference", "compact", "compactStrided", "tiny"]) expect(mergeStudyConfig(presetConfig("quick"), { training: { model } }).training.model).toBe(model);
    expect(() => mergeStudyConfig(presetConfig("quick"), { training: { model: "huge" } })).toThrow(/training\.model/);
  });
});
