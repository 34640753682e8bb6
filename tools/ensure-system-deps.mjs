#!/usr/bin/env node
// Installs the system packages the test suite needs when they are missing and we are allowed to (root with
// apt-get): Debian's redis-server (distributed-executor tests), python3-numpy for /usr/bin/python3 (numpy
// interop tests; they also use a python3 on PATH that has numpy, such as pyenv's) and python3-onnx (the
// trainer's onnx.checker test). Elsewhere it says what to install, and the tests that need a missing tool
// skip with a message. Under CI (`CI` set, as .ci/run does) a package that is still missing is an error:
// exit 1, so a run cannot pass by skipping those tests.
import { spawnSync } from "node:child_process";

// `check` (a shell command that succeeds when the package is usable) replaces `command -v` where the
// package is a library, not a command.
const REQUIRED = [
  { command: "redis-server", debianPackage: "redis-server" },
  { check: '/usr/bin/python3 -c "import numpy"', debianPackage: "python3-numpy" },
  { check: '/usr/bin/python3 -c "import onnx"', debianPackage: "python3-onnx" },
];

const ci = !["", "0", "false"].includes((process.env.CI ?? "").trim().toLowerCase());
const has = (command) => spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
const usable = ({ command, check }) => (check ? spawnSync("sh", ["-c", check], { stdio: "ignore" }).status === 0 : has(command));
const stillMissing = () => REQUIRED.filter((entry) => !usable(entry)).map(({ debianPackage }) => debianPackage);

/** Under CI a missing package fails the run here, before any test; elsewhere it is a warning. */
function report(packages, why) {
  const message = `studykit: missing system packages: ${packages.join(", ")} (${why}; install them, e.g. \`sudo apt-get install -y ${packages.join(" ")}\`)`;
  if (ci) {
    console.error(`${message}; under CI the tests that need them must run, so this is an error`);
    process.exit(1);
  }
  console.warn(`${message}; tests that need them will be skipped`);
  process.exit(0);
}

const missing = stillMissing();
if (missing.length === 0) process.exit(0);
if (!(process.getuid?.() === 0 && has("apt-get"))) report(missing, "not root, or no apt-get, so they cannot be installed here");

console.log(`studykit: installing ${missing.join(", ")} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
const update = spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
const install = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { stdio: "inherit", env });
const after = stillMissing();
if (after.length > 0) report(after, `apt-get update exited ${update.status}, apt-get install exited ${install.status}, and they are still not usable`);
