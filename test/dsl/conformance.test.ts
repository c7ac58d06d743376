// conformance.test.ts: the front-end gaps of issue 3 — interface-typed values must implement the
// interface (config, --set, presets, defaults, annotations) and may name an implementation briefly;
// unused let-bound instances warn; `%` on tensors is floor-mod or a clear error; elaboration errors
// inside std files point back at the caller; presets may be named like `3b`.
import { describe, expect, test } from "vitest";
import { elaborate } from "../../compiler/lower.js";
import { runReference } from "../../compiler/reference.js";
import { formatDiagnostic, locate, shownFile } from "../../dsl/diagnostics.js";
import { check, formatDiagnostics } from "../../dsl/index.js";
import { GOLDEN } from "./golden-cases.js";
import { MODELS, REAL_MODELS, readModel, run } from "./harness.js";

const DEMO = readModel("combiner_demo.mira");
const demo = (set: string[]) => run(DEMO, { file: `${MODELS}/combiner_demo.mira`, set });
const shown = (r: ReturnType<typeof run>) =>
  r.diagnostics.map((d) => {
    const file = d.span.file.replace(/^.*\/models\//, "models/");
    const { line, col } = locate(d, r.sources);
    return `${file}:${line}:${col} ${d.severity} ${d.code} ${d.message} | ${d.hint}`;
  });

describe("interface-typed values must implement the interface", () => {
  test(
    "--set combiner=LayerNorm(4) is M2203 in the override's pseudo-file, naming both, " + "listing the implementations",
    () => {
      expect(shown(demo(["combiner=LayerNorm(4)"]))).toEqual([
        "--set combiner=LayerNorm(4):1:10 error M2203 config 'combiner' (from --set) must implement " +
          "Combiner, but LayerNorm does not implement it | the implementations of Combiner are: " +
          "TransformerCombiner, ConcatCombiner, MemoryCombiner",
      ]);
    },
  );

  test("a bare module of another kind, a number and an unknown name are rejected the same way", () => {
    expect(shown(demo(["combiner=LayerNorm"]))[0]).toContain(
      "error M2203 config 'combiner' (from --set) must implement Combiner, but LayerNorm does not implement it",
    );
    expect(shown(demo(["combiner=4"]))[0]).toContain(
      "error M2203 config 'combiner' (from --set) must implement Combiner, but is int (4)",
    );
    expect(shown(demo(["combiner=Memry(read: 2)"]))).toEqual([
      "--set combiner=Memry(read: 2):1:10 error M2001 unknown implementation 'Memry' of Combiner | " +
        "did you mean 'Memory'? the implementations of Combiner are: TransformerCombiner, ConcatCombiner, " +
        "MemoryCombiner",
    ]);
  });

  test("a bad --set value is one error, with no cascade into the shapes that use it", () => {
    expect(shown(demo(["d=ConcatCombiner()"]))).toEqual([
      "--set d=ConcatCombiner():1:3 error M2103 config 'd' (from --set) must be int, " +
        "not module instance ConcatCombiner | give it an integer such as 64, or change the declared type",
    ]);
  });

  test("in a preset, a module hyperparameter's default and a let annotation", () => {
    const src = `import std.nn
interface Mixer(v: f32[B, T, Nv, d], a: f32[B, T, Na, d]) -> f32[B, T, out, d]
module KeepAll() implements Mixer(out = Nv + Na) {
  return concat([v, a], axis: 2)
}
module Use(mix: Mixer = LayerNorm(4))(v: f32[B, T, 3, 8], a: f32[B, T, 2, 8]) -> f32[B, T, 5, 8] {
  let k: Mixer = KeepAll()
  let bad: Mixer = Linear(8, 8)
  return k(v, a) + bad(v, a)
}
`;
    expect(shown(run(src))).toEqual([
      "case.mira:6:25 error M2203 the default of 'mix' must implement Mixer, " +
        "but LayerNorm does not implement it | the implementations of Mixer are: KeepAll",
      "case.mira:8:20 error M2203 'bad' must implement Mixer, but Linear does not implement it | " +
        "the implementations of Mixer are: KeepAll",
    ]);
    const preset = DEMO.replace(
      "preset tiny { d = 8, chunks = 2 }",
      "preset tiny { d = 8, chunks = 2, combiner = LayerNorm(8) }",
    );
    expect(shown(run(preset, { file: `${MODELS}/combiner_demo.mira` }))[0]).toMatch(
      new RegExp(
        /combiner_demo\.mira:\d+:\d+ error M2203 'combiner' in preset tiny must implement /.source +
          /Combiner, but LayerNorm does not implement it/.source,
      ),
    );
  });

  test("an untyped config key whose default constructs an implementation has the interface's type", () => {
    const src =
      "import std.combiners\nmodel M {\n  config {\n    d: int = 8\n    c = ConcatCombiner()\n  }\n" +
      "  input v: f32[B, T, 2, d]\n  output o = c(v, v)\n}\n";
    expect(run(src).diagnostics).toEqual([]);
    expect(run(src, { set: ["c=TTM(read: 2)"] }).diagnostics).toEqual([]);
    expect(shown(run(src, { set: ["c=LayerNorm(4)"] }))[0]).toContain(
      "error M2203 config 'c' (from --set) must implement Combiner, but LayerNorm does not implement it",
    );
  });

  test("a bad value in the chosen preset is reported once", () => {
    const src =
      "import std.combiners\nmodel M {\n  config {\n    d: int = 8\n    c: Combiner = ConcatCombiner()\n" +
      "  }\n  preset tiny { d = foo, c = Fooo() }\n  input v: f32[B, T, 2, d]\n  output o = c(v, v)\n}\n";
    for (const preset of [undefined, "tiny"])
      expect(run(src, { preset }).diagnostics.map((d) => d.message)).toEqual([
        "unknown name 'foo'",
        "unknown implementation 'Fooo' of Combiner",
      ]);
  });

  test("an implementation may be named without the interface's suffix, and without () when its defaults do", () => {
    const out = (set: string[]) => {
      const c = check(DEMO, `${MODELS}/combiner_demo.mira`, { preset: "tiny", set });
      expect(formatDiagnostics(c.diagnostics, c.sources)).toBe("");
      const e = elaborate(c.result, { batch: { B: 1 } });
      expect(e.diagnostics).toEqual([]);
      return [
        e.result!.config.combiner,
        e.result!.graph.nodes.find((n) => n.id === e.result!.graph.outputs.find((o) => o.name === "latents")!.id)!
          .shape[2],
      ];
    };
    expect(out(["combiner=Memory(read: 2)"])).toEqual(["MemoryCombiner", 2]);
    expect(out(["combiner=ConcatCombiner"])).toEqual(["ConcatCombiner", 6]);
    expect(out(["combiner=Concat"])).toEqual(["ConcatCombiner", 6]);
    // A module of the short name that is no implementation (std.nn's TokenLearner) yields to the one that is.
    const m = run(readModel("mirasol.mira"), {
      file: `${MODELS}/mirasol.mira`,
      preset: "tiny",
      set: ["combiner=TokenLearner(m: 2)"],
      elaborate: { B: 1, L: 4 },
    });
    expect(m.diagnostics).toEqual([]);
  });
});

describe("unused let-bound instances (M2303)", () => {
  test("in module bodies, repeat blocks and scan bodies; used ones are quiet", () => {
    const src = `import std.nn
module A(d: int)(x: f32[B, T, d]) -> f32[B, T, d] {
  let used = Linear(d, d)
  repeat 2 {
    let lost = LayerNorm(d)
    x = used(x)
  }
  let y = scan t over T carry h: f32[B, d] = zeros {
    let cell = Linear(d, d)
    h = h + x[:, t]
    yield h
  }
  return y
}
`;
    expect(shown(run(src))).toEqual([
      "case.mira:5:9 warning M2303 'lost' is a LayerNorm instance that is never called, " +
        "so its parameters would not exist | call it, e.g. lost(x), or remove the let",
      "case.mira:9:9 warning M2303 'cell' is a Linear instance that is never called, " +
        "so its parameters would not exist | call it, e.g. cell(x), or remove the let",
    ]);
  });

  test("the real models have none", () => {
    for (const f of REAL_MODELS)
      expect(
        run(readModel(f), { file: `${MODELS}/${f}` }).diagnostics.map((d) => d.code),
        f,
      ).toEqual([]);
  });
});

describe("% on tensors", () => {
  const model = (body: string) => `model M {
  input x: f32[N]
  input k: i32[N]
${body}
}
`;
  test("floats: floor-mod a − floor(a / b)·b, the sign of the divisor (as Python)", () => {
    const c = check(
      model("  output r = x % 3.0\n  output s = x % (0.0 - x - 10.0)\n  output t = k"),
      `${MODELS}/case.mira`,
    );
    expect(c.diagnostics).toEqual([]);
    const e = elaborate(c.result, { batch: { N: 5 } }).result!;
    const xs = [-7, -0.5, 0, 2.5, 9];
    const r = runReference(e.graph, { x: xs, k: [0, 0, 0, 0, 0] });
    const pyMod = (a: number, b: number) => a - Math.floor(a / b) * b;
    xs.forEach((a, i) => {
      expect(r.r.data[i]).toBeCloseTo(pyMod(a, 3), 5);
      expect(r.s.data[i]).toBeCloseTo(pyMod(a, -a - 10), 4);
    });
  });

  test("integer tensors: M2111 at the expression, naming the fix", () => {
    expect(shown(run(model("  output r = k % 2")))).toEqual([
      "case.mira:4:14 error M2111 '%' on tensors needs floats, not i32[N] | " +
        "cast to f32 first: cast(x, f32) % 2.0 (the result is a - floor(a / b) * b)",
    ]);
  });

  test("static numbers use the same floor-mod", () => {
    const c = check(model("  output r = zeros([(0 - 7) % 3])"), `${MODELS}/case.mira`);
    expect(c.diagnostics).toEqual([]);
    const e = elaborate(c.result, { batch: { N: 1 } }).result!;
    expect(e.graph.nodes.find((n) => n.id === e.graph.outputs[0].id)!.shape).toEqual([2]);
  });
});

describe("elaboration errors inside std files name the caller", () => {
  test("M3005 in std/nn.mira has a note at the user's call and a hint naming both values", () => {
    const g = GOLDEN.find((x) => x.code === "M3005")!;
    const r = run(g.src, g);
    const d = r.diagnostics.find((x) => x.code === "M3005")!;
    const call = "MultiHeadAttention(d, 3)(Embedding(32, d)(tokens), Embedding(32, d)(tokens))";
    const text = formatDiagnostic(d, r.sources)
      .replace(/^.*\/models\//gm, "models/")
      .replace(/ \S*\/models\//g, " models/");
    expect(text).toBe(
      [
        "models/std/nn.mira:32:12 error M3005 8 / 3 is not a whole number",
        "  32 |   let dh = d / heads",
        "     |            ^^^^^^^^^",
        "  note: case.mira:5:14 in MultiHeadAttention, called here",
        `    5 |   output o = ${call}`,
        `      |              ${"^".repeat(call.length)}`,
        "  hint: make 'd' (8) a multiple of 'heads' (3)",
      ].join("\n"),
    );
  });

  test("printed paths are relative to the working directory when under it; the data keeps them whole", () => {
    expect(shownFile(`${process.cwd()}/models/std/nn.mira`)).toBe("models/std/nn.mira");
    expect(shownFile("/elsewhere/std/nn.mira")).toBe(
      process.cwd().startsWith("/elsewhere") ? "std/nn.mira" : "/elsewhere/std/nn.mira",
    );
    expect(shownFile("--set d=4")).toBe("--set d=4");
  });

  test("through nested modules: each call, innermost first", () => {
    const src =
      "import std.nn\nmodel M {\n  config { d: int = 8 }\n  input tokens: i32[B, T]\n" +
      "  output o = TransformerBlock(d, 3)(Embedding(32, d)(tokens))\n}\n";
    const r = run(src, { elaborate: { B: 1, T: 2 } });
    const d = r.diagnostics.find((x) => x.code === "M3005")!;
    expect(
      d.notes!.map((n) => [
        n.span.file.replace(/^.*\/models\//, "models/"),
        locate({ ...d, span: n.span }, r.sources).line,
        n.message,
      ]),
    ).toEqual([
      ["models/std/nn.mira", 51, "in MultiHeadAttention, called here"],
      ["case.mira", 5, "in TransformerBlock, called here"],
    ]);
  });
});

describe("preset names", () => {
  test("may start with digits (3b) and round-trip through check and --preset", () => {
    const src = "model M {\n  config { d: int = 8 }\n  preset 3b { d = 16 }\n  input x: f32[N, d]\n  output o = x\n}\n";
    const c = check(src, `${MODELS}/case.mira`, { preset: "3b" });
    expect(c.diagnostics).toEqual([]);
    expect(c.result.config!.entries.find((e) => e.name === "d")!.from).toBe("preset");
  });

  test("digits and a name apart are a syntax error at the name", () => {
    const src =
      "model M {\n  config { d: int = 8 }\n  preset 3 b { d = 16 }\n  input x: f32[N, d]\n  output o = x\n}\n";
    expect(shown(run(src))).toEqual([
      "case.mira:3:10 error M1002 '3' is not a preset name | a preset name is letters, digits and _, " +
        "with no spaces, e.g. tiny or 3b",
    ]);
  });
});

// Found by fuzzing the Mirasol files: mutants that still checked clean.
describe("rules that mutants of real models showed missing", () => {
  test("a scan's carry keeps its declared type when assigned in the body (M2108)", () => {
    const src =
      "module A(k: int)(x: f32[B, T, d]) -> f32[B, T, k, d] {\n" +
      "  let y = scan t over T carry mem: f32[B, k, d] = zeros {\n    mem = mem[:, 1:]\n    yield mem\n" +
      "  }\n  return y\n}\n";
    expect(shown(run(src))).toEqual([
      "case.mira:3:11 error M2108 'mem' changes type inside a scan body: f32[B, k, d] before, " +
        "f32[B, k - 1, d] after | a value carried across iterations must keep its shape",
    ]);
  });

  test("mse compares one shape; broadcasting a target is an error (M2106)", () => {
    const src =
      "model M {\n  input p: f32[B, 3, n]\n  input q: f32[B, 1, n]\n  loss l = mse(p, q)\n  objective = l\n}\n";
    expect(shown(run(src))).toEqual([
      "case.mira:4:12 error M2106 mse compares tensors of one shape, not f32[B, 3, n] and f32[B, 1, n] | " +
        "make the shapes equal; broadcast(x, [dims]) first if repeating one is meant",
    ]);
  });

  test("generate's logits have one row per position of the generated input (M2106)", () => {
    const src =
      "import std.nn\nmodel M {\n  input text: i32[B, L]\n  let all = Embedding(8, 8)(concat([text, " +
      "text[:, :1]], axis: 1))\n  output logits = all\n  generate text from logits\n}\n";
    expect(shown(run(src))).toEqual([
      "case.mira:6:22 error M2106 logits 'logits' are f32[B, L + 1, 8] but must be one row of scores per " +
        "position of i32[B, L] | position i scores token i + 1; slice the logits to the input's positions",
    ]);
  });
});
