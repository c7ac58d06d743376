// remat-key.test.ts: the config key `remat` switches the training step's rematerialisation
// (compiler/remat.ts), so the checker holds it to bool; every other name may have any type.
import { expect, test } from "vitest";
import { formatDiagnostics } from "../../dsl/index.js";
import { run } from "./harness.js";

const model = (config: string): string => `import std.nn
model M {
  config { ${config} }
  input tokens: i32[B, T]
  output o = Embedding(32, 8)(tokens)
}
`;

test.each(["remat: bool = false", "remat = true"])("'%s' checks clean and takes --set remat=true", (config) => {
  for (const set of [[], ["remat=true"]]) {
    const r = run(model(config), { set });
    expect(formatDiagnostics(r.diagnostics, r.sources)).toBe("");
  }
});

test.each([
  ["remat: int = 1", "int"],
  ["remat = 0.5", "float"],
])("'%s' is an error: remat must be a bool", (config, type) => {
  const r = run(model(config));
  expect(r.diagnostics.map((d) => [d.code, d.message, d.hint])).toEqual([
    [
      "M2103",
      `config 'remat' switches rematerialisation of the training step, so it must be bool, not ${type}`,
      "declare it as remat: bool = false",
    ],
  ]);
});

test("a key of another name may have any type", () => {
  const r = run(model("rematerialise: int = 1"));
  expect(formatDiagnostics(r.diagnostics, r.sources)).toBe("");
});
