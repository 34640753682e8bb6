/**
 * Decode kernels of `@studykit/native` (the ones `@studykit/data` calls on whole arrays while loading)
 * against numpy's own conversions on the same bytes (`byteswap`, `astype`, `ascontiguousarray`, and
 * `np.copyto` into an existing array: python/decode_peer.py), and against a plain TypeScript loop doing
 * the same job on 100 MB; CRC-32 (data's zip member check) also against `node:zlib`'s `crc32`. The loops
 * below are the straightforward code a loader would otherwise run (a reference, not a peer); each kernel's
 * and numpy's output is checked bit for bit against the loop's before timing.
 *
 * Each kernel is timed twice. Into an existing array (`options.into`; the loop gets the same): the
 * kernel's own speed, which the ≥ 5× goal is about. Into a new array: what a loader decoding a freshly
 * read array pays, where both sides also pay the OS zeroing the new output's pages and V8's garbage
 * collections of the old ones (together about half of our time on 100 MB, and the same work for both).
 */
import { createHash, randomFillSync } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32 as zlibCrc32 } from "node:zlib";
import * as native from "@studykit/native";
import { ContenderAbsentError, GroupBuilder, onThreads } from "../measure.js";
import { findPythonWith, numbersField, runPythonScript } from "../python-peer.js";
import type { ComparisonGroup } from "../../results.js";
import { planArguments, repeatPlan, type SuiteContext } from "../suite-context.js";

/** Every contender here converts on one thread (the addon's decode kernels, numpy, the loops). */
const ONE_THREAD = onThreads(1);

type NumpyOutcome = { kind: "ok"; samples: { new: number[]; into: number[] }; detail: string } | { kind: "absent" | "failed"; reason: string };

/**
 * numpy's conversion of the same input (written to `path`), timed into a new and into an existing array,
 * its outputs checked against `expectedSha256`.
 */
async function numpyDecode(kernel: string, path: string, plan: ReturnType<typeof repeatPlan>, expectedSha256: string, extra: readonly string[] = []): Promise<NumpyOutcome> {
  try {
    const python = await findPythonWith("numpy");
    const answer = await runPythonScript(python, "decode_peer.py", [...planArguments(plan), kernel, path, ...extra], 600_000);
    const digests = answer.sha256 as { new?: unknown; into?: unknown } | undefined;
    for (const target of ["new", "into"] as const) {
      if (digests?.[target] !== expectedSha256) return { kind: "failed", reason: `numpy's ${kernel} output (${target} array) differs from the plain loop's: sha256 ${String(digests?.[target])}, expected ${expectedSha256}` };
    }
    return { kind: "ok", samples: { new: numbersField(answer, "new"), into: numbersField(answer, "into") }, detail: `numpy ${String(answer.numpy)}` };
  } catch (error) {
    return { kind: error instanceof ContenderAbsentError ? "absent" : "failed", reason: error instanceof Error ? error.message.split("\n")[0]! : String(error) };
  }
}

/** The operations numpy runs for each kernel, as the contender's label. */
const NUMPY_CALLS: Record<string, { new: string; into: string }> = {
  byteSwap: { new: "numpy a.byteswap()", into: "numpy np.copyto(out, a) from a big-endian view" },
  float16ToFloat32: { new: "numpy a.astype(float32)", into: "numpy np.copyto(out, a)" },
  float64ToFloat32: { new: "numpy a.astype(float32)", into: "numpy np.copyto(out, a, casting='same_kind')" },
  interleavedToPlanar: { new: "numpy a.real.copy(), a.imag.copy()", into: "numpy np.copyto(re, a.real), np.copyto(im, a.imag)" },
  fortranToC: { new: "numpy np.ascontiguousarray(a)", into: "numpy np.copyto(out, a)" },
};

function sha256Hex(view: ArrayBufferView): string {
  return createHash("sha256").update(Buffer.from(view.buffer, view.byteOffset, view.byteLength)).digest("hex");
}

function swap4Loop(input: Uint8Array, out: Uint8Array = new Uint8Array(input.length)): Uint8Array {
  for (let i = 0; i < input.length; i += 4) {
    out[i] = input[i + 3]!;
    out[i + 1] = input[i + 2]!;
    out[i + 2] = input[i + 1]!;
    out[i + 3] = input[i]!;
  }
  return out;
}

function float16Loop(halves: Uint16Array, out: Float32Array = new Float32Array(halves.length)): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < halves.length; i++) {
    const h = halves[i]!;
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    let mantissa = h & 0x3ff;
    if (exponent === 0x1f) bits[i] = (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
    else if (exponent !== 0) bits[i] = (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
    else if (mantissa === 0) bits[i] = sign >>> 0;
    else {
      let shift = 0;
      while ((mantissa & 0x400) === 0) {
        mantissa <<= 1;
        shift++;
      }
      bits[i] = (sign | ((113 - shift) << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
    }
  }
  return out;
}

function float64Loop(values: Float64Array, out: Float32Array = new Float32Array(values.length)): Float32Array {
  for (let i = 0; i < values.length; i++) out[i] = values[i]!;
  return out;
}

type Planes = { real: Float32Array; imaginary: Float32Array };

function planarLoop(interleaved: Float32Array, { real, imaginary }: Planes = newPlanes(interleaved.length / 2)): Planes {
  const n = interleaved.length / 2;
  for (let i = 0; i < n; i++) {
    real[i] = interleaved[2 * i]!;
    imaginary[i] = interleaved[2 * i + 1]!;
  }
  return { real, imaginary };
}

function newPlanes(length: number): Planes {
  return { real: new Float32Array(length), imaginary: new Float32Array(length) };
}

/** Fortran → C order of a 2-D array of 4-byte items `[rows, cols]` (moved as bits: NaN payloads survive). */
function fortranLoop(input: Uint32Array, rows: number, cols: number, out: Uint32Array = new Uint32Array(input.length)): Uint32Array {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = input[c * rows + r]!;
  return out;
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** CRC-32 remainders of every byte value (reflected polynomial 0xEDB88320), for the byte-at-a-time loop. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crcLoop(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function nativeDetail(): string {
  const status = native.nativeStatus();
  return status.implementation === "native" ? "Rust addon" : "pure-TS fallback (addon not loaded)";
}

export async function runDecodeKernelGroups(context: SuiteContext): Promise<ComparisonGroup[]> {
  const bytes = context.quick ? 1 << 20 : 100_000_000;
  // Three warm-up runs per contender, not one: on the VMs we measure on, pages that stay free for a
  // couple of seconds are handed back to the hypervisor (free page reporting), and the first write to
  // one costs a host fault: measured 0.6-0.9 GB/s for first writes to such memory against 6.5-8.7 GB/s
  // for recently freed memory. Whichever contender runs first would otherwise pay that for its fresh
  // 100-200 MB outputs while the other reuses the pages it freed; after a few runs both allocate from
  // recently freed, warm memory, which is what a loader decoding array after array sees too.
  const plan = { ...repeatPlan(context, "fast"), ...(context.quick ? {} : { warmup: 3 }) };
  const mb = `${(bytes / 1e6).toFixed(0)} MB`;
  const work = { amount: bytes, unit: "bytes" as const };
  const random = randomFillSync(new Uint8Array(bytes));
  const groups: ComparisonGroup[] = [];
  // `bytesOf` turns a result into the bytes compared before timing; it is not part of the timed run.
  // `into` makes each side's output once, outside the timed runs; the two sides get separate outputs.
  // The inputs as files, for numpy to read the same bytes.
  const inputFiles = new Map<ArrayBufferView, string>();
  const fileOf = async (view: ArrayBufferView): Promise<string> => {
    let path = inputFiles.get(view);
    if (!path) {
      path = join(context.scratchDir, `decode-input-${inputFiles.size}.bin`);
      await writeFile(path, Buffer.from(view.buffer, view.byteOffset, view.byteLength));
      inputFiles.set(view, path);
    }
    return path;
  };
  const kernel = async <R>(
    id: string,
    title: string,
    ours: (into?: R) => R,
    loop: (into?: R) => R,
    bytesOf: (result: R) => ArrayBufferView,
    makeOutput: () => R,
    input: ArrayBufferView,
    numpyExtra: readonly string[] = [],
  ) => {
    const numpy = await numpyDecode(id, await fileOf(input), plan, sha256Hex(bytesOf(loop())), numpyExtra);
    for (const target of ["into", "new"] as const) {
      const suffix = target === "into" ? "into an existing array" : "into a new array";
      const group = new GroupBuilder({ id: `decode-${id}${target === "into" ? "-into" : ""}`, title: `${title}, ${mb}, ${suffix}`, kind: "time", work, log: context.log });
      const [ourOutput, loopOutput] = target === "into" ? [makeOutput(), makeOutput()] : [undefined, undefined];
      const expected = bytesOf(loop(loopOutput));
      await group.time({ id: "native", label: `native ${id}`, role: "ours", parallelism: ONE_THREAD }, plan, async () => {
        if (!sameBytes(bytesOf(ours(ourOutput)), expected)) throw new Error(`native ${id} output differs from the plain loop's`);
        return { run: () => ours(ourOutput), detail: nativeDetail() };
      });
      const numpySpec = { id: "numpy", label: NUMPY_CALLS[id]![target], role: "peer" as const, parallelism: ONE_THREAD };
      if (numpy.kind === "ok") group.addSamples(numpySpec, numpy.samples[target], numpy.detail);
      else group.addUnavailable(numpySpec, numpy.kind, numpy.reason);
      await group.time({ id: "ts-loop", label: "plain TypeScript loop", role: "reference", parallelism: ONE_THREAD }, plan, async () => ({ run: () => loop(loopOutput) }));
      groups.push(group.finish(target === "into" ? [{ kind: "ratio", ours: "native", peer: "ts-loop", atLeast: 5 }] : []));
    }
  };

  const same = (view: ArrayBufferView) => view;
  await kernel(
    "byteSwap",
    "Byte-swap 4-byte elements (big-endian float32 → native)",
    (into) => native.byteSwap(random, 4, { into }),
    (into) => swap4Loop(random, into),
    same,
    (): Uint8Array => new Uint8Array(bytes),
    random,
  );
  const halves = new Uint16Array(random.buffer, 0, bytes / 2);
  const floats = (): Float32Array => new Float32Array(bytes / 2);
  await kernel("float16ToFloat32", "float16 → float32", (into) => native.float16ToFloat32(halves, { into }), (into) => float16Loop(halves, into), same, floats, halves);
  const doubles = new Float64Array(bytes / 8);
  for (let i = 0; i < doubles.length; i++) doubles[i] = (random[i]! - 128) * 1.000001 ** i;
  await kernel("float64ToFloat32", "float64 → float32", (into) => native.float64ToFloat32(doubles, { into }), (into) => float64Loop(doubles, into), same, (): Float32Array => new Float32Array(bytes / 8), doubles);
  const interleaved = new Float32Array(doubles.length * 2).map((_, i) => random[i]! / 7);
  // Both planes are compared, but joining them (a 100 MB copy) stays out of the timed runs of both sides.
  const bothPlanes = ({ real, imaginary }: { real: Float32Array; imaginary: Float32Array }) => Buffer.concat([Buffer.from(real.buffer), Buffer.from(imaginary.buffer)]);
  await kernel(
    "interleavedToPlanar",
    "complex64 interleaved → planar",
    (into) => native.interleavedToPlanar(interleaved, { into }),
    (into) => planarLoop(interleaved, into),
    bothPlanes,
    () => newPlanes(interleaved.length / 2),
    interleaved,
  );
  const rows = context.quick ? 512 : 5000;
  const cols = bytes / 4 / rows;
  const fortran = new Uint32Array(random.buffer, 0, rows * cols);
  await kernel<ArrayBufferView>(
    "fortranToC",
    `Fortran → C order, float32 [${rows}, ${cols}]`,
    (into) => native.fortranToC(fortran, [rows, cols], 4, { into }),
    (into) => fortranLoop(fortran, rows, cols, into as Uint32Array | undefined),
    same,
    () => new Uint32Array(rows * cols),
    fortran,
    ["--rows", String(rows), "--cols", String(cols)],
  );

  // data's zip reader checks every npz member's CRC-32 with native's crc32; node:zlib's is the peer it replaced.
  const crcGroup = new GroupBuilder({ id: "decode-crc32", title: `CRC-32 (zip member check), ${mb}`, kind: "time", work, log: context.log });
  const expectedCrc = crcLoop(random);
  await crcGroup.time({ id: "native", label: "native crc32", role: "ours", parallelism: ONE_THREAD }, plan, async () => {
    if (native.crc32(random) !== expectedCrc) throw new Error("native crc32 differs from the table loop");
    return { run: () => native.crc32(random), detail: nativeDetail() };
  });
  await crcGroup.time({ id: "node-zlib-crc32", label: "node:zlib crc32", role: "peer", parallelism: ONE_THREAD }, plan, async () => {
    if (zlibCrc32(random) >>> 0 !== expectedCrc) throw new Error("zlib.crc32 differs from the table loop");
    return { run: () => zlibCrc32(random), detail: `Node ${process.version}` };
  });
  await crcGroup.time({ id: "ts-loop", label: "plain TypeScript table loop", role: "reference", parallelism: ONE_THREAD }, plan, async () => ({ run: () => crcLoop(random) }));
  groups.push(
    crcGroup.finish([
      { kind: "ratio", ours: "native", peer: "ts-loop", atLeast: 5 },
      // Why data uses ours rather than the built-in: 1.9-2.5x in the runs so far.
      { kind: "ratio", ours: "native", peer: "node-zlib-crc32", atLeast: 1.5 },
    ]),
  );
  return groups;
}
