#!/usr/bin/env node
// Installs the system packages the test suite needs (Debian's redis-server for the distributed-executor
// tests) when they are missing and we are allowed to (root with apt-get). Elsewhere it says what to
// install; the tests that need a missing tool skip with a message, except under CI where they fail.
import { spawnSync } from "node:child_process";

// `check` (a shell command that succeeds when the package is usable) replaces `command -v` where the
// package is a library, not a command (python3-onnx: the trainer's onnx.checker test).
const REQUIRED = [
  { command: "redis-server", debianPackage: "redis-server" },
  { check: '/usr/bin/python3 -c "import onnx"', debianPackage: "python3-onnx" },
];

const has = (command) => spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
const usable = ({ command, check }) => (check ? spawnSync("sh", ["-c", check], { stdio: "ignore" }).status === 0 : has(command));
const missing = REQUIRED.filter((entry) => !usable(entry));
if (missing.length === 0) process.exit(0);

const packages = missing.map(({ debianPackage }) => debianPackage);
const canApt = process.getuid?.() === 0 && has("apt-get");
if (!canApt) {
  console.warn(`studykit: missing system packages: ${packages.join(", ")} (install them, e.g. \`sudo apt-get install ${packages.join(" ")}\`); tests that need them will be skipped`);
  process.exit(0);
}
console.log(`studykit: installing ${packages.join(", ")} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
const update = spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
const install = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], { stdio: "inherit", env });
if (update.status !== 0 || install.status !== 0) {
  console.error(`studykit: could not install ${packages.join(", ")} with apt-get`);
  process.exit(process.env.CI ? 1 : 0);
}
