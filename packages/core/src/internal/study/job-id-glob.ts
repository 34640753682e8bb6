/**
 * Job-id globs (`dose_1000/*`, `**\/gs2`, `dose_1?00/dense/*`), used by the job matrix filters.
 *
 * Hand-written because job ids are a tiny, fixed grammar (`/`-separated segments) and Node 20's
 * `path.matchesGlob` is still experimental (it prints a warning); pulling in a glob library for three
 * wildcards is not worth a dependency. `*` and `?` stay inside one segment, `**` spans segments, and
 * `[abc]` is a character class.
 */

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Compiles a job-id glob into an anchored regular expression. */
export function compileJobIdGlob(glob: string): RegExp {
  let source = "";
  for (let index = 0; index < glob.length; index += 1) {
    const char = glob[index]!;
    if (char === "*") {
      if (glob[index + 1] === "*") {
        index += 1;
        // `**/` also matches zero segments, so `**/gs2` matches `gs2`.
        if (glob[index + 1] === "/") {
          index += 1;
          source += "(?:.*/)?";
        } else {
          source += ".*";
        }
      } else {
        source += "[^/]*";
      }
    } else if (char === "?") {
      source += "[^/]";
    } else if (char === "[") {
      const close = glob.indexOf("]", index + 1);
      if (close === -1) {
        source += "\\[";
      } else {
        const body = glob.slice(index + 1, close).replace(/\\/g, "\\\\");
        source += body.startsWith("!") ? `[^${body.slice(1)}]` : `[${body}]`;
        index = close;
      }
    } else {
      source += escapeRegExp(char);
    }
  }
  return new RegExp(`^${source}$`);
}

/** True when `jobId` matches any of the globs. */
export function matchesAnyJobIdGlob(jobId: string, globs: readonly RegExp[]): boolean {
  return globs.some((glob) => glob.test(jobId));
}
