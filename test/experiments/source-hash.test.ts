// The experiment cache's key: a kept run is reused only while the source it executes is the same. The
// hash covers the content of every file under RUN_SOURCES, compiler and runtime code included.
import { cpSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { RUN_SOURCES, sourceHash } from "../../bench/experiments/runs.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A small tree with a file in every folder a run executes, and one (docs/) it does not. */
function tree(): string {
  const root = mkdtempSync(join(tmpdir(), "mira-source-hash-"));
  dirs.push(root);
  for (const folder of [...RUN_SOURCES, "docs"]) {
    mkdirSync(join(root, folder, "sub"), { recursive: true });
    writeFileSync(join(root, folder, "a.ts"), `export const a = "${folder}";\n`);
    writeFileSync(join(root, folder, "sub", "b.ts"), `export const b = "${folder}";\n`);
  }
  return root;
}

test("every layer a run executes is covered: models, the language, compiler, runtime, api, apps, cli", () => {
  for (const folder of ["models", "dsl", "compiler", "runtime", "datasets", "api", "cli", "base", "apps"])
    expect(RUN_SOURCES).toContain(folder);
});

test("the key changes when any executed file's content changes, and only then", () => {
  const root = tree();
  const before = sourceHash(root);
  const copy = mkdtempSync(join(tmpdir(), "mira-source-hash-copy-"));
  dirs.push(copy);
  cpSync(root, copy, { recursive: true });
  // the same contents elsewhere, with other mtimes: the same key
  utimesSync(join(copy, "compiler", "a.ts"), new Date(0), new Date(0));
  expect(sourceHash(copy)).toBe(before);
  // a compiler file's content changed (in a sub-folder too): another key
  writeFileSync(join(copy, "compiler", "sub", "b.ts"), `export const b = "compiler, changed";\n`);
  expect(sourceHash(copy)).not.toBe(before);
  cpSync(root, copy, { recursive: true });
  expect(sourceHash(copy)).toBe(before);
  for (const folder of ["runtime", "models", "dsl"]) {
    writeFileSync(join(copy, folder, "a.ts"), "// edited\n");
    expect(sourceHash(copy), folder).not.toBe(before);
    cpSync(root, copy, { recursive: true });
  }
  // a new file counts; a file outside the run's source does not
  writeFileSync(join(copy, "runtime", "new.ts"), "");
  expect(sourceHash(copy)).not.toBe(before);
  rmSync(join(copy, "runtime", "new.ts"));
  writeFileSync(join(copy, "docs", "a.ts"), "// docs are not executed\n");
  expect(sourceHash(copy)).toBe(before);
});

test("moving bytes between files or renaming a file changes the key", () => {
  const root = tree();
  const before = sourceHash(root);
  writeFileSync(join(root, "compiler", "a.ts"), `export const a = "compiler";\nexport const b = "compiler";\n`);
  writeFileSync(join(root, "compiler", "sub", "b.ts"), "");
  expect(sourceHash(root)).not.toBe(before);
  const other = tree();
  rmSync(join(other, "api", "a.ts"));
  writeFileSync(join(other, "api", "c.ts"), `export const a = "api";\n`);
  expect(sourceHash(other)).not.toBe(sourceHash(tree()));
});

test("the repository's own source hashes in well under a second", () => {
  const t = performance.now();
  expect(sourceHash()).toMatch(/^[0-9a-f]{64}$/);
  expect(performance.now() - t).toBeLessThan(2000);
});
