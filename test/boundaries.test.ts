// The one direction base → datasets → dsl → compiler → runtime → api → apps → cli (lsp/ beside api/), nothing
// imports cli/, and no import circle spans two folders.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { expect, test } from "vitest";

const root = join(import.meta.dirname, "..");
const FOLDERS = ["base", "datasets", "dsl", "compiler", "runtime", "lsp", "api", "apps", "cli", "bench"] as const;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = posix.join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

/** What a file imports: static, dynamic and re-exports — relative ones as repo paths, others as written. */
function imports(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)"([^"]+)"/g)].map(([, spec]) =>
    spec.startsWith(".") ? posix.join(dirname(file), spec).replace(/\.js$/, ".ts") : spec,
  );
}

const folderOf = (path: string): string => path.split("/")[0];
const allBut = (...keep: string[]): string[] => FOLDERS.filter((f) => !keep.includes(f));

/** For each folder, the folders (and packages) its files may not import. */
const forbidden: [dir: string, bad: readonly string[]][] = [
  ["base", allBut("base")],
  ["datasets", allBut("base", "datasets")],
  ["dsl", ["compiler", "runtime", "apps", "cli"]],
  ["compiler", ["runtime", "apps", "cli", "webgpu"]],
  ["runtime", ["dsl", "apps", "cli"]],
  ["api", ["apps", "cli", "bench"]],
  ["apps", ["cli", "bench"]],
  ["lsp", ["runtime", "apps", "cli", "webgpu"]],
  ["bench", ["cli"]],
];

test.each(forbidden)("%s/ imports only downstream", (dir, bad) => {
  const files = sourceFiles(dir);
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) {
    const wrong = imports(f).filter((spec) => bad.includes(folderOf(spec)));
    expect(wrong, f).toEqual([]);
  }
});

/** Tarjan's strongly connected components of the file import graph. */
function components(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    out.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

// Mutual recursion inside one folder (the checker's dsl/check/) is one module split into files; a circle
// through two folders means neither can be read, tested or moved without the other.
test("no import circle spans two folders", () => {
  const files = [...FOLDERS.flatMap(sourceFiles), "index.ts"];
  const graph = new Map(files.map((f) => [f, imports(f).filter((spec) => spec.endsWith(".ts"))]));
  const circles = components(graph).filter((scc) => new Set(scc.map(dirname)).size > 1);
  expect(circles).toEqual([]);
});
