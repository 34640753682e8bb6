/** System errors of real file-system calls become coded `IoError`s naming the path; other errors pass. */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IoError, StudykitError } from "@studykit/native";
import { codedFileSystemError } from "./file-system-errors.js";

const work = mkdtempSync(path.join(tmpdir(), "studykit-fs-errors-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const file = path.join(work, "file");
writeFileSync(file, "");

function thrownBy(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error("the call did not throw");
}

describe("codedFileSystemError", () => {
  it("names the path and the fix for a directory under a regular file (ENOTDIR) and over one (EEXIST)", () => {
    const under = codedFileSystemError(thrownBy(() => mkdirSync(path.join(file, "out"), { recursive: true })));
    expect(under).toBeInstanceOf(IoError);
    expect(under).toMatchObject({ code: "E_IO", path: path.join(file, "out") });
    expect((under as Error).message).toBe(`cannot create the directory ${path.join(file, "out")}: a part of the path is a regular file, not a directory; choose an output root (--out) that is not under a file [ENOTDIR]`);
    const over = codedFileSystemError(thrownBy(() => mkdirSync(file, { recursive: true })));
    expect(over).toMatchObject({ code: "E_IO", path: file, message: expect.stringMatching(/^cannot create the directory .*file: something that is not a directory already has that name.* \[EEXIST\]$/) });
  });

  it("names both ends of a failed rename and keeps the system error as the cause", () => {
    const missing = path.join(work, "missing");
    const target = path.join(work, "target");
    const original = thrownBy(() => renameSync(missing, target));
    const coded = codedFileSystemError(original);
    expect(coded).toMatchObject({ code: "E_IO_NOT_FOUND", path: target, cause: original });
    expect((coded as Error).message).toMatch(new RegExp(`^cannot move ${missing} to ${target}: no such file or directory`));
  });

  it("passes coded and non-system errors through unchanged", () => {
    const coded = new StudykitError("E_STUDY_CONFIG", "bad");
    expect(codedFileSystemError(coded)).toBe(coded);
    const plain = new Error("a bug");
    expect(codedFileSystemError(plain)).toBe(plain);
    expect(codedFileSystemError("text")).toBe("text");
  });
});
