// text-data.ts (tests): a temporary folder holding a small text data set (200 short phrases), for tests
// that train char_lm as a user would, from the library or through the CLI.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function textDataFolder(prefix: string): { readonly dir: string; readonly data: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const data = join(dir, "text.txt");
  const phrases = ["one small step. ", "two big leaps. ", "three quiet nights. "];
  writeFileSync(data, Array.from({ length: 200 }, (_, i) => phrases[i % 3]).join(""));
  return { dir, data };
}
