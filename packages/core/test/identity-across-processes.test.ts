// The same config, data and seeds give the same strictKey in another process, started elsewhere with
// another environment: keys depend on identity fields only, never on where or by whom they are computed.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createPartialIdentity } from "@studykit/core";
import { useTempDirs } from "./helpers.js";

const tempDir = useTempDirs();
const input = {
  stage: "train",
  config: { model: { layers: [8, 4] }, lr: 0.001 },
  datasetSnapshotHash: "c".repeat(64),
  seeds: { init: 4 },
  codeVersion: { packages: { "@studykit/core": "0.1.0" }, git: { commit: "f".repeat(40), dirty: false } },
  runtime: { engine: "onnxruntime" },
};

describe("strictKey across processes and directories", () => {
  it("is the same when computed by another process in another directory", async () => {
    const here = createPartialIdentity(input).finalize({ features: ["a"] });
    const script = `import("@studykit/core").then(({ createPartialIdentity }) => {
      const input = JSON.parse(process.env.IDENTITY_INPUT);
      process.stdout.write(createPartialIdentity({ ...input, config: { lr: input.config.lr, model: input.config.model } }).finalize({ features: ["a"] }).strictKey);
    })`;
    const elsewhere = await tempDir();
    const strictKey = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: new URL("..", import.meta.url).pathname,
      env: { ...process.env, IDENTITY_INPUT: JSON.stringify(input), HOME: elsewhere, TZ: "Asia/Kolkata", LANG: "de_DE.UTF-8" },
      encoding: "utf8",
    });
    expect(strictKey).toBe(here.strictKey);
  });
});
