// The one direction dsl → compiler → runtime, base/ beneath them all, and nothing imports cli/.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";

const root = join(import.meta.dirname, "..");

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

const forbidden: [dir: string, bad: RegExp][] = [
  ["base", /from "\.\.\//], // a leaf every layer may import: it imports nothing of the project
  ["dsl", /from "[^"]*\/(compiler|runtime|cli)\//],
  ["compiler", /from "([^"]*\/(runtime|cli)\/|webgpu")/],
  ["runtime", /from "[^"]*\/(dsl|cli)\//],
  ["bench", /from "[^"]*\/cli\//],
  ["lsp", /from "([^"]*\/(runtime|cli)\/|webgpu")/],
];

test.each(forbidden)("%s/ imports only downstream", (dir, bad) => {
  const files = sourceFiles(dir);
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) expect(readFileSync(join(root, f), "utf8"), f).not.toMatch(bad);
});
