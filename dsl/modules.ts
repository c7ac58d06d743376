// modules.ts: loads a file and everything it imports. `import std.nn` names models/std/nn.mira,
// found under the models root: the nearest ancestor directory called `models` of the importing file
// (or the file's own directory when there is none). Cycles and missing files become diagnostics.
import * as path from "node:path";
import type * as A from "./ast.js";
import { type Diagnostic, diag } from "./diagnostics.js";
import { type Comment, parse } from "./parse.js";

/** Reads a file, or returns undefined when it does not exist; injected so tests and fuzzers need no disk. */
export type ReadFile = (file: string) => string | undefined;

export interface Loaded {
  /** The entry program first, then imports in the order first reached. */
  readonly programs: A.Program[];
  readonly sources: Map<string, string>;
  readonly comments: Map<string, Comment[]>;
}

export function modelsRoot(file: string): string {
  let dir = path.dirname(path.resolve(file));
  for (;;) {
    if (path.basename(dir) === "models") return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.dirname(path.resolve(file));
    dir = up;
  }
}

export const importPath = (root: string, imp: A.ImportDecl): string =>
  path.join(root, ...imp.path.map((p) => p.name)) + ".mira";

/** Parsed files are cached by name and text, so a fuzzer re-checking mutants of one model parses
 *  its imports once. */
const cache = new Map<string, { text: string; parsed: ReturnType<typeof parse> }>();

function parseCached(text: string, file: string): ReturnType<typeof parse> {
  const hit = cache.get(file);
  if (hit && hit.text === text) return hit.parsed;
  const parsed = parse(text, file);
  if (cache.size > 64) cache.clear();
  cache.set(file, { text, parsed });
  return parsed;
}

export function loadProgram(
  entry: string,
  source: string,
  read: ReadFile,
  root = modelsRoot(entry),
): { result: Loaded; diagnostics: Diagnostic[] } {
  const loaded: Loaded = { programs: [], sources: new Map(), comments: new Map() };
  const diagnostics: Diagnostic[] = [];
  const done = new Set<string>();
  const visit = (file: string, text: string, stack: string[]): void => {
    // The entry is parsed fresh (it is the file being edited); imports come from the cache.
    const parsed = stack.length === 0 ? parse(text, file) : parseCached(text, file);
    done.add(file);
    loaded.programs.push(parsed.result);
    loaded.sources.set(file, text);
    loaded.comments.set(file, parsed.comments);
    diagnostics.push(...parsed.diagnostics);
    for (const d of parsed.result.decls) {
      if (d.kind !== "import" || d.path.some((p) => p.name === "")) continue;
      const target = importPath(root, d);
      const shown = d.path.map((p) => p.name).join(".");
      if ([...stack, file].includes(target)) {
        diagnostics.push(
          diag(
            "M2005",
            d.span,
            `import ${shown} forms a cycle: ${[...stack, file, target]
              .slice([...stack, file].indexOf(target))
              .map((f) => path.basename(f))
              .join(" → ")}`,
            "move the shared declarations into a third file that both import",
          ),
        );
        continue;
      }
      if (done.has(target)) continue;
      const t = read(target);
      if (t === undefined) {
        diagnostics.push(
          diag(
            "M2004",
            d.span,
            `cannot find ${shown} (looked for ${path.relative(process.cwd(), target) || target})`,
            `imports name files under ${path.relative(process.cwd(), root) || root}/, ` +
              "e.g. import std.nn for std/nn.mira",
          ),
        );
        continue;
      }
      visit(target, t, [...stack, file]);
    }
  };
  visit(entry, source, []);
  return { result: loaded, diagnostics };
}
