/**
 * `hash` suite: SHA-256 of one 1 GiB file and of eight 128 MiB files from the page cache — native
 * `sha256File` / `sha256Files` against `node:crypto` streaming, Python `hashlib` and `sha256sum` — plus the
 * JS main thread's longest stall while each hashes. Every contender's digest is checked against
 * `node:crypto`'s, so a fast wrong answer is reported as a failure.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import * as native from "@studykit/native";
import { availableParallelism } from "node:os";
import { absent, GroupBuilder, onThreads } from "../measure.js";
import { execCollect, findPythonWith, numbersField, runPythonScript } from "../python-peer.js";
import type { SuiteResult } from "../../results.js";
import { maxMainThreadStall } from "../../main-thread-stall.js";
import { planArguments, repeatPlan, writeRepeatedFile, type SuiteContext } from "../suite-context.js";

/** The digest of one `sha256Files` entry; a per-file failure becomes the contender's failure. */
function hexOf(result: native.Sha256FileResult): string {
  if (!result.ok) throw result.error;
  return result.sha256;
}

function expectDigests(label: string, actual: readonly string[], expected: readonly string[]): void {
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) throw new Error(`${label} gave digest ${actual[i]} for file ${i}, node:crypto gave ${expected[i]}`);
  }
}

/** node:crypto streaming reads in 64 KiB chunks unless told otherwise (its default `highWaterMark`). */
const NODE_DEFAULT_CHUNK = 64 * 1024;
/** node:crypto at its best here: 1 MiB reads cut the per-chunk stream overhead (about 0.6 → 1 GB/s). */
const NODE_BEST_CHUNK = 1024 * 1024;

async function nodeCryptoStream(path: string, chunkBytes: number = NODE_DEFAULT_CHUNK): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path, { highWaterMark: chunkBytes }), hash);
  return hash.digest("hex");
}

// Hashing a file: node:crypto, hashlib and sha256sum hash on one thread; native sha256File on one worker
// thread (the main thread only waits); sha256Files on one thread per file up to the cores.
const ONE_THREAD = onThreads(1);
const ONE_WORKER = onThreads(1, 1, "one worker thread; the JS main thread stays free");

function implementationDetail(): string {
  try {
    const status = native.nativeStatus();
    return status.implementation === "native" ? status.sha256Backend : `pure-TS fallback: ${status.sha256Backend}`;
  } catch (error) {
    return `native unavailable: ${(error as Error).message.split("\n")[0]}`;
  }
}

async function sha256sumRun(paths: readonly string[]): Promise<string[]> {
  const outcome = await execCollect("sha256sum", paths);
  if (outcome.error && (outcome.error as { code?: unknown }).code === "ENOENT") absent("sha256sum is not on PATH");
  if (outcome.code !== 0) throw new Error(`sha256sum exited with ${outcome.code}: ${outcome.stderr.trim()}`);
  return outcome.stdout.trim().split("\n").map((line) => line.split(/\s+/)[0]!);
}

async function sha256sumVersion(): Promise<string> {
  const outcome = await execCollect("sha256sum", ["--version"]);
  return outcome.stdout.split("\n")[0]?.replace(/^sha256sum\s*/, "").trim() || "unknown version";
}

export async function runHashSuite(context: SuiteContext): Promise<SuiteResult> {
  const started = performance.now();
  const mib = 1024 * 1024;
  const bigBytes = context.quick ? 8 * mib : 1024 * mib;
  const partBytes = context.quick ? 1 * mib : 128 * mib;
  const partCount = 8;
  const fast = repeatPlan(context, "fast");
  const slow = repeatPlan(context, "slow");
  const log = context.log;

  log(`hash: writing inputs (${bigBytes / mib} MiB + ${partCount} × ${partBytes / mib} MiB) under ${context.scratchDir}`);
  const bigPath = join(context.scratchDir, "hash-big.bin");
  await writeRepeatedFile(bigPath, bigBytes, 1);
  const partPaths = Array.from({ length: partCount }, (_, i) => join(context.scratchDir, `hash-part-${i}.bin`));
  for (const [i, path] of partPaths.entries()) await writeRepeatedFile(path, partBytes, 100 + i);
  const bigDigest = await nodeCryptoStream(bigPath);
  const partDigests = await Promise.all(partPaths.map((path) => nodeCryptoStream(path)));
  const detail = implementationDetail();
  const groups = [];

  // --- one large file -------------------------------------------------------------------------------
  const single = new GroupBuilder({ id: "hash-one-file", title: `SHA-256 of one ${bigBytes / mib} MiB file (page cache)`, kind: "time", work: { amount: bigBytes, unit: "bytes" }, log });
  await single.time({ id: "native-sha256File", label: "native sha256File", role: "ours", parallelism: ONE_WORKER }, fast, async () => {
    return { detail, run: async () => expectDigests("sha256File", [(await native.sha256File(bigPath)).sha256], [bigDigest]) };
  });
  await single.time({ id: "native-sha256-in-memory", label: "native sha256(buffer), file already in memory", role: "reference", parallelism: ONE_THREAD }, fast, async () => {
    const buffer = await readFile(bigPath);
    return { detail, run: () => expectDigests("sha256(buffer)", [native.sha256(buffer)], [bigDigest]) };
  });
  await single.time({ id: "node-crypto-stream", label: "node:crypto streaming (fs.createReadStream, default 64 KiB chunks)", role: "peer", parallelism: ONE_THREAD }, fast, async () => ({
    detail: `Node ${process.version}`,
    run: async () => expectDigests("node:crypto", [await nodeCryptoStream(bigPath)], [bigDigest]),
  }));
  await single.time({ id: "node-crypto-stream-1mib", label: "node:crypto streaming, 1 MiB chunks (its best here)", role: "peer", parallelism: ONE_THREAD }, fast, async () => ({
    detail: `Node ${process.version}, highWaterMark ${NODE_BEST_CHUNK}`,
    run: async () => expectDigests("node:crypto 1 MiB", [await nodeCryptoStream(bigPath, NODE_BEST_CHUNK)], [bigDigest]),
  }));
  await single.run({ id: "python-hashlib", label: "Python hashlib", role: "peer", parallelism: ONE_THREAD }, async () => {
    const python = await findPythonWith("hashlib");
    const answer = await runPythonScript(python, "hashlib_peer.py", [...planArguments(fast), bigPath], 600_000);
    expectDigests("hashlib", [(answer.digests as Record<string, string>)[bigPath]!], [bigDigest]);
    return { samples: numbersField(answer, "samples"), detail: `python ${python.pythonVersion}` };
  });
  // sha256sum's first, verified run in prepare is its warm-up: at ~0.3 GB/s it cannot afford another.
  const sha256sumPlan = { ...slow, warmup: 0 };
  await single.time({ id: "sha256sum", label: "sha256sum", role: "peer", parallelism: ONE_THREAD }, sha256sumPlan, async () => {
    expectDigests("sha256sum", await sha256sumRun([bigPath]), [bigDigest]);
    return { detail: await sha256sumVersion(), run: async () => expectDigests("sha256sum", await sha256sumRun([bigPath]), [bigDigest]) };
  });
  groups.push(
    single.finish([
      { kind: "ratio", ours: "native-sha256File", peer: "native-sha256-in-memory", atLeast: 0.9 },
      { kind: "ratio", ours: "native-sha256File", peer: "node-crypto-stream", atLeast: 1.7 },
      // node:crypto at its best: no goal was written against it; reported beside the default.
      { kind: "ratio", ours: "native-sha256File", peer: "node-crypto-stream-1mib" },
      { kind: "ratio", ours: "native-sha256File", peer: "python-hashlib", atLeast: 1.0 },
      { kind: "ratio", ours: "native-sha256File", peer: "sha256sum", atLeast: 5 },
    ]),
  );

  // --- eight files ------------------------------------------------------------------------------------
  const many = new GroupBuilder({ id: "hash-eight-files", title: `SHA-256 of ${partCount} × ${partBytes / mib} MiB files (page cache)`, kind: "time", work: { amount: partBytes * partCount, unit: "bytes" }, log });
  const filesThreads = Math.min(partCount, availableParallelism());
  await many.time({ id: "native-sha256Files", label: "native sha256Files (parallel)", role: "ours", parallelism: onThreads(filesThreads, 1, "one worker thread per file, up to the cores") }, fast, async () => {
    return { detail, run: async () => expectDigests("sha256Files", (await native.sha256Files(partPaths)).map(hexOf), partDigests) };
  });
  await many.time({ id: "native-sha256File-sequential", label: "native sha256File, one file after another", role: "reference", parallelism: ONE_WORKER }, fast, async () => {
    return {
      detail,
      run: async () => {
        const digests: string[] = [];
        for (const path of partPaths) digests.push((await native.sha256File(path)).sha256);
        expectDigests("sha256File", digests, partDigests);
      },
    };
  });
  await many.time({ id: "node-crypto-stream-sequential", label: "node:crypto streaming, one file after another (64 KiB chunks)", role: "peer", parallelism: ONE_THREAD }, fast, async () => ({
    detail: `Node ${process.version}`,
    run: async () => {
      const digests: string[] = [];
      for (const path of partPaths) digests.push(await nodeCryptoStream(path));
      expectDigests("node:crypto", digests, partDigests);
    },
  }));
  await many.time({ id: "node-crypto-stream-1mib-sequential", label: "node:crypto streaming, 1 MiB chunks, one file after another (its best here)", role: "peer", parallelism: ONE_THREAD }, fast, async () => ({
    detail: `Node ${process.version}, highWaterMark ${NODE_BEST_CHUNK}`,
    run: async () => {
      const digests: string[] = [];
      for (const path of partPaths) digests.push(await nodeCryptoStream(path, NODE_BEST_CHUNK));
      expectDigests("node:crypto 1 MiB", digests, partDigests);
    },
  }));
  await many.run({ id: "python-hashlib-sequential", label: "Python hashlib, one file after another", role: "peer", parallelism: ONE_THREAD }, async () => {
    const python = await findPythonWith("hashlib");
    const answer = await runPythonScript(python, "hashlib_peer.py", [...planArguments(fast), ...partPaths], 600_000);
    const digests = answer.digests as Record<string, string>;
    expectDigests("hashlib", partPaths.map((p) => digests[p]!), partDigests);
    return { samples: numbersField(answer, "samples"), detail: `python ${python.pythonVersion}` };
  });
  await many.time({ id: "sha256sum-files", label: "sha256sum FILE...", role: "peer", parallelism: ONE_THREAD }, sha256sumPlan, async () => {
    expectDigests("sha256sum", await sha256sumRun(partPaths), partDigests);
    return { detail: await sha256sumVersion(), run: async () => expectDigests("sha256sum", await sha256sumRun(partPaths), partDigests) };
  });
  groups.push(
    many.finish([
      { kind: "ratio", ours: "native-sha256Files", peer: "native-sha256File-sequential", atLeast: 1.8 },
      { kind: "ratio", ours: "native-sha256Files", peer: "node-crypto-stream-sequential", atLeast: 3 },
      { kind: "ratio", ours: "native-sha256Files", peer: "node-crypto-stream-1mib-sequential" },
    ]),
  );

  // --- main-thread stall ------------------------------------------------------------------------------
  const stall = new GroupBuilder({ id: "hash-main-thread-stall", title: `Longest JS main-thread stall while hashing the ${bigBytes / mib} MiB file`, kind: "latency", log });
  const stallSamples = async (task: () => Promise<unknown> | unknown) => {
    const samples: number[] = [];
    await task(); // warm-up, like every other contender
    for (let i = 0; i < (context.quick ? 2 : 3); i++) samples.push(await maxMainThreadStall(task));
    return samples;
  };
  await stall.run({ id: "native-sha256File", label: "native sha256File", role: "ours", parallelism: ONE_WORKER }, async () => {
    return { samples: await stallSamples(() => native.sha256File(bigPath)), detail };
  });
  await stall.run({ id: "node-crypto-stream", label: "node:crypto streaming (fs.createReadStream)", role: "peer", parallelism: ONE_THREAD }, async () => ({
    samples: await stallSamples(() => nodeCryptoStream(bigPath)),
  }));
  await stall.run({ id: "native-sha256-sync", label: "native sha256(buffer) called synchronously", role: "reference" }, async () => {
    const buffer = await readFile(bigPath);
    return { samples: await stallSamples(() => native.sha256(buffer)), detail };
  });
  await stall.run({ id: "idle", label: "no hashing: the probe alone for as long as node:crypto takes", role: "reference" }, async () => {
    // The noise floor: what the OS scheduler and the garbage collector cost the timer on this machine now.
    const measured = single.get("node-crypto-stream");
    const durationMs = Math.min(5000, Math.max(50, (measured?.status === "ok" ? measured.summary.median : 1) * 1000));
    return { samples: await stallSamples(() => new Promise((resolve) => setTimeout(resolve, durationMs))) };
  });
  stall.note("Measured by a 1 ms interval timer on the main thread: the largest gap between two ticks beyond the 1 ms interval.");
  groups.push(stall.finish([{ kind: "value", contender: "native-sha256File", atMost: 20 }]));

  return { suite: "hash", wallSeconds: (performance.now() - started) / 1000, groups, notes: [`Inputs: files of repeated pseudo-random blocks in the OS temp folder, read from the page cache (each hashed once before timing).`] };
}
