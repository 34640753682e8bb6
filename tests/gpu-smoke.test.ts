/**
 * tools/gpu-smoke.sh where there is no GPU: it exits 0 saying so; and with a GPU listed (a stand-in
 * `nvidia-smi`) but no CUDA provider library, it fails naming the library — the path a GPU machine with
 * an incomplete install takes. On a machine with a real GPU, run the script itself.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(new URL("..", import.meta.url).pathname);
const script = path.join(root, "tools/gpu-smoke.sh");
const work = mkdtempSync(path.join(tmpdir(), "studykit-gpu-smoke-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const systemPath = [path.dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":");
const hasNvidiaSmi = spawnSync("sh", ["-c", "command -v nvidia-smi"], { env: { PATH: systemPath } }).status === 0;
const run = (pathPrefix: string | null) =>
  spawnSync("bash", [script], { encoding: "utf8", env: { ...process.env, PATH: pathPrefix ? `${pathPrefix}:${systemPath}` : systemPath }, timeout: 120_000 });

describe("tools/gpu-smoke.sh", () => {
  it.skipIf(hasNvidiaSmi)("exits 0 with a clear message on a machine without a GPU", () => {
    const result = run(null);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^gpu-smoke: no GPU check on this machine: nvidia-smi is not installed/);
  });

  it("exits 0 when nvidia-smi lists no GPU", () => {
    const bin = path.join(work, "no-gpu");
    spawnSync("mkdir", ["-p", bin]);
    writeFileSync(path.join(bin, "nvidia-smi"), "#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.' >&2\nexit 9\n", { mode: 0o755 });
    const result = run(bin);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("gpu-smoke: no GPU check on this machine: nvidia-smi lists no GPU");
  });

  it.skipIf(hasNvidiaSmi)("with a GPU listed, checks ONNX Runtime's CUDA provider and fails naming what is missing", () => {
    const bin = path.join(work, "one-gpu");
    spawnSync("mkdir", ["-p", bin]);
    writeFileSync(path.join(bin, "nvidia-smi"), "#!/bin/sh\necho 'GPU 0: Stand-in GPU (UUID: GPU-00000000)'\n", { mode: 0o755 });
    const result = run(bin);
    expect(result.stdout).toContain("gpu-smoke: found\n  GPU 0: Stand-in GPU");
    // A stand-in cannot run CUDA: whatever this machine has installed, the CUDA check must fail, with the reason.
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^FAIL onnxruntime-node CUDA provider: (libonnxruntime_providers_cuda\.so is not installed|a cuda session does not start)/m);
  });
});
