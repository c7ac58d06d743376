// symbolic.test.ts: sizes of a graph as polynomials of its batch dims, fitted over elaborations at a
// grid of sizes — and the fallback to fixed sizes, with the reason, when the graph follows them
// otherwise (a size like T·T, a structure that changes with T).
import { describe, expect, test } from "vitest";
import { loadModel } from "../../api/model.js";
import { GraphBuilder } from "../../compiler/builder.js";
import type { Graph } from "../../compiler/ir.js";
import { symText, symbolicGraph } from "../../compiler/export/symbolic.js";

/** x: f32[B, T] reshaped to `shape(B, T)`, plus `extra(T)` negations chained (structure). */
function toy(shape: (B: number, T: number) => number[], extra: (T: number) => number = () => 0) {
  return (b: Readonly<Record<string, number>>): Graph => {
    const g = new GraphBuilder();
    let x = g.input("x", "f32", [b.B, b.T]);
    for (let i = 0; i < extra(b.T); i++) x = g.add("neg", [x]);
    g.output("y", g.add("reshape", [x], { shape: shape(b.B, b.T) }));
    return g.build();
  };
}

describe("symbolic batch dims", () => {
  test("char_lm: every size is a polynomial of B and T", () => {
    const m = loadModel("models/char_lm.mira", { preset: "tiny" });
    const s = symbolicGraph((b) => m.elaborate(b).graph, { B: 4, T: 8 });
    expect(s.dynamic).toEqual(["B", "T"]);
    expect(s.fixedReason).toBeUndefined();
    const heads = s.graph.nodes.find((n) => n.op === "reshape")!;
    expect(s.attr(heads, "shape").map(symText)).toEqual(["B", "T", "2", "16"]);
    const shifted = s.graph.nodes.find((n) => n.op === "slice" && n.dtype === "f32" && n.shape[1] === 7)!;
    expect(s.attr(shifted, "ends").map(symText)).toEqual(["B", "T - 1", "96"]);
  });

  test("products of dims are fitted", () => {
    const s = symbolicGraph(
      toy((B, T) => [B * T]),
      { B: 3, T: 5 },
    );
    const r = s.graph.nodes.find((n) => n.op === "reshape")!;
    expect(s.attr(r, "shape").map(symText)).toEqual(["B * T"]);
  });

  test("a size non-linear in a dim fixes the dims, saying why", () => {
    const s = symbolicGraph(
      toy((B, T) => [B, T, 1]),
      { B: 3, T: 5 },
    );
    expect(s.dynamic).toEqual(["B", "T"]);
    const sq = symbolicGraph(
      (b) => {
        const g = new GraphBuilder();
        g.output("y", g.add("full", [], { value: 0, dtype: "f32", shape: [b.T * b.T] }));
        g.input("x", "f32", [b.T]);
        return g.build();
      },
      { T: 5 },
    );
    expect(sq.dynamic).toEqual([]);
    expect(sq.fixedReason).toMatch(/full %0 attrs\.shape\.0\) follows the batch dims non-linearly/);
  });

  test("a structure that changes with a dim fixes the dims, saying why", () => {
    const s = symbolicGraph(
      toy(
        (B, T) => [B * T],
        (T) => T,
      ),
      { B: 3, T: 5 },
    );
    expect(s.dynamic).toEqual([]);
    expect(s.fixedReason).toMatch(/changes structure between B=3,T=5 and B=3,T=4/);
  });
});
