// simplify.test.ts: the rewrite rules of passes/simplify.ts and what the pipeline prunes after them, and
// one-element values recomputed in their consumers (fuse.ts) — each against the reference on the GPU, with
// the dispatches they save counted.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { type Graph, printGraph } from "../../compiler/ir.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { compileGraph } from "../../compiler/program.js";
import { runReference } from "../../compiler/reference.js";
import { prod } from "../../compiler/shape.js";
import { firstMismatch } from "../helpers/close.js";
import { runOnGpu } from "../helpers/gpu.js";
import { prng, runs, seedArb, tolFor, valuesOf } from "./gen.js";

/** Random values for every input and param of `g`. */
function feedsOf(g: Graph, seed: number): Record<string, number[]> {
  const r = prng(seed);
  const feeds: Record<string, number[]> = {};
  for (const n of g.nodes)
    if (n.op === "input" || n.op === "param") feeds[n.attrs.name!] = valuesOf(r, n.dtype, prod(n.shape), "unit");
  return feeds;
}

/** GPU against reference, each output at the tolerance of `op` (default: the output's own op). */
async function expectReference(g: Graph, feeds: Record<string, number[]>, op?: string): Promise<void> {
  const got = await runOnGpu(g, feeds);
  const ref = runReference(g, feeds);
  for (const o of g.outputs) {
    const n = g.nodes[o.id];
    const bad = firstMismatch(got[o.name], ref[o.name].data, tolFor(op ?? n.op, n.dtype));
    if (bad) throw new Error(`${o.name}: ${bad}\n${printGraph(g)}`);
  }
}

const dims = fc.constantFrom(1, 2, 3, 7, 13);

describe("a matmul of a transposed operand reads it untransposed, its flag flipped", () => {
  test("every flag and operand, batched or not: no permute left, values as the reference", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batch: fc.constantFrom([], [2], [3, 1]),
          m: dims,
          n: dims,
          k: dims,
          transA: fc.boolean(),
          transB: fc.boolean(),
          permuteA: fc.boolean(),
          permuteB: fc.boolean(),
        }),
        seedArb,
        async (c, seed) => {
          fc.pre(c.permuteA || c.permuteB);
          const b = new GraphBuilder();
          const swap = (rank: number) => [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
          // the operand as stored: transposed once by the flag, once more when a permute undoes it
          const stored = (rows: number, cols: number, t: boolean, p: boolean) => {
            const [r, q] = t !== p ? [cols, rows] : [rows, cols];
            return [...c.batch, r, q];
          };
          const operand = (name: string, rows: number, cols: number, t: boolean, p: boolean) => {
            const x = b.input(name, "f32", stored(rows, cols, t, p));
            return p ? b.add("permute", [x], { perm: swap(c.batch.length + 2) }) : x;
          };
          const a = operand("a", c.m, c.k, c.transA, c.permuteA);
          const bb = operand("b", c.k, c.n, c.transB, c.permuteB);
          b.output("c", b.add("matmul", [a, bb], { transA: c.transA, transB: c.transB }));
          const g = b.build();
          const p = compileGraph(g, DEFAULT_LIMITS);
          expect(p.graph.nodes.filter((x) => x.op === "permute")).toEqual([]);
          expect(p.dispatches).toHaveLength(1);
          await expectReference(g, feedsOf(g, seed));
        },
      ),
      { numRuns: runs(6) },
    );
  });

  test("a permute that moves a batch axis stays", () => {
    const b = new GraphBuilder();
    const x = b.input("x", "f32", [2, 3, 4, 5]);
    const y = b.input("y", "f32", [3, 2, 5, 4]);
    b.output("c", b.add("matmul", [b.add("permute", [x], { perm: [1, 0, 2, 3] }), y]));
    const p = compileGraph(b.build(), DEFAULT_LIMITS);
    expect(p.graph.nodes.filter((n) => n.op === "permute")).toHaveLength(1);
  });
});

describe("a matmul reshaped to its own shape is the matmul", () => {
  test("between a matmul and its bias add: the add is the matmul's epilogue, one kernel", async () => {
    for (const shape of [
      [1, 8, 5],
      [3, 7],
    ]) {
      const b = new GraphBuilder();
      const k = 6;
      const a = b.input("a", "f32", [...shape.slice(0, -1), k]);
      const w = b.input("w", "f32", [k, shape.at(-1)!]);
      const same = b.add("reshape", [b.add("matmul", [a, w])], { shape });
      const bias = b.add("broadcast", [b.input("bias", "f32", [shape.at(-1)!])], { shape });
      b.output("y", b.add("add", [same, bias]));
      const g = b.build();
      const p = compileGraph(g, DEFAULT_LIMITS);
      expect(p.graph.nodes.filter((n) => n.op === "reshape")).toHaveLength(0);
      expect(p.dispatches).toHaveLength(1);
      await expectReference(g, feedsOf(g, 3), "matmul");
    }
  });
});

describe("position arithmetic: one-element values recomputed where they are read", () => {
  /** A decode step's mask: iota < pos + 1 selects scores in two consumers. */
  function maskGraph(t: number) {
    const b = new GraphBuilder();
    const pos = b.input("pos", "i32", [1]);
    const next = b.add("add", [pos, b.add("full", [], { value: 1, dtype: "i32", shape: [1] })]);
    const limit = b.add("broadcast", [b.add("reshape", [next], { shape: [1, 1] })], { shape: [2, t] });
    const keep = b.add("lt", [b.add("iota", [], { shape: [2, t], axis: 1, dtype: "i32" }), limit]);
    const low = b.add("full", [], { value: -1e30, dtype: "f32", shape: [] });
    for (const name of ["s1", "s2"]) {
      const s = b.input(name, "f32", [2, t]);
      b.output(`m${name}`, b.add("select", [keep, b.add("exp", [s]), b.add("broadcast", [low], { shape: [2, t] })]));
    }
    return b.build();
  }

  test("pos + 1 has no kernel of its own: one kernel in all, values as the reference", async () => {
    for (const t of [1, 5, 67]) {
      const g = maskGraph(t);
      const p = compileGraph(g, DEFAULT_LIMITS, { parallel: false });
      // the mask and both selects merge into one kernel, which computes pos + 1 as it reads pos (computed
      // once in a kernel of its own, pos + 1 would be read through the broadcast: two kernels)
      expect(p.dispatches.length, p.kernels.map((k) => k.name).join(", ")).toBe(1);
      const feeds = { ...feedsOf(g, t), pos: [Math.floor(t / 2)] };
      await expectReference(g, feeds, "exp"); // the selects pass exp's values on
    }
  });

  test("a value recomputed by two kernels that merge is computed once in the merged kernel", async () => {
    const b = new GraphBuilder();
    const p = b.input("p", "f32", [1]);
    const x = b.input("x", "f32", [3, 5]);
    const s = b.add("add", [p, b.add("full", [], { value: 1, dtype: "f32", shape: [1] })]);
    const wide = () => b.add("broadcast", [b.add("reshape", [s], { shape: [1, 1] })], { shape: [3, 5] });
    const a = b.add("mul", [x, wide()]);
    b.output("a", a);
    b.output("b", b.add("add", [a, wide()]));
    const g = b.build();
    const prog = compileGraph(g, DEFAULT_LIMITS, { parallel: false });
    expect(prog.dispatches).toHaveLength(1);
    await expectReference(g, feedsOf(g, 3));
  });
});
