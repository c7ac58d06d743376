// docs.test.ts: every ```mira example in docs/language.md and docs/models.md checks without errors,
// and the diagnostic table in language.md lists exactly the codes the front end has.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { CODES, check, formatDiagnostics } from "../../dsl/index.js";
import { MODELS, ROOT } from "./harness.js";

const doc = fs.readFileSync(path.join(ROOT, "docs/language.md"), "utf8");
const examples = [...doc.matchAll(/```mira\n([\s\S]*?)```/g)].map((m, i) => [i, m[1]] as const);

const modelsDoc = fs.readFileSync(path.join(ROOT, "docs/models.md"), "utf8");
const modelExamples = [...modelsDoc.matchAll(/```mira\n([\s\S]*?)```/g)].map((m, i) => [i, m[1]] as const);

describe("docs/models.md", () => {
  test.each(modelExamples)("example %i checks clean", (i, src) => {
    const r = check(src, `models.md#${i}`, { root: MODELS });
    expect(formatDiagnostics(r.diagnostics, r.sources)).toBe("");
  });

  test("the Combiner table names every implementation in std.combiners", () => {
    const impls = [
      ...fs
        .readFileSync(path.join(MODELS, "std/combiners.mira"), "utf8")
        .matchAll(/^module (\w+)\(.*implements Combiner/gm),
    ].map((m) => m[1]);
    expect(impls.length).toBeGreaterThanOrEqual(6);
    expect(modelExamples.length).toBeGreaterThan(0);
    for (const name of impls) expect(modelsDoc).toContain(`| \`${name}(`);
  });
});

describe("docs/language.md", () => {
  test("has examples", () => expect(examples.length).toBeGreaterThanOrEqual(10));

  test.each(examples)("example %i checks clean", (i, src) => {
    const r = check(src, `language.md#${i}`, { root: MODELS });
    expect(formatDiagnostics(r.diagnostics, r.sources)).toBe("");
  });

  test("the diagnostic table lists every code", () => {
    const listed = [...doc.matchAll(/^\| (M\d{4}) \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(Object.keys(CODES).sort());
  });
});
