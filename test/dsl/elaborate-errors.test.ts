// elaborate-errors.test.ts: elaboration, like the checker, reports every error it can in one go — a
// statement that fails leaves its names unknown, and what reads them ends without a second error.
import { join } from "node:path";
import { expect, test } from "vitest";
import { ModelError, modelFromSource } from "../../api/model.js";
import { MODELS, run } from "./harness.js";

const src = `import std.nn
model M {
  config { d: int = 8 }
  input tokens: i32[B, T]
  input x: f32[N, d]
  output a = MultiHeadAttention(d, 3)(Embedding(32, d)(tokens), Embedding(32, d)(tokens))
  output b = x * 2.0
  output c = a + a
}
`;

test("two elaboration errors at once: a batch dim without a size and a config that does not divide", () => {
  const { diagnostics } = run(src, { elaborate: { B: 2, T: 4 } });
  expect(diagnostics.map((d) => [d.code, d.message])).toEqual([
    ["M3004", "batch dimension 'N' has no size"],
    ["M3005", "8 / 3 is not a whole number"],
  ]);
});

test("a model's elaboration throws one ModelError holding both, formatted like the checker's", () => {
  const model = modelFromSource(src, join(MODELS, "case.mira"));
  let error: unknown;
  try {
    model.elaborate({ B: 2, T: 4 });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ModelError);
  const e = error as ModelError;
  expect(e.diagnostics.map((d) => d.code)).toEqual(["M3004", "M3005"]);
  expect(e.message).toMatch(/case\.mira:5:\d+ error M3004 batch dimension 'N' has no size/);
  expect(e.message).toMatch(/nn\.mira:\d+:\d+ error M3005 8 \/ 3 is not a whole number/);
});
