import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonical-json.js";
import type { CodeVersion } from "./code-version.js";
import { createPartialIdentity, identityFromRecord, runIdSourceOf, stableRunId, type PartialIdentityInput } from "./run-identity.js";

const codeVersion: CodeVersion = { packages: { "@studykit/core": "0.1.0" }, git: { commit: "a".repeat(40), dirty: false } };
const base: PartialIdentityInput = {
  stage: "train",
  config: { lr: 0.001, layers: [64, 32], optimizer: { name: "adam", beta1: 0.9 } },
  datasetSnapshotHash: "d".repeat(64),
  seeds: { init: 1, shuffle: 2 },
  codeVersion,
  runtime: { engine: "onnxruntime", backend: "cpu" },
};
const features = { positions: [1, 5, 9], model: "tiny" };
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

describe("createPartialIdentity", () => {
  it("records every field right after construction, immutably", () => {
    const partial = createPartialIdentity(base);
    expect(partial).toMatchObject({
      isFinal: false,
      stage: "train",
      config: base.config,
      configHash: sha256(canonicalJson(base.config)),
      datasetSnapshotHash: "d".repeat(64),
      seeds: { init: 1, shuffle: 2 },
      codeVersion,
      runtime: { engine: "onnxruntime", backend: "cpu" },
    });
    expect(partial.strictKey).toBeUndefined();
    expect(Object.isFrozen(partial)).toBe(true);
    expect(Object.isFrozen(partial.config)).toBe(true);
    expect(() => ((partial as { stage: string }).stage = "x")).toThrow(TypeError);
    // The caller's objects stay the caller's: editing them does not edit the identity.
    const config = { lr: 1 };
    const detached = createPartialIdentity({ ...base, config });
    config.lr = 2;
    expect(detached.config).toEqual({ lr: 1 });
  });

  it("defaults: a single seed number, no snapshot, empty runtime, detected code version", () => {
    const partial = createPartialIdentity({ stage: "s", config: {}, seeds: 42 });
    expect(partial.seeds).toEqual({ seed: 42 });
    expect(partial.datasetSnapshotHash).toBeNull();
    expect(partial.runtime).toEqual({});
    expect(partial.codeVersion.packages["@studykit/core"]).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    [{ stage: "../x" }, "stage"],
    [{ seeds: { init: 1.5 } }, "init"],
    [{ seeds: {} }, "seeds"],
    [{ datasetSnapshotHash: "" }, "datasetSnapshotHash"],
    [{ config: [1] }, "config"],
  ])("refuses %o with E_IDENTITY_INVALID naming %s", (override, name) => {
    expect(() => createPartialIdentity({ ...base, ...(override as object) } as PartialIdentityInput)).toThrow(expect.objectContaining({ code: "E_IDENTITY_INVALID", message: expect.stringContaining(name) }));
  });

  it("refuses configs canonical JSON cannot encode", () => {
    expect(() => createPartialIdentity({ ...base, config: { lr: NaN } })).toThrow(expect.objectContaining({ code: "E_CANONICAL_JSON" }));
  });
});

describe("finalize", () => {
  it("gives a final identity with strict, replicate and debug keys", () => {
    const final = createPartialIdentity(base).finalize(features);
    expect(final.isFinal).toBe(true);
    expect(final.strictKey).toMatch(/^[0-9a-f]{64}$/);
    expect(final.replicateKey).toMatch(/^[0-9a-f]{64}$/);
    expect(final.replicateKey).not.toBe(final.strictKey);
    expect(final.featureSignatureHash).toBe(sha256(canonicalJson(features)));
    expect(final.debugKey).toBe(`train-${final.strictKey.slice(0, 8)}-s1.2`);
    expect(Object.isFrozen(final)).toBe(true);
  });

  it("finalising twice, or finalising a final identity, is an error", () => {
    const partial = createPartialIdentity(base);
    const final = partial.finalize(features);
    expect(() => partial.finalize(features)).toThrow(expect.objectContaining({ code: "E_IDENTITY_FINAL" }));
    expect(() => final.finalize(features)).toThrow(expect.objectContaining({ code: "E_IDENTITY_FINAL" }));
  });

  it("same inputs give the same strictKey; key order in the config does not matter", () => {
    const a = createPartialIdentity(base).finalize(features);
    const reordered = createPartialIdentity({
      runtime: { backend: "cpu", engine: "onnxruntime" },
      seeds: { shuffle: 2, init: 1 },
      config: { optimizer: { beta1: 0.9, name: "adam" }, layers: [64, 32], lr: 0.001 },
      codeVersion: { git: { dirty: false, commit: "a".repeat(40) }, packages: { "@studykit/core": "0.1.0" } },
      datasetSnapshotHash: "d".repeat(64),
      stage: "train",
      root: "/somewhere/else/entirely",
    }).finalize({ model: "tiny", positions: [1, 5, 9] });
    expect(reordered.strictKey).toBe(a.strictKey);
    expect(reordered.debugKey).toBe(a.debugKey);
  });

  it("changing any one field changes strictKey; only seeds leave replicateKey alone", () => {
    const reference = createPartialIdentity(base).finalize(features);
    const variants: [string, PartialIdentityInput, unknown][] = [
      ["stage", { ...base, stage: "eval" }, features],
      ["config", { ...base, config: { ...base.config, lr: 0.002 } }, features],
      ["nested config", { ...base, config: { ...base.config, optimizer: { name: "adam", beta1: 0.8 } } }, features],
      ["snapshot", { ...base, datasetSnapshotHash: "e".repeat(64) }, features],
      ["no snapshot", { ...base, datasetSnapshotHash: null }, features],
      ["code commit", { ...base, codeVersion: { ...codeVersion, git: { commit: "b".repeat(40), dirty: false } } }, features],
      ["dirty", { ...base, codeVersion: { ...codeVersion, git: { commit: "a".repeat(40), dirty: true } } }, features],
      ["package version", { ...base, codeVersion: { ...codeVersion, packages: { "@studykit/core": "0.2.0" } } }, features],
      ["runtime", { ...base, runtime: { engine: "tfjs", backend: "cpu" } }, features],
      ["features", base, { ...features, positions: [1, 5] }],
      ["seeds", { ...base, seeds: { init: 1, shuffle: 3 } }, features],
    ];
    const strictKeys = new Set([reference.strictKey]);
    for (const [label, input, signature] of variants) {
      const final = createPartialIdentity(input).finalize(signature as never);
      expect(final.strictKey, label).not.toBe(reference.strictKey);
      strictKeys.add(final.strictKey);
      if (label === "seeds") expect(final.replicateKey).toBe(reference.replicateKey);
      else expect(final.replicateKey, label).not.toBe(reference.replicateKey);
    }
    expect(strictKeys.size).toBe(variants.length + 1);
  });

  it("round-trips through its JSON record, and refuses an edited record", () => {
    const final = createPartialIdentity(base).finalize(features);
    const record = JSON.parse(JSON.stringify(final));
    const revived = identityFromRecord(record);
    expect(revived.isFinal && revived.strictKey).toBe(final.strictKey);
    expect(() => identityFromRecord({ ...record, seeds: { init: 9, shuffle: 2 } })).toThrow(expect.objectContaining({ code: "E_IDENTITY_INVALID" }));
    expect(() => identityFromRecord({ ...record, config: { lr: 5 } })).toThrow(/edited/);
    const partial = identityFromRecord(JSON.parse(JSON.stringify(createPartialIdentity(base))));
    expect(partial.isFinal).toBe(false);
  });
});

describe("stableRunId", () => {
  it("derives from the final identity only", () => {
    const final = createPartialIdentity(base).finalize(features);
    expect(stableRunId(final)).toBe(`run-${final.strictKey.slice(0, 32)}`);
    expect(stableRunId(JSON.parse(JSON.stringify(final)))).toBe(stableRunId(final));
    expect(runIdSourceOf(final)).toBe("final");
  });

  it("strict mode refuses a partial identity", () => {
    expect(() => stableRunId(createPartialIdentity(base))).toThrow(expect.objectContaining({ code: "E_IDENTITY_NOT_FINAL" }));
    expect(() => stableRunId(createPartialIdentity(base), { mode: "strict" })).toThrow(/not final/);
  });

  it("best-effort mode warns and returns a marked, deterministic fallback id", () => {
    const warnings: string[] = [];
    const partial = createPartialIdentity(base);
    const id = stableRunId(partial, { mode: "best-effort", onWarning: (message) => warnings.push(message) });
    expect(id).toMatch(/^fallback-[0-9a-f]{32}$/);
    expect(stableRunId(createPartialIdentity(base), { mode: "best-effort", onWarning: () => {} })).toBe(id);
    expect(warnings).toEqual([expect.stringContaining('runIdSource "fallback"')]);
    expect(runIdSourceOf(partial)).toBe("fallback");
  });
});
