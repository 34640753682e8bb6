/**
 * `npz` suite: loading a ~200 MB float32 array (12 800 diffraction-like 64×64 patterns) written by numpy —
 * as `.npy`, as a stored `.npz` and as a deflated `.npz` — with `@studykit/data` against `np.load` in
 * python3 and `npyjs`; plus memmap open latency and slab reads. Every loader's result is checked against
 * the others (shape and a probe element), so a fast wrong answer is a failure, not a win.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as data from "@studykit/data";
import { parse as parseNpyjs } from "npyjs";
import { ContenderAbsentError, GroupBuilder, onThreads, timeRepeated } from "../measure.js";
import { findPythonWith, numbersField, runPythonScript, type PythonModule } from "../python-peer.js";
import type { ComparisonGroup, SuiteResult } from "../../results.js";
import { planArguments, repeatPlan, type SuiteContext } from "../suite-context.js";
import { runDecodeKernelGroups } from "./decode-kernels.js";

/** Every contender here runs on one thread (the loaders, numpy, npyjs). */
const ONE_THREAD = onThreads(1);

const KEY = "diff3d";
const SIDE = 64;
const SLAB_ROWS = 256;

interface LoadedArray {
  readonly shape: readonly number[];
  readonly data: unknown;
}

/** Value at [row, 32, 32] of a float32 (n, 64, 64) array, to cross-check loaders. */
function probe(array: LoadedArray, row: number): number {
  const values = array.data as ArrayLike<number>;
  return values[row * SIDE * SIDE + 32 * SIDE + 32]!;
}

function expectArray(label: string, array: LoadedArray, rows: number, expectedLast: number | null): void {
  if (array.shape[0] !== rows || array.shape[1] !== SIDE || array.shape[2] !== SIDE) throw new Error(`${label} returned shape [${array.shape.join(", ")}], expected [${rows}, ${SIDE}, ${SIDE}]`);
  if (expectedLast !== null && probe(array, rows - 1) !== expectedLast) throw new Error(`${label} returned ${probe(array, rows - 1)} at [-1, 32, 32], numpy ${expectedLast}`);
}

interface Inputs {
  readonly npy: string;
  readonly stored: string;
  readonly compressed: string;
  readonly bytes: number;
  readonly patterns: number;
  readonly generator: string;
}

async function generateInputs(context: SuiteContext, patterns: number): Promise<{ inputs: Inputs; numpy: PythonModule }> {
  const numpy = await findPythonWith("numpy");
  const answer = await runPythonScript(numpy, "numpy_peer.py", ["generate", context.scratchDir, "--patterns", String(patterns)], 900_000);
  return {
    numpy,
    inputs: {
      npy: join(context.scratchDir, "plain.npy"),
      stored: join(context.scratchDir, "stored.npz"),
      compressed: join(context.scratchDir, "compressed.npz"),
      bytes: Number(answer.bytes),
      patterns,
      generator: `numpy ${String(answer.numpy)}`,
    },
  };
}

export async function runNpzSuite(context: SuiteContext): Promise<SuiteResult> {
  const started = performance.now();
  const patterns = context.quick ? 256 : 12_800;
  const log = context.log;
  const plan = repeatPlan(context, "fast");
  log(`npz: generating ${patterns} × ${SIDE}×${SIDE} float32 with numpy under ${context.scratchDir}`);
  let generated: Awaited<ReturnType<typeof generateInputs>>;
  try {
    generated = await generateInputs(context, patterns);
  } catch (error) {
    // Without numpy there is neither an input writer nor the main peer: the suite says so and ends.
    const reason = error instanceof ContenderAbsentError ? error.message : `input generation failed: ${(error as Error).message}`;
    const groups = await runDecodeKernelGroups(context);
    return { suite: "npz", wallSeconds: (performance.now() - started) / 1000, groups, notes: [`absent: the npz loading groups need inputs written by numpy (${reason})`] };
  }
  const { inputs, numpy } = generated;
  const work = { amount: inputs.bytes, unit: "bytes" as const };
  const mb = (inputs.bytes / 1e6).toFixed(0);
  const groups: ComparisonGroup[] = [];

  // np.load of the stored npz gives the value every other loader must reproduce.
  const numpyLoad = async (kind: string, path: string, extra: string[] = []) => {
    const answer = await runPythonScript(numpy, "numpy_peer.py", ["load", ...planArguments(plan), kind, path, ...extra], 900_000);
    return { samples: numbersField(answer, "samples"), detail: `numpy ${String(answer.numpy)}`, checksum: answer.checksum as number };
  };
  let expectedLast: number | null = null;

  for (const [id, title, path] of [
    ["npz-stored", `Load a stored (uncompressed) npz, one ${mb} MB float32 array`, inputs.stored],
    ["npz-compressed", `Load a deflated npz (np.savez_compressed), one ${mb} MB float32 array`, inputs.compressed],
  ] as const) {
    const group = new GroupBuilder({ id, title, kind: "time", work, log });
    await group.run({ id: "numpy-load", label: "np.load(...)[key]", role: "peer", parallelism: ONE_THREAD }, async () => {
      const result = await numpyLoad("npz", path);
      expectedLast ??= result.checksum;
      return result;
    });
    await group.time({ id: "studykit-npz", label: "@studykit/data openNpz().get(key)", role: "ours", parallelism: ONE_THREAD }, plan, async () => {
      return {
        run: () => {
          const archive = data.openNpz(path);
          try {
            expectArray("openNpz().get", archive.get(KEY), inputs.patterns, expectedLast);
          } finally {
            archive.close();
          }
        },
      };
    });
    groups.push(group.finish([{ kind: "ratio", ours: "studykit-npz", peer: "numpy-load", atLeast: id === "npz-stored" ? 1.0 : 1.2 }]));
  }

  const npyGroup = new GroupBuilder({ id: "npy", title: `Load a plain .npy, ${mb} MB float32`, kind: "time", work, log });
  await npyGroup.time({ id: "studykit-npy", label: "@studykit/data loadNpy", role: "ours", parallelism: ONE_THREAD }, plan, async () => {
    return { run: () => expectArray("loadNpy", data.loadNpy(inputs.npy), inputs.patterns, expectedLast) };
  });
  await npyGroup.run({ id: "numpy-load", label: "np.load", role: "peer", parallelism: ONE_THREAD }, () => numpyLoad("npy", inputs.npy));
  await npyGroup.time({ id: "npyjs", label: "npyjs parse(fs.readFile)", role: "peer", parallelism: ONE_THREAD }, plan, async () => ({
    detail: "npyjs 1.2",
    run: async () => {
      const bytes = await readFile(inputs.npy);
      const array = parseNpyjs(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      expectArray("npyjs", array, inputs.patterns, expectedLast);
    },
  }));
  groups.push(npyGroup.finish());

  const openGroup = new GroupBuilder({ id: "memmap-open", title: `Open memory-mapped (${mb} MB array): time to a usable array`, kind: "latency", log });
  await openGroup.run({ id: "studykit-memmap-open", label: "@studykit/data openMemmap(stored npz, { member })", role: "ours", parallelism: ONE_THREAD }, async () => {
    const samples = await timeRepeated(() => {
      const mapped = data.openMemmap(inputs.stored, { member: KEY });
      if (mapped.shape[0] !== inputs.patterns) throw new Error(`openMemmap shape [${mapped.shape.join(", ")}]`);
      mapped.close();
    }, plan);
    return { samples: samples.map((s) => s * 1000) };
  });
  await openGroup.run({ id: "numpy-mmap-open", label: "np.load(.npy, mmap_mode='r')", role: "peer", parallelism: ONE_THREAD }, () => numpyLoad("memmap-open", inputs.npy));
  openGroup.note("numpy ignores mmap_mode for .npz files, so its memmap peer opens the same array saved as .npy.");
  groups.push(openGroup.finish([{ kind: "value", contender: "studykit-memmap-open", atMost: 5 }]));

  const slabGroup = new GroupBuilder({ id: "memmap-slab", title: `Read a ${SLAB_ROWS}-row slab from a memory-mapped array (${((SLAB_ROWS * SIDE * SIDE * 4) / 2 ** 20).toFixed(0)} MiB)`, kind: "time", work: { amount: SLAB_ROWS * SIDE * SIDE * 4, unit: "bytes" }, log });
  const slabRows = Math.min(SLAB_ROWS, inputs.patterns);
  await slabGroup.time({ id: "studykit-memmap-rows", label: "@studykit/data openMemmap().rows(start, 256), copied into a batch buffer", role: "ours", parallelism: ONE_THREAD }, plan, async () => {
    const mapped = data.openMemmap(inputs.stored, { member: KEY });
    // Both sides copy the slab into one preallocated batch buffer (numpy: np.copyto), as a training loop
    // does: a zero-copy view alone would not read the pages, and allocating a fresh 4 MiB array per read
    // would time each runtime's allocator (first writes to fresh pages) rather than reading the mapping.
    const batch = new Float32Array(slabRows * SIDE * SIDE);
    let start = 0;
    return {
      run: () => {
        const slab = mapped.rows(start, slabRows);
        if (slab.shape[0] !== slabRows) throw new Error(`rows() returned ${slab.shape[0]} rows`);
        batch.set(slab.data as Float32Array);
        start = (start + 7919 * slabRows) % Math.max(1, inputs.patterns - slabRows);
      },
      cleanup: () => mapped.close(),
    };
  });
  await slabGroup.run({ id: "numpy-memmap-slab", label: "np.copyto(batch, np.load(.npy, mmap_mode='r')[start:start+256])", role: "peer", parallelism: ONE_THREAD }, () => numpyLoad("memmap-slab", inputs.npy, ["--rows", String(slabRows)]));
  groups.push(slabGroup.finish());

  context.log("npz: decode kernels");
  groups.push(...(await runDecodeKernelGroups(context)));

  return {
    suite: "npz",
    wallSeconds: (performance.now() - started) / 1000,
    groups,
    notes: [`Inputs: ${inputs.patterns} × ${SIDE}×${SIDE} float32 (sqrt of Poisson counts, ${mb} MB) written by ${inputs.generator} to the OS temp folder; files are in the page cache (each loader runs a warm-up first).`],
  };
}
