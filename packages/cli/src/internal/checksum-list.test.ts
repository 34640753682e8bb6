import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { displayPath, formatChecksumLine, parseChecksumList } from "./checksum-list.js";

const digest = fc.stringMatching(/^[0-9a-f]{64}$/);
// Paths with the characters that need care: spaces (trailing too), backslashes, newlines, CRs, stars, parentheses.
const path = fc.string({ unit: fc.constantFrom("a", "b", " ", "\\", "\n", "\r", "*", "(", ")", "=", "é", "#"), minLength: 1, maxLength: 12 });

describe("parseChecksumList", () => {
  it("reads back every line formatChecksumLine writes, paths and digests exact", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(path, digest), { minLength: 1, maxLength: 8 }), (entries) => {
        const text = entries.map(([name, sha]) => `${formatChecksumLine(name, sha)}\n`).join("");
        const parsed = parseChecksumList(text);
        expect(parsed.problems).toEqual([]);
        expect(parsed.entries.map((entry) => [entry.path, entry.sha256])).toEqual(entries);
        expect(parsed.entries.map((entry) => entry.line)).toEqual(entries.map((_, index) => index + 1));
      }),
    );
  });

  it("accepts the binary marker, upper-case hex, the BSD tag form, CRLF, leading blanks and a missing final newline", () => {
    const sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const text = [`${sha} *bin.dat`, `${sha.toUpperCase()}  upper.txt\r`, `SHA256 (tag (1).txt) = ${sha}`, `  ${sha}  indented.txt`, `${sha}  trailing space `].join("\n");
    expect(parseChecksumList(text)).toEqual({
      entries: [
        { line: 1, path: "bin.dat", sha256: sha },
        { line: 2, path: "upper.txt", sha256: sha },
        { line: 3, path: "tag (1).txt", sha256: sha },
        { line: 4, path: "indented.txt", sha256: sha },
        { line: 5, path: "trailing space ", sha256: sha },
      ],
      problems: [],
    });
  });

  it("collects every improperly formatted line with its number, skipping comments and empty lines", () => {
    const sha = "0".repeat(64);
    const text = [`# made by hand`, ``, `${sha} one-space.txt`, `${sha}0  long.txt`, `${sha.slice(1)}  short.txt`, `${sha}  `, `${sha}\ttab.txt`, `\\${sha}  bad\\escape`, `SHA256 (x) ${sha}`, `${sha}  good.txt`].join("\n");
    const parsed = parseChecksumList(text);
    expect(parsed.entries).toEqual([{ line: 10, path: "good.txt", sha256: sha }]);
    expect(parsed.problems.map((problem) => problem.line)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    for (const problem of parsed.problems) expect(problem.reason.length).toBeGreaterThan(0);
  });

  it("shows a path as sha256sum does: escaped only when it holds a newline or CR", () => {
    expect(displayPath("back\\slash")).toBe("back\\slash");
    expect(displayPath("n\nl\\x")).toBe("\\n\\nl\\\\x");
  });
});
