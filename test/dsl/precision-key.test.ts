// precision-key.test.ts: the config key `precision` chooses how a model stores its floating-point values
// (compiler/precision.ts), so the checker holds it to a dtype, f32 or f16, whether the file, a preset or
// --set gives it.
import { expect, test } from "vitest";
import { formatDiagnostics } from "../../dsl/index.js";
import { run } from "./harness.js";

const model = (config: string): string => `import std.nn
model M {
  config { ${config} }
  preset half { precision = f16 }
  input tokens: i32[B, T]
  output o = Embedding(32, 8)(tokens)
}
`;

test("'precision: dtype = f32' checks clean, with the preset and with --set precision=f16", () => {
  for (const [preset, set] of [
    [undefined, []],
    ["half", []],
    [undefined, ["precision=f16"]],
  ] as const) {
    const r = run(model("precision: dtype = f32"), { preset, set: [...set] });
    expect(formatDiagnostics(r.diagnostics, r.sources)).toBe("");
  }
});

test("a precision that is not a dtype is an error naming the fix", () => {
  const r = run(model("precision: int = 16").replace("precision = f16", "precision = 16"));
  expect(r.diagnostics.map((d) => [d.code, d.message, d.hint])).toEqual([
    [
      "M2103",
      "config 'precision' chooses how floating-point values are stored, so it must be a dtype, not int",
      "declare it as precision: dtype = f32",
    ],
  ]);
});

test("a dtype other than f32 or f16 is an error at the value that chose it", () => {
  const r = run(model("precision: dtype = f32"), { set: ["precision=i32"] });
  expect(r.diagnostics.map((d) => [d.code, d.message, d.hint])).toEqual([
    [
      "M2103",
      "config 'precision' is i32, but values are stored as f32 or f16",
      "set precision=f16 to halve the memory of weights and activations, or f32",
    ],
  ]);
});
