import { describe, expect, it } from "vitest";
import { inheritableExecArgv } from "./job-child-process.js";

describe("inheritableExecArgv", () => {
  it("keeps loaders and memory limits, drops the debugger and code given on the command line", () => {
    expect(inheritableExecArgv(["--max-old-space-size=4096", "--import", "tsx", "--inspect=9229", "--input-type=module", "-e", "await run()", "--enable-source-maps"])).toEqual(["--max-old-space-size=4096", "--import", "tsx", "--enable-source-maps"]);
    expect(inheritableExecArgv(["--input-type", "module", "--eval", "x()", "-p", "1", "--print=2", "--eval=3", "--debug-port=1", "--no-warnings"])).toEqual(["--no-warnings"]);
    expect(inheritableExecArgv([])).toEqual([]);
  });
});
