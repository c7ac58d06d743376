// reduce-views.test.ts: reductions reading their input through views (fuse.ts: a view a reduction reads
// is its prologue) against the reference: permuted, sliced with steps of 1 and 2, broadcast, or a
// permute then a slice; sum, mean, max and min over any axes, with or without kept dims; alone, beside
// an elementwise reader of the same view, and as a row kernel's reduction (x − mean(x) over a view's
// rows). Sizes 1, primes and non-multiples of 4. Views up to REDUCTION_VIEW_MAX elements take no kernel
// of their own; larger ones are copied (a cost rule).
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import type { Node } from "../../compiler/ir.js";
import { REDUCTION_VIEW_MAX, VIEW_OPS } from "../../compiler/fuse.js";
import { compileGraph } from "../../compiler/program.js";
import { prod } from "../../compiler/shape.js";
import { testGpu } from "../helpers/gpu.js";
import {
  type Rand,
  expectGpuMatchesReference,
  gridValues,
  intIn,
  prng,
  runs,
  seedArb,
  shuffled,
  tolFor,
} from "./gen.js";

const RECIPES = ["permute", "slice", "permute+slice", "broadcast"] as const;
const REDUCTIONS = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"] as const;
const USES = ["alone", "beside elementwise", "row kernel"] as const;

const caseArb = fc.record({
  shape: fc.array(fc.constantFrom(1, 2, 3, 5, 7, 13, 33), { minLength: 1, maxLength: 4 }),
  recipe: fc.constantFrom(...RECIPES),
  op: fc.constantFrom(...REDUCTIONS),
  keepDims: fc.boolean(),
  use: fc.constantFrom(...USES),
  seed: seedArb,
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** A stored input and views of it of shape `shape`, as `recipe` says. */
function view(b: GraphBuilder, shape: readonly number[], recipe: Case["recipe"], r: Rand): Node {
  const rank = shape.length;
  const sliced = (x: Node, steps: number[]): Node => {
    const starts = x.shape.map((d, k) => intIn(r, 0, d - ((shape[k] - 1) * steps[k] + 1)));
    const ends = starts.map((s, k) => s + (shape[k] - 1) * steps[k] + 1);
    return b.add("slice", [x], { starts, ends, steps });
  };
  if (recipe === "broadcast") {
    const kept = shape.map((d, k) => (k % 2 === 0 ? d : 1));
    return b.add("broadcast", [b.input("x", "f32", kept)], { shape });
  }
  if (recipe === "slice") {
    const steps = shape.map(() => intIn(r, 1, 2));
    return sliced(
      b.input(
        "x",
        "f32",
        shape.map((d, k) => (d - 1) * steps[k] + 1 + intIn(r, 0, 2)),
      ),
      steps,
    );
  }
  const perm = shuffled(r, rank);
  // a permute that keeps the order of the axes longer than 1 moves no element (simplify.ts makes it a
  // reshape, or drops it): two long axes swap places, so that every draw is a view
  const long = shape.flatMap((d, i) => (d > 1 ? [i] : []));
  if (long.length >= 2 && long.every((i, k) => k === 0 || perm[long[k - 1]] < perm[i]))
    [perm[long[0]], perm[long[1]]] = [perm[long[1]], perm[long[0]]];
  const pre = recipe === "permute" ? [...shape] : shape.map((d) => d + intIn(r, 0, 2));
  const stored = new Array<number>(rank);
  perm.forEach((p, i) => {
    stored[p] = pre[i];
  });
  const x = b.add("permute", [b.input("x", "f32", stored)], { perm });
  return recipe === "permute"
    ? x
    : sliced(
        x,
        shape.map(() => 1),
      );
}

describe("reductions read views through their indices", () => {
  test("permuted, sliced or broadcast inputs: the reference's values, no kernel for the view", async () => {
    const limits = (await testGpu()).limits;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const r = prng(c.seed);
        const b = new GraphBuilder();
        const v = view(b, c.shape, c.recipe, r);
        const rank = c.shape.length;
        const last = [rank - 1];
        if (c.use === "row kernel") {
          // x − mean(x) over the view's last axis: a row kernel
          const mean = b.add("reduce_mean", [v], { axes: last, keepDims: true });
          b.output("y", b.add("sub", [v, b.add("broadcast", [mean], { shape: c.shape })]));
        } else {
          const axes = [...Array(rank).keys()].filter(() => r() < 0.6);
          b.output("y", b.add(c.op, [v], { axes: axes.length ? axes : last, keepDims: c.keepDims }));
          if (c.use === "beside elementwise") b.output("z", b.add("exp", [v]));
        }
        const g = b.build();
        const feeds = { x: gridValues(r, "f32", prod(g.nodes.find((n) => n.op === "input")!.shape), 4, 1) };
        const tol = tolFor(c.use === "row kernel" ? "reduce_mean" : c.op, "f32");
        await expectGpuMatchesReference(g, feeds, { tol: { atol: Math.max(tol.atol, 1e-6), rtol: tol.rtol } });
        const p = compileGraph(g, limits);
        const names = p.dispatches.map((d) => p.kernels[d.kernel].name);
        const ops = p.dispatches.map((d) => p.graph.nodes.find((n) => n.id === d.node)!.op);
        const copies = ops.filter((op) => VIEW_OPS.has(op));
        if (prod(c.shape) > REDUCTION_VIEW_MAX) {
          // past the cost rule's size the view is copied, and the reduction reads the copy in order
          expect(copies.length, names.join(", ")).toBeGreaterThan(0);
          return;
        }
        expect(copies, names.join(", ")).toEqual([]);
        if (c.use !== "beside elementwise") expect(names, names.join(", ")).toHaveLength(1);
      }),
      { numRuns: runs(60) },
    );
  });
});
