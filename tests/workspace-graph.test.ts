import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// DESIGN.md's dependency direction: native at the bottom; core and data on native; trainer on core and
// data; ptycho on data and native (never on the trainer); study on those; cli and bench on top. Anything
// else (including cycles) is a design break.
const ALLOWED: Record<string, readonly string[]> = {
  "@studykit/native": [],
  "@studykit/core": ["@studykit/native"],
  "@studykit/data": ["@studykit/native"],
  "@studykit/trainer": ["@studykit/native", "@studykit/core", "@studykit/data"],
  "@studykit/ptycho": ["@studykit/native", "@studykit/data"],
  "@studykit/study": ["@studykit/native", "@studykit/core", "@studykit/data", "@studykit/trainer", "@studykit/ptycho"],
  "@studykit/cli": ["@studykit/native", "@studykit/core", "@studykit/data", "@studykit/trainer", "@studykit/ptycho", "@studykit/study", "@studykit/bench"],
  "@studykit/bench": ["@studykit/native", "@studykit/core", "@studykit/data", "@studykit/trainer", "@studykit/ptycho", "@studykit/study"],
};

const root = new URL("..", import.meta.url).pathname;
const manifests = [join(root, "native"), ...readdirSync(join(root, "packages")).map((name) => join(root, "packages", name))].map((dir) => ({
  dir,
  json: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name: string; dependencies?: Record<string, string>; exports: Record<string, { types?: string }> },
}));

function sourceImports(dir: string): Set<string> {
  const found = new Set<string>();
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) for (const match of readFileSync(path, "utf8").matchAll(/from "(@studykit\/[a-z]+)(\/[^"]*)?"/g)) found.add(match[1]! + (match[2] ?? ""));
    }
  };
  walk(join(dir, "src"));
  return found;
}

describe("workspace layout", () => {
  it("has exactly the packages of DESIGN.md", () => {
    expect(manifests.map((m) => m.json.name).sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it.each(manifests.map((m) => [m.json.name, m] as const))("%s depends only downward and imports only public entries", (name, manifest) => {
    const declared = Object.keys(manifest.json.dependencies ?? {}).filter((dep) => dep.startsWith("@studykit/"));
    for (const dep of declared) expect(ALLOWED[name], `${name} -> ${dep}`).toContain(dep);
    for (const imported of sourceImports(manifest.dir)) {
      expect(imported, `${name} imports ${imported}: only public entries may be imported`).toMatch(/^@studykit\/[a-z]+(\/backends\/[a-z]+)?$/);
      const target = imported.split("/").slice(0, 2).join("/");
      if (target !== name) expect(declared, `${name} imports ${target} without declaring it`).toContain(target);
    }
    const rootExport = manifest.json.exports["."]!;
    expect(Object.keys(rootExport)[0]).toBe("types");
  });
});
