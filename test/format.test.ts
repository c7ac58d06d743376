// format.test.ts: the tree is as Biome formats it (biome.json: two-space indents, 120 columns), and no
// source line is longer than 120 characters — the formatter does not break strings or comments.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";

const root = join(import.meta.dirname, "..");
const SOURCE = /\.(ts|mts|mjs|js)$/;

/** Files git tracks, and those it does not ignore yet (a new file must obey before it is added). */
function sourceFiles(): string[] {
  const r = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
    cwd: root,
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\n").filter((f) => SOURCE.test(f));
}

test("biome format finds nothing to change", () => {
  const r = spawnSync(join(root, "node_modules", ".bin", "biome"), ["format", "."], { cwd: root, encoding: "utf8" });
  expect(r.status, `${r.stdout}${r.stderr}\nrun: npx biome format --write .`).toBe(0);
});

test("no source line is longer than 120 characters", () => {
  const files = sourceFiles();
  expect(files.length).toBeGreaterThan(100);
  const long: string[] = [];
  for (const f of files) {
    readFileSync(join(root, f), "utf8")
      .split("\n")
      .forEach((line, i) => {
        if ([...line].length > 120) long.push(`${f}:${i + 1} (${[...line].length})`);
      });
  }
  expect(long).toEqual([]);
});
