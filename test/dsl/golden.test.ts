// golden.test.ts: every diagnostic code, with its exact message and position, and the printed form.
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { CODES, formatDiagnostic, locate } from "../../dsl/diagnostics.js";
import { GOLDEN } from "./golden-cases.js";
import { ROOT, run } from "./harness.js";

/** code → [file:line:col, message]; files under the repo are shown relative to it. */
const EXPECTED: Record<string, [string, string]> = {
  M1001: ["case.mira:2:12", "unexpected character '$'"],
  M1002: ["case.mira:2:15", "expected an expression, found 'return'"],
  M1003: ["case.mira:2:109", "nesting deeper than 100 levels"],
  M1004: ["case.mira:2:14", "number 1e999 is out of range"],
  M1005: ["case.mira:52:7", "140 more diagnostics not shown"],
  M2001: ["case.mira:5:11", "unknown name 'Embeding'"],
  M2002: ["case.mira:3:7", "'y' is already defined in this block"],
  M2003: ["case.mira:1:13", "unknown type 'Combiner'"],
  M2004: ["case.mira:1:1", "cannot find std.missing (looked for models/std/missing.mira)"],
  M2005: ["models/lib/b.mira:1:1", "import lib.a forms a cycle: a.mira → b.mira → a.mira"],
  M2006: ["case.mira:3:5", "'param' is not allowed in a repeat block"],
  M2101: ["case.mira:5:28", "Embedding takes 2 arguments, got 3"],
  M2102: ["case.mira:5:25", "Embedding has no parameter 'width'"],
  M2103: ["case.mira:5:25", "hyperparameter 'd' of Embedding must be int, not float"],
  M2104: ["case.mira:7:19", "matmul inner dimensions differ: f32[B, T, d] @ f32[32, d]"],
  M2105: ["case.mira:7:14", "shapes do not broadcast: f32[B, T, d] + f32[3]"],
  M2106: ["case.mira:6:28", "argument 'x' of Linear is f32[B, T, d] but must be f32[B, T, 16]"],
  M2107: ["case.mira:6:37", "argument 'x' of TransformerBlock is f32[B, d] but must be f32[B, T, d] (rank 3, not 2)"],
  M2108: ["case.mira:2:3", "A returns f32[N, M - 1] but the module declares f32[N, M]"],
  M2109: ["case.mira:2:23", "axis 2 is out of range for f32[N, M]"],
  M2110: ["case.mira:2:10", "reshape changes the element count: f32[N, M] to [N, M, 2]"],
  M2111: ["case.mira:5:14", "'+' needs one dtype: i32[B, T] + f32[B, T, d]"],
  M2201: ["case.mira:2:18", "A must fix I's output dimension 'out'"],
  M2202: ["case.mira:2:40", "I has no output dimension 'size' to fix"],
  M2203: ["case.mira:9:16", "hyperparameter 'inner' of U must implement I, but LayerNorm does not implement it"],
  M2204: ["case.mira:1:8", "module A does not end with a return"],
  M2301: ["case.mira:2:9", "param 'w' is never used"],
  M2302: ["case.mira:2:7", "model M declares no output and no loss"],
  M2303: ["case.mira:3:7", "'proj' is a Linear instance that is never called, so its parameters would not exist"],
  M3001: ["--preset:1:1", "model M has no preset 'huge'"],
  M3002: ["--set dd=4:1:1", "model M has no config key 'dd'"],
  M3003: ["--set d=(4:1:5", "bad value for 'd': expected ')', found end of file"],
  M3004: ["case.mira:4:21", "batch dimension 'T' has no size"],
  M3005: ["models/std/nn.mira:32:12", "8 / 3 is not a whole number"],
  M3006: ["case.mira:7:14", "attention: a padding mask needs lengths i32[2] as the fourth input"],
  M3007: [
    "case.mira:6:31",
    "cannot derive an incremental decoder: reduce_mean mixes positions (it reduces over the sequence)",
  ],
  M3008: ["case.mira:7:36", "cannot derive a streaming encoder: reduce_mean mixes chunks (it reduces over the chunks)"],
};

describe("golden diagnostics", () => {
  test("every code has a golden case and an expectation", () => {
    expect(GOLDEN.map((c) => c.code).sort()).toEqual(Object.keys(CODES).sort());
    expect(Object.keys(EXPECTED).sort()).toEqual(Object.keys(CODES).sort());
  });

  test.each(GOLDEN.map((c) => [c.code, c] as const))("%s", (code, c) => {
    const r = run(c.src, c);
    const d = r.diagnostics.find((x) => x.code === code);
    expect(d, `codes: ${r.diagnostics.map((x) => x.code).join(", ")}`).toBeDefined();
    const p = locate(d!, r.sources);
    const file = path.isAbsolute(d!.span.file) ? path.relative(ROOT, d!.span.file) : d!.span.file;
    expect([`${file}:${p.line}:${p.col}`, d!.message]).toEqual(EXPECTED[code]);
    expect(d!.severity).toBe(["M1005", "M2301", "M2303"].includes(code) ? "warning" : "error");
    expect(d!.hint ?? "", "every diagnostic names a fix").not.toBe("");
  });
});

describe("printed diagnostics", () => {
  test("file:line:col, the source line, a caret run under the span, and the hint", () => {
    const c = GOLDEN.find((x) => x.code === "M2104")!;
    const r = run(c.src, c);
    const d = r.diagnostics.find((x) => x.code === "M2104")!;
    expect(formatDiagnostic(d, r.sources)).toBe(
      [
        "case.mira:7:19 error M2104 matmul inner dimensions differ: f32[B, T, d] @ f32[32, d]",
        "  7 |   output logits = h @ w",
        "    |                   ^^^^^",
        "  hint: the last dim of the left operand ('d') must equal the second-last of the right ('32'); " +
          "transpose an operand or fix the dimension",
      ].join("\n"),
    );
  });

  test("several errors are reported in one run", () => {
    const src =
      "import std.nn\nmodel M {\n  config { d: int = 8 }\n  input t: i32[B, T]\n" +
      "  let a = Embeding(4, d)(t)\n  let b = Linearr(d, 4)\n  output o = zz\n}\n";
    const codes = run(src).diagnostics.map((d) => d.code);
    expect(codes.filter((c) => c === "M2001").length).toBe(3);
  });
});
