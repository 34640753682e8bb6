/** What machine and code a run came from: the README cites both next to the results table. */
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem, type } from "node:os";
import { dirname, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { detectGitVersion } from "@studykit/core";
import { nativeStatus } from "@studykit/native";
import type { CodeProvenance, MachineInfo } from "./results.js";

/**
 * CPU features that change hashing, decoding, FFT and convolution speed, when the OS tells them: the ones
 * the addon's kernels choose their SIMD paths by (SHA-NI, AVX2 + FMA, F16C, PCLMULQDQ + SSE4.1, ARMv8
 * crypto), and AVX-512 that ONNX Runtime and PyTorch use where present.
 */
const INTERESTING_FLAGS = ["sha_ni", "ssse3", "sse4_1", "pclmulqdq", "avx2", "fma", "f16c", "avx512f", "sha1", "sha2", "asimd", "pmull"];

function cpuFlags(): string[] {
  try {
    const text = readFileSync("/proc/cpuinfo", "utf8");
    const line = text.split("\n").find((l) => /^(flags|Features)\s*:/.test(l)) ?? "";
    const flags = new Set(line.split(":")[1]?.trim().split(/\s+/) ?? []);
    return INTERESTING_FLAGS.filter((f) => flags.has(f));
  } catch {
    return [];
  }
}

export function machineInfo(): MachineInfo {
  let native: MachineInfo["native"];
  try {
    const status = nativeStatus();
    native = { implementation: status.implementation, sha256Backend: status.sha256Backend };
  } catch (error) {
    native = { implementation: `unavailable (${(error as { code?: string }).code ?? "error"})`, sha256Backend: "none" };
  }
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? "unknown",
    cores: list.length,
    cpuFlags: cpuFlags(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
    native,
    loadAverageAtStart: Math.round(loadavg()[0]! * 100) / 100,
    os: `${type()} ${release()}`,
  };
}

/**
 * The commit and dirty flag of the checkout this harness runs from (its own files' location, not the
 * current directory or the output folder): the code that produced the numbers.
 */
export function codeProvenance(): CodeProvenance {
  const here = dirname(fileURLToPath(import.meta.url));
  // An installed copy under node_modules/ lies in the user's repository, whose commit is not this code's.
  const git = here.split(sep).includes("node_modules") ? null : detectGitVersion(here);
  return git ? { commit: git.commit, dirty: git.dirty } : { commit: null, dirty: null };
}

/** One line naming the machine, for the README and the table's header. */
export function describeMachine(machine: MachineInfo): string {
  const flags = machine.cpuFlags.length > 0 ? `, ${machine.cpuFlags.join("/")}` : "";
  return `${machine.cpuModel} (${machine.cores} cores${flags}), ${machine.memoryGiB} GiB, ${machine.os ? `${machine.os}, ` : ""}${machine.platform}, Node ${machine.node}`;
}
