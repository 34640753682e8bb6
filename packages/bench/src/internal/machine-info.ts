/** What machine a run came from: the README cites it next to the results table. */
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { nativeStatus } from "@studykit/native";
import type { MachineInfo } from "./results.js";

/** CPU features that change hashing and convolution speed, when the OS tells them. */
const INTERESTING_FLAGS = ["sha_ni", "avx2", "avx512f", "sha1", "sha2", "asimd"];

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
  };
}

/** One line naming the machine, for the README and the table's header. */
export function describeMachine(machine: MachineInfo): string {
  const flags = machine.cpuFlags.length > 0 ? `, ${machine.cpuFlags.join("/")}` : "";
  return `${machine.cpuModel} (${machine.cores} cores${flags}), ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}`;
}
