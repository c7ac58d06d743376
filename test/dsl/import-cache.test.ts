// import-cache.test.ts: imported files are checked once per content (dsl/check.ts), and the results
// equal a check of everything together: a counted work limit, not a timing.
import { describe, expect, test } from "vitest";
import { importCacheStats } from "../../dsl/check.js";
import { MODELS, readModel, run } from "./harness.js";

const LM = readModel("char_lm.mira");
const lm = (text: string, files?: Record<string, string>) => run(text, { file: `${MODELS}/char_lm.mira`, files });

describe("checked imports are cached by content", () => {
  test("edits of the entry file re-check std.nn once, then never", () => {
    const before = { ...importCacheStats };
    const nn = readModel("std/nn.mira") + "\n// a different text, so a different key\n";
    for (let i = 0; i < 20; i++)
      expect(lm(LM.replace("d: int = 64", `d: int = ${64 + 2 * i}`), { "std/nn.mira": nn }).diagnostics).toEqual([]);
    expect(importCacheStats.misses - before.misses).toBe(1);
    expect(importCacheStats.hits - before.hits).toBe(19);
  });

  test("a changed import is checked again, and its errors still show", () => {
    const broken = readModel("std/nn.mira").replace("return x @ w + b", "return x @ w + c");
    const r = lm(LM, { "std/nn.mira": broken });
    expect(r.diagnostics.map((d) => [d.code, d.message])).toContainEqual(["M2001", "unknown name 'c'"]);
  });

  test("an entry declaration that repeats an imported name is the one reported", () => {
    const r = lm(
      LM.replace("model CharLM {", "module Linear()(x: f32[N]) -> f32[N] {\n  return x\n}\n\nmodel CharLM {"),
    );
    const dup = r.diagnostics.filter((d) => d.code === "M2002");
    expect(dup.map((d) => [d.span.file.endsWith("char_lm.mira"), d.message])).toEqual([
      [true, "'Linear' is declared twice"],
    ]);
  });

  test("an import that uses a name only the entry declares is checked together with it, as before", () => {
    const lib = "module UsesEntry(d: int)(x: f32[N, d]) -> f32[N, d] {\n  return Helper(d)(x)\n}\n";
    const entry =
      "import lib.uses\nmodule Helper(d: int)(x: f32[N, d]) -> f32[N, d] {\n  return x\n}\nmodel M {\n" +
      "  input x: f32[B, 4]\n  output o = UsesEntry(4)(x)\n}\n";
    expect(run(entry, { files: { "lib/uses.mira": lib } }).diagnostics).toEqual([]);
  });
});
