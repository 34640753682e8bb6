/**
 * Checksum lists in the format `sha256sum` writes and `sha256sum -c` reads (GNU coreutils), for
 * `studykit hash --check`.
 *
 * One entry per line, in one of three forms:
 *
 * - `<64 hex>  <path>`: two spaces (text mode marker);
 * - `<64 hex> *<path>`: space and star (binary mode marker; on POSIX the same bytes are hashed);
 * - `SHA256 (<path>) = <64 hex>`: the BSD tag form (`sha256sum --tag`).
 *
 * Rules taken from GNU sha256sum (coreutils 9.1) by trying it: hex digits in either case; leading blanks
 * are skipped; a trailing CR (CRLF files) is dropped; empty lines and lines starting with `#` are ignored;
 * everything after the marker is the path, trailing spaces included; a line that starts with `\` holds an
 * escaped path (`\\` for a backslash, `\n` for a newline, `\r` for a carriage return). Anything else, a
 * single space or a tab as separator, a digest of the wrong length or an empty path, is an improperly
 * formatted line.
 */

/** Length of a SHA-256 digest in hex digits. */
const SHA256_HEX_LENGTH = 64;
const HEX_DIGEST = /^[0-9A-Fa-f]{64}$/;
/** The BSD tag form's algorithm name. */
const TAG_ALGORITHM = "SHA256";

/** One checksum line. */
export interface ChecksumEntry {
  /** 1-based line number in the list. */
  readonly line: number;
  /** The path as listed (unescaped). */
  readonly path: string;
  /** The expected digest, lower-case hex. */
  readonly sha256: string;
}

/** An improperly formatted line. */
export interface ChecksumLineProblem {
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

/** What {@link parseChecksumList} found. */
export interface ChecksumList {
  readonly entries: readonly ChecksumEntry[];
  readonly problems: readonly ChecksumLineProblem[];
}

// Undoes sha256sum's escaping of a path that holds a backslash, newline or CR; null when an escape is unknown.
function unescapePath(escaped: string): string | null {
  let out = "";
  for (let i = 0; i < escaped.length; i++) {
    const char = escaped[i]!;
    if (char !== "\\") {
      out += char;
      continue;
    }
    const next = escaped[++i];
    if (next === "\\") out += "\\";
    else if (next === "n") out += "\n";
    else if (next === "r") out += "\r";
    else return null;
  }
  return out;
}

type LineResult = { path: string; sha256: string } | { reason: string };

function parseLine(raw: string): LineResult {
  let text = raw.replace(/^[ \t]+/, "");
  const escaped = text.startsWith("\\");
  if (escaped) text = text.slice(1);
  let digest: string;
  let rawPath: string;
  if (text.startsWith(`${TAG_ALGORITHM} (`)) {
    const close = text.lastIndexOf(") = ");
    if (close < 0) return { reason: `a BSD tag line must read "${TAG_ALGORITHM} (<path>) = <64 hex digits>"` };
    rawPath = text.slice(TAG_ALGORITHM.length + 2, close);
    digest = text.slice(close + 4);
  } else {
    digest = text.slice(0, SHA256_HEX_LENGTH);
    const marker = text.slice(SHA256_HEX_LENGTH, SHA256_HEX_LENGTH + 2);
    if (!HEX_DIGEST.test(digest)) return { reason: `expected ${SHA256_HEX_LENGTH} hex digits first` };
    if (/^[0-9A-Fa-f]/.test(marker)) return { reason: `the digest is longer than ${SHA256_HEX_LENGTH} hex digits (not a SHA-256)` };
    if (marker !== "  " && marker !== " *") return { reason: `expected two spaces or " *" after the digest, got ${JSON.stringify(marker)}` };
    rawPath = text.slice(SHA256_HEX_LENGTH + 2);
  }
  if (!HEX_DIGEST.test(digest)) return { reason: `the digest must be ${SHA256_HEX_LENGTH} hex digits, got ${JSON.stringify(digest.slice(0, 80))}` };
  const path = escaped ? unescapePath(rawPath) : rawPath;
  if (path === null) return { reason: "the line starts with \\ (escaped path) but the path holds an escape other than \\\\, \\n or \\r" };
  if (path.length === 0) return { reason: "the path is empty" };
  return { path, sha256: digest.toLowerCase() };
}

/** Parses a checksum list; every improperly formatted line is collected, none stops the parse. */
export function parseChecksumList(text: string): ChecksumList {
  const entries: ChecksumEntry[] = [];
  const problems: ChecksumLineProblem[] = [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop(); // the final newline ends the last line, it does not start one
  lines.forEach((content, index) => {
    const line = index + 1;
    const raw = content.endsWith("\r") ? content.slice(0, -1) : content;
    if (raw.trim() === "" || raw.replace(/^[ \t]+/, "").startsWith("#")) return;
    const parsed = parseLine(raw);
    if ("reason" in parsed) problems.push({ line, text: raw, reason: parsed.reason });
    else entries.push({ line, ...parsed });
  });
  return { entries, problems };
}

/** A path as sha256sum prints it in a check report: escaped, with a leading `\`, when it holds a newline or CR. */
export function displayPath(path: string): string {
  if (!/[\n\r]/.test(path)) return path;
  return `\\${path.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r")}`;
}

/** A checksum line as `sha256sum` writes it (text mode), escaping paths that need it. */
export function formatChecksumLine(path: string, sha256: string): string {
  return /[\\\n\r]/.test(path) ? `\\${sha256}  ${path.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r")}` : `${sha256}  ${path}`;
}
