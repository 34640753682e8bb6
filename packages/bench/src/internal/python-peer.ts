/**
 * Finding a python3 that has a given module (numpy, torch) and running the peer scripts in `python/`.
 * Several interpreters may be installed (pyenv's with numpy, Debian's with `python3-torch`), so each
 * candidate is tried in order and every failure is kept for the "absent" reason.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ContenderAbsentError } from "./measure.js";

/** Folder of the python peer scripts (the same relative place from `src/internal` and `dist/internal`). */
export const PYTHON_SCRIPT_DIR = fileURLToPath(new URL("../../python/", import.meta.url));

export interface PythonModule {
  readonly executable: string;
  readonly pythonVersion: string;
  readonly moduleVersion: string;
}

function pythonCandidates(): string[] {
  const list = [process.env.STUDYKIT_PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => Boolean(p));
  return [...new Set(list)];
}

interface ExecOutcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly error?: Error;
}

/** Runs a program and collects its output; never rejects (failures are data here). */
export function execCollect(file: string, args: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ExecOutcome> {
  return new Promise((resolve) => {
    execFile(file, [...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 0, env: options.env ?? process.env }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === "number" ? ((error as { code: number }).code) : null) : 0;
      resolve({ code, stdout, stderr, ...(error ? { error } : {}) });
    });
  });
}

const found = new Map<string, Promise<PythonModule>>();

/**
 * The first python3 that imports `module`; rejects with {@link ContenderAbsentError} naming every
 * interpreter tried and why it failed.
 */
export function findPythonWith(module: string): Promise<PythonModule> {
  let pending = found.get(module);
  if (!pending) {
    pending = (async () => {
      const failures: string[] = [];
      const probe = `import sys, ${module}; print(sys.version.split()[0]); print(getattr(${module}, "__version__", "unknown"))`;
      for (const executable of pythonCandidates()) {
        const outcome = await execCollect(executable, ["-c", probe], { timeoutMs: 60_000 });
        if (outcome.code === 0) {
          const [pythonVersion = "?", moduleVersion = "?"] = outcome.stdout.trim().split("\n");
          return { executable, pythonVersion, moduleVersion };
        }
        const why = outcome.error && (outcome.error as { code?: unknown }).code === "ENOENT" ? "not found" : (outcome.stderr.trim().split("\n").pop() ?? "failed");
        failures.push(`${executable}: ${why}`);
      }
      const hint = module === "torch" ? " (Debian: apt-get install -y python3-torch)" : module === "numpy" ? " (pip install numpy, or Debian python3-numpy)" : "";
      throw new ContenderAbsentError(`no python3 with ${module}${hint}; tried ${failures.join("; ")}`);
    })();
    found.set(module, pending);
  }
  return pending;
}

/** Runs `python/<script>` with `args` and parses the JSON object it prints last on stdout. */
export async function runPythonScript(python: PythonModule, script: string, args: readonly string[], timeoutMs: number): Promise<Record<string, unknown>> {
  const outcome = await execCollect(python.executable, [PYTHON_SCRIPT_DIR + script, ...args], { timeoutMs, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  if (outcome.code !== 0) {
    const tail = outcome.stderr.trim().split("\n").slice(-3).join(" | ");
    throw new Error(`${script} exited with ${outcome.code ?? "a signal (timeout?)"}: ${tail}`);
  }
  const lastLine = outcome.stdout.trim().split("\n").pop() ?? "";
  const parsed: unknown = JSON.parse(lastLine);
  if (typeof parsed !== "object" || parsed === null) throw new Error(`${script} printed no JSON object`);
  return parsed as Record<string, unknown>;
}

/** Reads a numeric array field of a peer's JSON answer, or throws naming the field. */
export function numbersField(answer: Record<string, unknown>, key: string): number[] {
  const value = answer[key];
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "number" && Number.isFinite(v))) {
    throw new Error(`python peer answer has no numeric "${key}" list`);
  }
  return value as number[];
}
