import { describe, expect, it } from "vitest";
import { assessComparability } from "./comparability.js";
import { createPartialIdentity, type PartialIdentityInput } from "./run-identity.js";

const base: PartialIdentityInput = {
  stage: "train",
  config: { lr: 0.001, optimizer: { name: "adam" } },
  datasetSnapshotHash: "d".repeat(64),
  seeds: 1,
  codeVersion: { packages: { "@studykit/core": "0.1.0" }, git: { commit: "a".repeat(40), dirty: false } },
  runtime: { engine: "onnxruntime" },
};
const final = (input: Partial<PartialIdentityInput> = {}, features: unknown = ["x"]) => createPartialIdentity({ ...base, ...input }).finalize(features as never);
const quiet = { onWarning: () => {} };

describe("assessComparability", () => {
  it("identical runs, and replicates differing only in seeds, are stable", () => {
    expect(assessComparability(final(), final(), { mode: "strict" })).toEqual({ comparable: true, level: "stable", reasons: [], details: [] });
    const replicates = assessComparability(final(), final({ seeds: 2 }), { mode: "strict" });
    expect(replicates).toMatchObject({ comparable: true, level: "stable", reasons: [expect.stringMatching(/^seeds differ/)], details: [{ field: "seeds", kind: "replicate" }] });
  });

  it("names every field that differs, config down to the key", () => {
    const verdict = assessComparability(
      final(),
      final({ stage: "eval", config: { lr: 0.01, optimizer: { name: "sgd" }, extra: true }, datasetSnapshotHash: "e".repeat(64), runtime: { engine: "tfjs" } }, ["y"]),
      quiet,
    );
    expect(verdict.comparable).toBe(false);
    expect(verdict.level).toBe("incomparable");
    expect(verdict.details.map((reason) => reason.field).sort()).toEqual(
      ["config.extra", "config.lr", "config.optimizer.name", "datasetSnapshotHash", "featureSignatureHash", "runtime.engine", "stage"].sort(),
    );
    expect(verdict.details.find((reason) => reason.field === "config.lr")).toMatchObject({ a: 0.001, b: 0.01 });
    expect(verdict.reasons).toContain("config.lr differs: 0.001 vs 0.01");
    for (const field of ["stage", "config.extra", "config.optimizer.name", "datasetSnapshotHash", "featureSignatureHash", "runtime.engine"]) {
      expect(verdict.reasons.some((reason) => reason.startsWith(field))).toBe(true);
    }
  });

  it("strict mode: a missing snapshot hash or a partial identity is an error", () => {
    expect(() => assessComparability(final({ datasetSnapshotHash: null }), final(), { mode: "strict" })).toThrow(expect.objectContaining({ code: "E_SNAPSHOT_REQUIRED" }));
    expect(() => assessComparability(final(), createPartialIdentity(base), { mode: "strict" })).toThrow(expect.objectContaining({ code: "E_IDENTITY_NOT_FINAL" }));
  });

  it("warn mode: missing evidence makes the verdict best-effort, with a reason and a warning", () => {
    const warnings: string[] = [];
    const verdict = assessComparability(final({ datasetSnapshotHash: null }), final({ datasetSnapshotHash: null }), { mode: "warn", onWarning: (m) => warnings.push(m) });
    expect(verdict).toMatchObject({ comparable: true, level: "best-effort" });
    expect(verdict.reasons.filter((reason) => reason.startsWith("datasetSnapshotHash: missing"))).toHaveLength(2);
    expect(warnings).toHaveLength(1);
    const partial = assessComparability(createPartialIdentity(base), final(), { mode: "best-effort", ...quiet });
    expect(partial).toMatchObject({ comparable: true, level: "best-effort", details: [{ field: "isFinal", kind: "not-final" }] });
  });

  it("off mode ignores a missing snapshot hash but not a differing one", () => {
    expect(assessComparability(final({ datasetSnapshotHash: null }), final(), { mode: "off" })).toEqual({ comparable: true, level: "stable", reasons: [], details: [] });
    expect(assessComparability(final({ datasetSnapshotHash: "e".repeat(64) }), final(), { mode: "off" }).comparable).toBe(false);
  });

  it("a different code version is best-effort in warn mode and incomparable in strict mode", () => {
    const other = final({ codeVersion: { packages: { "@studykit/core": "0.1.0" }, git: { commit: "b".repeat(40), dirty: false } } });
    expect(assessComparability(final(), other, quiet)).toMatchObject({ comparable: true, level: "best-effort", details: [{ field: "codeVersion.git.commit" }] });
    expect(assessComparability(final(), other, { mode: "strict" })).toMatchObject({ comparable: false, level: "incomparable" });
    const dirty = final({ codeVersion: { packages: { "@studykit/core": "0.1.0" }, git: { commit: "a".repeat(40), dirty: true } } });
    expect(assessComparability(dirty, dirty, quiet)).toMatchObject({ level: "best-effort", details: [{ field: "codeVersion.git.dirty" }] });
  });

  it("accepts manifest records as well as identity objects", () => {
    const record = JSON.parse(JSON.stringify(final()));
    expect(assessComparability(record, final(), { mode: "strict" }).level).toBe("stable");
  });
});
