// models.test.ts: the real models check clean, elaborate to IR that the reference interpreter runs,
// and the Combiner demo swaps implementations (with different output dims) by --set alone.
import { describe, expect, test } from "vitest";
import { elaborate, initParams } from "../../compiler/lower.js";
import { runReference } from "../../compiler/reference.js";
import { checkFile } from "../../dsl/cli-support.js";
import { check, formatDiagnostics } from "../../dsl/index.js";
import { MODELS, readModel, run } from "./harness.js";

function forward(file: string, opts: { preset?: string; set?: string[] }, batch: Record<string, number>) {
  const c = check(readModel(file), `${MODELS}/${file}`, opts);
  expect(formatDiagnostics(c.diagnostics, c.sources)).toBe("");
  const e = elaborate(c.result, { batch });
  expect(e.diagnostics).toEqual([]);
  const m = e.result!;
  const feeds: Record<string, ArrayLike<number>> = Object.fromEntries(initParams(m.params, 7));
  for (const i of m.inputs)
    feeds[i.name] = Array.from({ length: i.shape.reduce((a, b) => a * b, 1) }, (_, k) => (k * 7) % 5);
  return { model: m, out: runReference(m.graph, feeds) };
}

describe("char_lm", () => {
  test("checks clean for its default config and every preset", () => {
    for (const preset of [undefined, "tiny", "small"])
      expect(checkFile(`${MODELS}/char_lm.mira`, { preset })).toMatchObject({ exitCode: 0 });
  });

  test("elaborates; the forward gives finite logits of shape [B, T, vocab] and a loss near ln(vocab)", () => {
    const { model, out } = forward("char_lm.mira", { preset: "tiny" }, { B: 2, T: 8 });
    expect(out.logits.shape).toEqual([2, 8, 96]);
    expect(out.logits.data.every(Number.isFinite)).toBe(true);
    expect(out.lm.shape).toEqual([]);
    expect(Math.abs(out.lm.data[0] - Math.log(96))).toBeLessThan(1.5);
    expect(model.generate).toEqual({ input: "tokens", from: "logits", until: 0 });
    expect(model.params.map((p) => p.name)).toContain("layers.0.attn.wq.w");
    expect(model.paramCount).toBe(model.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0));
    // One param node per parameter, named by its dotted path.
    expect(model.graph.nodes.filter((n) => n.op === "param").map((n) => n.attrs.name)).toEqual(
      model.params.map((p) => p.name),
    );
  });

  test("repeat copies have their own parameters", () => {
    const c = check(readModel("char_lm.mira"), `${MODELS}/char_lm.mira`, { set: ["depth=3"] });
    const names = elaborate(c.result, { batch: { B: 1, T: 4 } }).result!.params.map((p) => p.name);
    expect(names.filter((n) => n.endsWith("attn.wq.w"))).toEqual([
      "layers.0.attn.wq.w",
      "layers.1.attn.wq.w",
      "layers.2.attn.wq.w",
    ]);
  });

  test("a copy with a shape error prints file:line:col, the excerpt, both shapes and a hint, and exits 1", () => {
    const src = readModel("char_lm.mira").replace("output logits = head(norm(x))", "output logits = x @ embed(tokens)");
    const r = run(src, { file: "bad_lm.mira" });
    const text = formatDiagnostics(r.diagnostics, r.sources);
    expect(text).toMatch(
      /^bad_lm\.mira:\d+:\d+ error M2104 matmul inner dimensions differ: f32\[B, T, d\] @ f32\[B, T, d\]/m,
    );
    expect(text).toContain("^^^");
    expect(text).toContain("hint: ");
  });
});

describe("combiner demo: implementation chosen by --set alone", () => {
  const cases: [string[], number][] = [
    [[], 2], // TransformerCombiner(m: 2): out = m
    [["combiner=ConcatCombiner()"], 6], // out = Nv + Na = 4 + 2
    [["combiner=MemoryCombiner(memory: 5, read: 3)"], 3], // out = read
    [["combiner=TransformerCombiner(m: 1)"], 1],
  ];
  test.each(cases)("--set %j → latents [B, chunks, %i, d]", (set, out) => {
    const { out: o, model } = forward("combiner_demo.mira", { preset: "tiny", set }, { B: 2 });
    expect(o.latents.shape).toEqual([2, 2, out, 8]);
    expect(o.logits.shape).toEqual([2, 5]);
    expect(o.logits.data.every(Number.isFinite)).toBe(true);
    expect(model.config.combiner).toBe(set[0]?.split("=")[1].split("(")[0] ?? "TransformerCombiner");
  });

  test("the checker binds `out` per implementation and propagates it", () => {
    const types = (set: string[]) => {
      const c = check(readModel("combiner_demo.mira"), `${MODELS}/combiner_demo.mira`, { set });
      const t = c.result.record!.outputs.find((o) => o.name === "latents")!.ty;
      return t.k === "tensor" ? t.dims.map((d) => (d.k === "num" ? d.v : d.k === "sym" ? d.name : "expr")) : [];
    };
    expect(types([])).toEqual(["B", "chunks", 2, "d"]);
    expect(types(["combiner=ConcatCombiner()"])).toEqual(["B", "chunks", "expr", "d"]);
    expect(types(["combiner=MemoryCombiner(read: 4)"])).toEqual(["B", "chunks", 4, "d"]);
  });

  test("a value that does not implement the interface is rejected", () => {
    const r = checkFile(`${MODELS}/combiner_demo.mira`, { set: ["combiner=LayerNorm(4)"] });
    expect(r.exitCode).toBe(1);
    expect(r.output).toContain("M2203");
    expect(r.output).toContain("TransformerCombiner, ConcatCombiner, MemoryCombiner");
  });
});
