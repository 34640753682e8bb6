/**
 * `studykit reconstruct`, run as a real process on small scans simulated here (ptycho's forward model on a
 * test object and probe built in this file, seeded photon noise written by this file): the npz members, the
 * object error against the ground truth (computed here, not taken from the CLI), `--json`, determinism,
 * usage errors before any work, the missing-key errors, and Ctrl-C.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadNpz, saveNpz, type WritableArray } from "@studykit/data";
import { createComplexImage, rasterScanPositions, simulateDiffraction, type ComplexImage } from "@studykit/ptycho";
import { skipWithout } from "../../../tools/test-dependencies.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), "studykit-cli-reconstruct-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: work, env: { ...process.env, STUDYKIT_DEBUG: "" }, timeout: 120_000 });

const SIZE = 16;
const OBJECT = 64;

/** mulberry32: a seeded uniform source in [0, 1). */
function uniformSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded photon counts: exact Poisson below a mean of 30, a rounded normal N(λ, λ) above. */
function poisson(seed: number): (mean: number) => number {
  const uniform = uniformSource(seed);
  return (mean) => {
    if (!(mean > 0)) return 0;
    if (mean < 30) {
      const limit = Math.exp(-mean);
      let count = 0;
      for (let product = uniform(); product > limit; product *= uniform()) count += 1;
      return count;
    }
    const normal = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal));
  };
}

/** A smooth object: amplitude 0.7–1, phase within ±1 rad, from a few sinusoids. */
function testObject(): ComplexImage {
  const object = createComplexImage(OBJECT, OBJECT);
  for (let row = 0; row < OBJECT; row++) {
    for (let column = 0; column < OBJECT; column++) {
      const phase = 0.6 * Math.sin((2 * Math.PI * row) / 23) * Math.cos((2 * Math.PI * column) / 31) + 0.3 * Math.sin((2 * Math.PI * (row + column)) / 17);
      const amplitude = 0.85 + 0.15 * Math.cos((2 * Math.PI * column) / 19) * Math.sin((2 * Math.PI * row) / 29);
      object.data[2 * (row * OBJECT + column)] = amplitude * Math.cos(phase);
      object.data[2 * (row * OBJECT + column) + 1] = amplitude * Math.sin(phase);
    }
  }
  return object;
}

/** A Gaussian spot with a quadratic (defocus-like) phase, centred in the N×N window. */
function testProbe(): ComplexImage {
  const probe = createComplexImage(SIZE, SIZE);
  for (let row = 0; row < SIZE; row++) {
    for (let column = 0; column < SIZE; column++) {
      const r2 = (row - SIZE / 2) ** 2 + (column - SIZE / 2) ** 2;
      const amplitude = Math.exp(-r2 / (2 * (SIZE / 5) ** 2));
      const phase = (2.5 * r2) / (SIZE / 2) ** 2;
      probe.data[2 * (row * SIZE + column)] = amplitude * Math.cos(phase);
      probe.data[2 * (row * SIZE + column) + 1] = amplitude * Math.sin(phase);
    }
  }
  return probe;
}

const truth = testObject();
const probe = testProbe();
const positions = rasterScanPositions({ objectHeight: OBJECT, objectWidth: OBJECT, size: SIZE, overlap: 0.7 });

/** Writes a ptycho-schema npz of the scan at `dose` (legacy key `diffraction`, as the study's Phase C). */
function writeScan(name: string, dose: number, omit: readonly string[] = []): string {
  const simulated = simulateDiffraction(probe, truth, positions, { dose, noise: poisson(7) });
  const arrays: Record<string, WritableArray> = {
    diffraction: { data: simulated.amplitudes, shape: [positions.length, SIZE, SIZE] },
    probeGuess: { data: probe.data, shape: [SIZE, SIZE], complex: true },
    objectGuess: { data: truth.data, shape: [OBJECT, OBJECT], complex: true },
    xcoords: Float64Array.from(positions, (position) => position.x),
    ycoords: Float64Array.from(positions, (position) => position.y),
  };
  for (const key of omit) delete arrays[key];
  const file = path.join(work, name);
  saveNpz(file, arrays);
  return file;
}

/**
 * Phase MAE (rad) of `object` against the ground truth over the central N/2 × N/2 window of every
 * position, after removing the best global phase (the angle of Σ truth·conj(object)).
 */
function phaseMae(object: Float64Array): number {
  const mask = new Uint8Array(OBJECT * OBJECT);
  for (const position of positions) {
    const top = Math.round(position.y) - SIZE / 4;
    const left = Math.round(position.x) - SIZE / 4;
    for (let row = top; row < top + SIZE / 2; row++) for (let column = left; column < left + SIZE / 2; column++) mask[row * OBJECT + column] = 1;
  }
  let re = 0;
  let im = 0;
  for (let pixel = 0; pixel < mask.length; pixel++) {
    if (!mask[pixel]) continue;
    const [a, b, c, d] = [truth.data[2 * pixel]!, truth.data[2 * pixel + 1]!, object[2 * pixel]!, object[2 * pixel + 1]!];
    re += a * c + b * d;
    im += b * c - a * d;
  }
  const offset = Math.atan2(im, re);
  let sum = 0;
  let count = 0;
  for (let pixel = 0; pixel < mask.length; pixel++) {
    if (!mask[pixel]) continue;
    const difference = Math.atan2(object[2 * pixel + 1]!, object[2 * pixel]!) + offset - Math.atan2(truth.data[2 * pixel + 1]!, truth.data[2 * pixel]!);
    sum += Math.abs(Math.atan2(Math.sin(difference), Math.cos(difference)));
    count += 1;
  }
  return sum / count;
}

const sha256Of = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

interface JsonSummary {
  input: string;
  output: string;
  sha256: string;
  algorithm: string;
  iterations: number;
  positions: number;
  positionsPerSecond: number;
  wallTimeSeconds: number;
  finalFourierError: number;
  objectError: { phaseMae: number; amplitudeMae: number; scoredPixels: number } | null;
  history: { fourierError: number[]; phaseMae: number[] | null; amplitudeMae: number[] | null };
  parameters: { algorithm: string; iterations: number; seed: number; probeUpdateFrom: number | null; objectWeight: number };
}

const highDose = writeScan("high-dose.npz", 1e7);

// Each test spawns the CLI, whose start-up takes seconds on a busy shared machine.
describe("studykit reconstruct", { timeout: 120_000 }, () => {
  it("writes reconstruction.npz beside the input, with a low object error at high dose, and prints the summary", () => {
    const result = run("reconstruct", "high-dose.npz", "--iterations", "30");
    expect(result.status, result.stderr).toBe(0);
    const output = path.join(work, "high-dose-reconstruction", "reconstruction.npz");
    expect(existsSync(output)).toBe(true);
    const members = loadNpz(output);
    expect(Object.keys(members).sort()).toEqual(["amplitude_mae", "fourier_error", "object", "parameters", "phase_mae", "positions", "probe"]);
    expect(members["object"]!.shape).toEqual([OBJECT, OBJECT]);
    expect(members["object"]!.complex).toBe(true);
    expect(members["probe"]!.shape).toEqual([SIZE, SIZE]);
    expect(members["positions"]!.shape).toEqual([positions.length, 2]);
    expect(Array.from(members["positions"]!.data as Float64Array).slice(0, 2)).toEqual([positions[0]!.x, positions[0]!.y]);
    expect(members["fourier_error"]!.shape).toEqual([30]);
    const fourier = members["fourier_error"]!.data as Float64Array;
    expect(fourier[29]!).toBeLessThan(fourier[0]! / 5);
    // The scored error, computed here from the written object against the ground truth.
    const object = Float64Array.from(members["object"]!.data as Float64Array);
    const mae = phaseMae(object);
    expect(mae).toBeLessThan(0.05);
    // A flat object (ePIE's start) scores far worse, so the bound above says the object was recovered.
    const flat = new Float64Array(2 * OBJECT * OBJECT);
    for (let index = 0; index < flat.length; index += 2) flat[index] = 1;
    expect(phaseMae(flat)).toBeGreaterThan(0.2);
    expect(JSON.parse(String((members["parameters"]!.data as string[])[0]))).toMatchObject({ algorithm: "epie", iterations: 30, seed: 0, source: "high-dose.npz" });

    expect(result.stdout).toContain(`reconstructed high-dose.npz: epie, 30 iterations over ${positions.length} positions`);
    expect(result.stdout).toMatch(/\d+ positions\/s; wall time \d+\.\d+ s/);
    const reported = Number(/phase MAE (\d+\.\d+) rad/.exec(result.stdout)?.[1]);
    expect(Math.abs(reported - mae)).toBeLessThan(0.005);
    expect(result.stdout).toContain(`output: ${output}`);
    expect(result.stdout).toContain(`sha256: ${sha256Of(output)}`);
    // Not a terminal: one plain progress line per iteration on stderr.
    expect(result.stderr.match(/^reconstruct: iteration \d+\/30, Fourier error /gm)).toHaveLength(30);
  });

  it("--json prints one object with the summary, the history and the output's SHA-256; the same seed gives the same bytes", () => {
    const first = run("reconstruct", "high-dose.npz", "--algorithm", "minibatch", "--iterations", "12", "--batch-size", "16", "--threads", "1", "--seed", "3", "--out", "mb-a", "--json");
    expect(first.status, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout) as JsonSummary;
    const output = path.join(work, "mb-a", "reconstruction.npz");
    expect(summary).toMatchObject({ input: highDose, output, algorithm: "minibatch", iterations: 12, positions: positions.length });
    expect(summary.sha256).toBe(sha256Of(output));
    expect(summary.parameters).toMatchObject({ seed: 3, probeUpdateFrom: null, objectWeight: 0.5 });
    expect(summary.positionsPerSecond).toBeGreaterThan(0);
    expect(summary.wallTimeSeconds).toBeGreaterThan(0);
    const written = loadNpz(output);
    expect(summary.history.fourierError).toEqual(Array.from(written["fourier_error"]!.data as Float64Array));
    expect(summary.history.phaseMae).toEqual(Array.from(written["phase_mae"]!.data as Float64Array));
    expect(summary.finalFourierError).toBe(summary.history.fourierError[11]);
    expect(summary.objectError!.phaseMae).toBe(summary.history.phaseMae![11]);
    expect(Math.abs(summary.objectError!.phaseMae - phaseMae(Float64Array.from(written["object"]!.data as Float64Array)))).toBeLessThan(0.005);
    // The same flags again: the same bytes.
    const again = run("reconstruct", "high-dose.npz", "--algorithm", "minibatch", "--iterations", "12", "--batch-size", "16", "--threads", "1", "--seed", "3", "--out", "mb-b", "--json");
    expect(again.status, again.stderr).toBe(0);
    expect(sha256Of(path.join(work, "mb-b", "reconstruction.npz"))).toBe(summary.sha256);
    // Two threads instead of one: the same object (the mini-batch sums run in a fixed order); only the
    // recorded parameters differ.
    const threads = run("reconstruct", "high-dose.npz", "--algorithm", "minibatch", "--iterations", "12", "--batch-size", "16", "--threads", "2", "--seed", "3", "--out", "mb-c");
    expect(threads.status, threads.stderr).toBe(0);
    const twoThreads = loadNpz(path.join(work, "mb-c", "reconstruction.npz"));
    expect(Buffer.from((twoThreads["object"]!.data as Float64Array).buffer).equals(Buffer.from((written["object"]!.data as Float64Array).buffer))).toBe(true);
  });

  it("rpie with --alpha and --probe-update-from updates the probe and records both", () => {
    const result = run("reconstruct", "high-dose.npz", "--algorithm", "rpie", "--alpha", "0.2", "--iterations", "6", "--probe-update-from", "3", "--out", "rpie", "--json");
    expect(result.status, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as JsonSummary;
    expect(summary.parameters).toMatchObject({ algorithm: "rpie", iterations: 6, probeUpdateFrom: 3, objectWeight: 0.2 });
    const written = loadNpz(path.join(work, "rpie", "reconstruction.npz"));
    // The probe was updated: it differs from the one in the file.
    const updated = written["probe"]!.data as Float64Array;
    expect(updated.some((value, index) => Math.abs(value - probe.data[index]!) > 1e-6)).toBe(true);
  });

  it("--object-guess shape-only scores nothing: no phase_mae member, objectError null, n/a in the text", () => {
    const json = run("reconstruct", "high-dose.npz", "--iterations", "3", "--object-guess", "shape-only", "--out", "shape-only", "--json");
    expect(json.status, json.stderr).toBe(0);
    const summary = JSON.parse(json.stdout) as JsonSummary;
    expect(summary.objectError).toBeNull();
    expect(summary.history.phaseMae).toBeNull();
    expect(Object.keys(loadNpz(path.join(work, "shape-only", "reconstruction.npz"))).sort()).toEqual(["fourier_error", "object", "parameters", "positions", "probe"]);
    const text = run("reconstruct", "high-dose.npz", "--iterations", "3", "--object-guess", "shape-only", "--out", "shape-only");
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toContain("object error: n/a");
    expect(text.stderr).not.toContain("phase MAE");
  });

  it.each([
    [["--algorithm", "lsqml"], /unknown --algorithm "lsqml": use one of epie, rpie, minibatch/],
    [["--iterations", "2.5"], /--iterations must be a whole number ≥ 1, got "2\.5"/],
    [["--iterations", "0"], /--iterations must be a whole number ≥ 1, got "0"/],
    [["--iterations", "5", "--probe-update-from", "5"], /--probe-update-from 5 is not below --iterations 5/],
    [["--alpha", "-0.1"], /--alpha must be a number ≥ 0, got "-0\.1"/],
    [["--algorithm", "rpie", "--alpha", "1.5"], /--alpha 1\.5 is out of range for rpie/],
    [["--batch-size", "8"], /--batch-size applies to --algorithm minibatch only/],
    [["--seed", "-1"], /--seed must be a whole number ≥ 0/],
    [["--object-guess", "truth"], /unknown --object-guess "truth": use ground-truth or shape-only/],
  ])("bad flags %j exit 2 with E_USAGE before reading the file, writing nothing", (flags, message) => {
    // The input does not exist: a usage error must come first, so the file is never looked at.
    const result = run("reconstruct", "missing.npz", ...flags, "--out", "bad-flags");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_USAGE\]: /);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe("");
    expect(existsSync(path.join(work, "bad-flags"))).toBe(false);
  });

  it("an --out where reconstruction.npz cannot be written exits 2 with E_IO… before the reconstruction starts", () => {
    const file = path.join(work, "a-file");
    writeFileSync(file, "not a directory\n");
    for (const [out, reason] of [
      [file, /a-file\/reconstruction\.npz: something that is not a directory already has that name/],
      [path.join(file, "under"), /a-file\/under\/reconstruction\.npz: .*a-file is a regular file, not a directory/],
    ] as const) {
      const result = run("reconstruct", "high-dose.npz", "--out", out);
      expect(result.status, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/^error\[E_IO\]: cannot write /);
      expect(result.stderr).toMatch(reason);
      expect(result.stderr).not.toContain("iteration");
    }
    expect(readFileSync(file, "utf8")).toBe("not a directory\n");
    mkdirSync(path.join(work, "blocked", "reconstruction.npz"), { recursive: true });
    const blocked = run("reconstruct", "high-dose.npz", "--out", "blocked");
    expect(blocked.status, blocked.stderr).toBe(2);
    expect(blocked.stderr).toMatch(/^error\[E_IO_IS_DIRECTORY\]: cannot write .*blocked\/reconstruction\.npz: it is a directory/);
    expect(blocked.stderr).not.toContain("iteration");
  });

  it("a file lacking a key exits 2 with E_PTYCHO_MISSING_KEY naming the file and the key, writing nothing", () => {
    writeScan("no-probe.npz", 1e4, ["probeGuess"]);
    const result = run("reconstruct", "no-probe.npz");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_PTYCHO_MISSING_KEY\]: .*no-probe\.npz lacks probeGuess/);
    expect(existsSync(path.join(work, "no-probe-reconstruction"))).toBe(false);
    writeScan("no-diffraction.npz", 1e4, ["diffraction"]);
    const missing = run("reconstruct", "no-diffraction.npz");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^error\[E_PTYCHO_MISSING_KEY\]: .*no-diffraction\.npz lacks diff3d \(or diffraction\)/);
    expect(missing.stderr).toContain("`studykit study plan --object-from no-diffraction.npz --reuse-coordinates --out study-out/no-diffraction`");
    expect(missing.stderr).toContain("`studykit reconstruct study-out/no-diffraction/phaseC/dose_100000/patched_test.npz`");
  });

  const realObject = path.resolve(fileURLToPath(new URL("../../../../shared/data/Run1084_recon3_postPC.npz", import.meta.url)));
  const noRealObject = skipWithout({ name: `the real reconstruction ${realObject}`, available: existsSync(realObject), install: "the repository's ../shared/data/ holds it (a checkout with shared/ beside it)" });
  it.skipIf(noRealObject)("the real Run1084 file (object and probe, no diffraction) says to simulate it first and where the Phase C file will be", () => {
    const result = run("reconstruct", realObject, "--out", "real");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[E_PTYCHO_MISSING_KEY\]: .*Run1084_recon3_postPC\.npz lacks diff3d \(or diffraction\)/);
    expect(result.stderr).toContain(`--object-from ${realObject} --reuse-coordinates`);
    expect(result.stderr).toContain("study-out/Run1084_recon3_postPC/phaseC/dose_100000/patched_test.npz");
    expect(existsSync(path.join(work, "real"))).toBe(false);
  });

  const hasScript = spawnSync("script", ["--version"], { encoding: "utf8" }).status === 0;
  const noScript = skipWithout({ name: "script (util-linux), to give the CLI a terminal", available: hasScript, install: "apt-get install -y util-linux" });
  it.skipIf(noScript)("on a terminal, progress is a bar that reaches the last iteration, not plain lines", () => {
    // `script` runs the command on a pseudo-terminal; stdout goes to /dev/null, so what it copies is stderr.
    const command = `"${process.execPath}" "${bin}" reconstruct high-dose.npz --iterations 7 --out tty >/dev/null`;
    const result = spawnSync("script", ["-qec", command, "/dev/null"], { encoding: "utf8", cwd: work, env: { ...process.env, STUDYKIT_DEBUG: "" }, timeout: 120_000 });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/iteration 7\/7 \[[^\]]*\] Fourier error \d/);
    expect(result.stdout).not.toContain("reconstruct: iteration");
    expect(existsSync(path.join(work, "tty", "reconstruction.npz"))).toBe(true);
  });

  it("SIGINT after the first iteration cancels: exit 130, E_CANCELLED, no output file", async () => {
    const child = spawn(process.execPath, [bin, "reconstruct", "high-dose.npz", "--iterations", "1000000", "--out", "cancelled"], { cwd: work, env: { ...process.env, STUDYKIT_DEBUG: "" } });
    let stderr = "";
    let signalled = false;
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
      // The first progress line means the reconstruction (and its signal handler) is running.
      if (!signalled && /^reconstruct: iteration 1\//m.test(stderr)) {
        signalled = true;
        child.kill("SIGINT");
      }
    });
    const status = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    expect(signalled).toBe(true);
    expect(status).toBe(130);
    expect(stderr).toMatch(/^error\[E_CANCELLED\]: reconstruction of high-dose\.npz cancelled by SIGINT; nothing was written/m);
    expect(existsSync(path.join(work, "cancelled"))).toBe(false);
    expect(readdirSync(work).some((name) => name.startsWith("cancelled"))).toBe(false);
  });
});
