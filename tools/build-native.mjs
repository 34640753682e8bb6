#!/usr/bin/env node
// Builds the Rust N-API addon with cargo and places the `.node` file where the loader looks for it:
// native/build/studykit-native.<platform>-<arch>.node. We use a plain script rather than @napi-rs/cli
// because the crate hand-declares its N-API FFI (no crates.io access), so napi-rs's extras (typings
// generation, napi crate integration) bring nothing here.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, renameSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const nativeDir = join(dirname(fileURLToPath(import.meta.url)), "..", "native");
const profile = process.env.STUDYKIT_NATIVE_PROFILE === "debug" ? "debug" : "release";

const cargo = spawnSync(
  "cargo",
  ["build", "--offline", "--manifest-path", join(nativeDir, "Cargo.toml"), ...(profile === "release" ? ["--release"] : [])],
  { stdio: "inherit" },
);
if (cargo.error) {
  console.error(`error[E_NATIVE_BUILD]: could not run cargo (${cargo.error.message}); install Rust (https://rustup.rs) and retry`);
  process.exit(1);
}
if (cargo.status !== 0) {
  console.error(`error[E_NATIVE_BUILD]: cargo build failed with exit code ${cargo.status}`);
  process.exit(1);
}

const libraryName = {
  linux: "libstudykit_native.so",
  darwin: "libstudykit_native.dylib",
  win32: "studykit_native.dll",
}[process.platform];
if (!libraryName) {
  console.error(`error[E_NATIVE_BUILD]: unsupported platform ${process.platform}`);
  process.exit(1);
}
const built = join(nativeDir, "target", profile, libraryName);
if (!existsSync(built)) {
  console.error(`error[E_NATIVE_BUILD]: cargo reported success but ${built} does not exist`);
  process.exit(1);
}
const outDir = join(nativeDir, "build");
mkdirSync(outDir, { recursive: true });
const target = join(outDir, `studykit-native.${process.platform}-${process.arch}.node`);
// Copy then rename, so a concurrently loading process never sees half a library.
const temporary = `${target}.${process.pid}.tmp`;
copyFileSync(built, temporary);
renameSync(temporary, target);
console.log(`native addon: ${target}`);
