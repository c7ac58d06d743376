// format.test.ts: format(parse(x)) is a fixpoint on generated valid programs, keeps every comment
// and the syntax tree; the real models are already in canonical layout.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { format, parse } from "../../dsl/index.js";
import { readModel } from "./harness.js";

const name = fc.constantFrom("x", "y", "h", "d", "T", "heads", "w_1", "B");
const number = fc.constantFrom("0", "1", "64", "0.5", "1e-5", "2.0");

const { expr } = fc.letrec<{ expr: string; atom: string }>((tie) => ({
  atom: fc.oneof(
    name,
    number,
    fc.tuple(tie("expr")).map(([e]) => `(${e})`),
    fc.array(tie("expr"), { maxLength: 3 }).map((xs) => `[${xs.join(", ")}]`),
    fc
      .tuple(name, fc.array(fc.tuple(fc.option(name, { nil: undefined }), tie("expr")), { maxLength: 3 }))
      .map(([f, args]) => `${f}(${args.map(([k, v]) => (k ? `${k}: ${v}` : v)).join(", ")})`),
    fc
      .tuple(
        name,
        fc.array(fc.constantFrom(":", "1:", ":-1", "::2", "0", "-m:", "...", "a:b:c"), { minLength: 1, maxLength: 3 }),
      )
      .map(([t, items]) => `${t}[${items.join(", ")}]`),
  ),
  expr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tie("atom"),
    fc
      .tuple(tie("expr"), fc.constantFrom("+", "-", "*", "/", "@", "%", "==", "<"), tie("atom"))
      .map(([a, op, b]) => `${a} ${op} ${b}`),
    tie("atom").map((a) => `-${a}`),
  ),
})) as { expr: fc.Arbitrary<string> };

const comment = fc.constantFrom("", "", "  // note", " // [B, T, d]");
const type = fc.constantFrom("f32[B, T, d]", "i32[B]", "f32[..., d]", "f32[B, T * m, d / heads]", "int");
const stmt = fc.oneof(
  fc.tuple(name, expr, comment).map(([n, e, c]) => `let ${n} = ${e}${c}`),
  fc.tuple(name, expr).map(([n, e]) => `${n} = ${e}`),
  fc
    .tuple(name, type, fc.constantFrom("zeros", "normal(0.02)", "xavier"))
    .map(([n, t, i]) => `param ${n}: ${t} = ${i}`),
  fc
    .tuple(expr, fc.array(fc.tuple(name, expr), { maxLength: 2 }))
    .map(([n, body]) => `repeat ${n} as layers {\n${body.map(([a, b]) => `  ${a} = ${b}`).join("\n")}\n}`),
  fc
    .tuple(name, expr)
    .map(([t, e]) => `let s = scan t over ${t} carry m: f32[B, d] = zeros {\n  m = m + ${e}\n  yield m\n}`),
  fc.constant("// a comment on its own line"),
  fc.constant(""),
);
const program = fc
  .tuple(fc.array(stmt, { maxLength: 8 }), expr, fc.constantFrom("", "\n// trailing\n"))
  .map(
    ([body, ret, tail]) =>
      `import std.nn\n// header\nmodule M(d: int, m: int = 2)(x: f32[B, T, d]) -> f32[B, T, d] {\n` +
      `${body.join("\n")}\n  return ${ret}\n}\n${tail}model Q {\n  config { d: int = 4, e = 1.5 }\n` +
      `  preset tiny { d = 2 }\n  input t: i32[B, T]\n  output o = x\n  generate t from o until 0\n}\n`,
  );

const withoutSpans = (x: unknown): string =>
  JSON.stringify(x, (k, v) => (k === "span" || k === "text" ? undefined : v));
const commentsOf = (src: string) => parse(src, "p.mira").comments.map((c) => c.text);

describe("format", () => {
  test("is a fixpoint on generated programs, keeping comments and the syntax tree", () => {
    fc.assert(
      fc.property(program, (src) => {
        const p = parse(src, "p.mira");
        fc.pre(p.diagnostics.length === 0);
        const once = format(src, "p.mira").result!;
        expect(format(once, "p.mira").result).toBe(once);
        expect(commentsOf(once)).toEqual(commentsOf(src));
        expect(withoutSpans(parse(once, "p.mira").result.decls)).toBe(withoutSpans(p.result.decls));
      }),
      { numRuns: 400 },
    );
  });

  test.each(["char_lm.mira", "combiner_demo.mira", "std/nn.mira"])("models/%s is canonical", (f) => {
    expect(format(readModel(f), f).result).toBe(readModel(f));
  });

  test("refuses to format a file with syntax errors", () => {
    const r = format("module A( {", "bad.mira");
    expect(r.result).toBeUndefined();
    expect(r.diagnostics[0].code).toBe("M1002");
  });

  test("minimal parentheses keep meaning", () => {
    expect(format("model M { let a = (x - (y - z)) * (-(w)) + ((u @ v)) }", "m.mira").result).toBe(
      "model M {\n  let a = (x - (y - z)) * -w + u @ v\n}\n",
    );
  });
});
