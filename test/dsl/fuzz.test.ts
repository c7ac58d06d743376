// fuzz.test.ts: the parser, checker and formatter on generated bad input — random bytes, invalid
// UTF-8, real models with tokens deleted, duplicated or swapped, 10 000-deep nesting, long chains,
// huge numbers — never throw and always return at least one well-formed, located diagnostic.
// bench/fuzz.ts runs the same generators ≥ 100 000 times.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { lineStarts, positionOf } from "../../dsl/diagnostics.js";
import {
  type Mutant,
  type Rand,
  deepNesting,
  hugeNumbers,
  isBlank,
  longChain,
  problemsOf,
  randomAscii,
  randomBytes,
  runFrontEnd,
  seeded,
  tokenMutant,
} from "./fuzz-gen.js";

function expectLocatedDiagnostics(m: Mutant): void {
  const o = runFrontEnd(m.text);
  expect(problemsOf(o)).toEqual([]);
  if (!isBlank(m.text))
    expect(
      o.diagnostics.filter((d) => d.severity === "error").length,
      `${m.kind}: ${JSON.stringify(m.text.slice(0, 120))}`,
    ).toBeGreaterThan(0);
}

const cases: [string, (r: Rand) => Mutant, number][] = [
  ["random bytes and invalid UTF-8", randomBytes, 1000],
  ["random .mira-flavoured text", randomAscii, 1000],
  ["real models with a token deleted, duplicated or swapped", tokenMutant, 600],
  ["deep nesting (up to 20 000 levels)", deepNesting, 150],
  ["long operator and postfix chains", longChain, 40],
  ["huge numbers", hugeNumbers, 200],
];

describe("front end on bad input", () => {
  test.each(cases)(
    "%s: never throws, always a located diagnostic",
    (_, gen, numRuns) => {
      fc.assert(
        fc.property(fc.integer(), (seed) => expectLocatedDiagnostics(gen(seeded(seed)))),
        { numRuns },
      );
    },
    60_000,
  );

  test("10 000 nested parentheses give the nesting-limit diagnostic", () => {
    const o = runFrontEnd(
      `module A()(x: f32[N]) -> f32[N] {\n  return ${"(".repeat(10_000)}x${")".repeat(10_000)}\n}\n`,
    );
    expect(o.diagnostics.map((d) => [d.code, d.message])).toEqual([["M1003", "nesting deeper than 100 levels"]]);
  });

  // A mutation that keeps the syntax (deleting a dim from a type) is reported where the changed type
  // is used, which is right; the line property is about syntax errors, where recovery could drift.
  test("a syntax error in a mutated real model points at the mutated line", () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = seeded(seed);
        let m = tokenMutant(r);
        while (!m.lines) m = tokenMutant(r);
        const starts = lineStarts(m.text);
        const ds = runFrontEnd(m.text).diagnostics.filter((d) => d.span.file === "fuzz.mira");
        fc.pre(ds.some((d) => d.code.startsWith("M1")));
        const lines = ds.map((d) => positionOf(starts, d.span.start).line);
        expect(
          lines.some((l) => l >= m.lines![0] && l <= m.lines![1]),
          `${m.kind} at lines ${m.lines}: diagnostics at ${lines}`,
        ).toBe(true);
      }),
      { numRuns: 300 },
    );
  }, 60_000);
});
