// shared-operand.test.ts: passes/shared-operand.ts against the reference on the GPU. Matmuls reading one
// A (q, k and v projections, with or without biases, B transposed or not, batched or not, repeated over a
// scan's steps with the same weights) compute the same values joined, as one matmul per step where that
// pays, and their slices cost no kernel; a product that elementwise work reads keeps its group apart.
// Values lie on a coarse dyadic grid that f32 multiplies and sums exactly, so a join must match the
// reference bit for bit; gradients through the joined products are held to 1e-5.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { grad } from "../../compiler/grad.js";
import type { Graph, Node } from "../../compiler/ir.js";
import { joinPays } from "../../compiler/passes/sum-of-products.js";
import { type CompileOptions, compileGraph } from "../../compiler/program.js";
import { prod } from "../../compiler/shape.js";
import { testGpu } from "../helpers/gpu.js";
import { expectGpuMatchesReference, feedsFor, gridValues, prng, runs, seedArb } from "./gen.js";

const caseArb = fc.record({
  steps: fc.constantFrom(1, 2, 5),
  widths: fc.array(fc.constantFrom(1, 3, 4, 8, 13), { minLength: 2, maxLength: 4 }),
  m: fc.constantFrom(1, 3, 5, 13),
  k: fc.constantFrom(1, 2, 7, 32),
  batch: fc.constantFrom(0, 2),
  transB: fc.boolean(),
  bias: fc.boolean(),
  /** each product read transposed (a permute view) rather than as it is */
  transposedReader: fc.boolean(),
  /** the first product also read by elementwise work, which keeps the group apart */
  elementwise: fc.boolean(),
  /** matmul chains on (a product read as it is as a matmul's A then chains rather than joins) */
  chains: fc.boolean(),
  seed: seedArb,
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** `steps` inputs, each projected by the same weights (and biases), each projection read by a matmul. */
function projections(c: Case, withLoss: boolean): Graph {
  const b = new GraphBuilder();
  const lead = c.batch ? [c.batch] : [];
  const w = c.widths.map((n, i) => b.param(`w${i}`, "f32", c.transB ? [n, c.k] : [c.k, n]));
  const bias = c.widths.map((n, i) => b.param(`bias${i}`, "f32", [n]));
  const outs: Node[] = [];
  for (let t = 0; t < c.steps; t++) {
    const a = b.input(`a${t}`, "f32", [...lead, c.m, c.k]);
    c.widths.forEach((n, i) => {
      let p = b.add("matmul", [a, w[i]], { transB: c.transB });
      if (c.bias) p = b.add("add", [p, b.add("broadcast", [bias[i]], { shape: p.shape })]);
      const r = lead.length;
      const read = c.transposedReader
        ? b.add("matmul", [
            b.add("permute", [p], { perm: [...lead.map((_, k) => k), r + 1, r] }),
            b.param(`r${t}_${i}`, "f32", [c.m, 2]),
          ])
        : b.add("matmul", [p, b.param(`r${t}_${i}`, "f32", [n, 2])]);
      outs.push(read);
      if (c.elementwise && i === 0) outs.push(b.add("mul", [p, p]));
    });
  }
  if (withLoss) {
    const sums = outs.map((o) => b.add("reduce_sum", [o], { axes: o.shape.map((_, k) => k) }));
    b.output(
      "loss",
      sums.reduce((p, q) => b.add("add", [p, q])),
    );
  } else outs.forEach((o, i) => b.output(`y${i}`, o));
  return b.build();
}

/** The GPU's outputs (compiled with `opts`) against the reference's on coarse grid values. */
async function expectMatches(
  g: Graph,
  seed: number,
  tol: { atol: number; rtol: number },
  opts: CompileOptions,
): Promise<void> {
  const r = prng(seed);
  const feeds = feedsFor(g, (x) => gridValues(r, x.dtype, prod(x.shape), 2, 1));
  await expectGpuMatchesReference(g, feeds, { tol, compile: opts });
}

describe("matmuls sharing A as one matmul of joined B operands", () => {
  test("same values as the reference; one product per step where joining pays, and no slice kernel", async () => {
    const limits = (await testGpu()).limits;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const g = projections(c, false);
        await expectMatches(g, c.seed, { atol: 0, rtol: 0 }, { chains: c.chains });
        const n = c.widths.length;
        const chainable = c.chains && !c.transposedReader;
        const pays = joinPays(n, limits, [c.steps, c.bias ? c.steps : Number.POSITIVE_INFINITY]);
        const joins = !c.elementwise && !chainable && pays;
        const p = compileGraph(g, limits, { chains: c.chains });
        const matmuls = p.graph.nodes.filter((x) => x.op === "matmul").length;
        // one row read transposed: simplify.ts turns the permute into a reshape or drops it, and a reshape
        // of a slice may have no strides (strided.ts) or leave a product read as it is, so either count
        const degenerate = c.transposedReader && c.m === 1;
        const counts = [c.steps * n + (joins ? c.steps : c.steps * n), ...(degenerate ? [2 * c.steps * n] : [])];
        expect(counts).toContain(matmuls);
        expect(p.dispatches.map((d) => p.kernels[d.kernel].name).join(" ")).not.toMatch(/slice/);
        const apart = compileGraph(g, limits, { chains: c.chains, sharedOperands: false });
        expect(apart.graph.nodes.filter((x) => x.op === "matmul").length).toBe(2 * c.steps * n);
        if (joins && !degenerate) expect(p.dispatches.length).toBeLessThan(apart.dispatches.length);
      }),
      { numRuns: runs(30) },
    );
  });

  test("gradients through joined products match the reference", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const g = grad(projections(c, true), "loss");
        await expectMatches(g, c.seed, { atol: 1e-5, rtol: 1e-5 }, { chains: c.chains });
      }),
      { numRuns: runs(12) },
    );
  });

  test("three projections of one input, the same weights at every step: a scan's q, k and v", async () => {
    // three products alone would cost a matmul and two concats; over several steps the weights' and
    // biases' concats are built once, and each step saves two dispatches
    const limits = (await testGpu()).limits;
    const c: Case = {
      ...{ widths: [8, 8, 8], m: 5, k: 7, batch: 0, transB: false, bias: true },
      ...{ transposedReader: true, elementwise: false, chains: true, seed: 7 },
      steps: 1,
    };
    const count = (steps: Case["steps"], sharedOperands: boolean) =>
      compileGraph(projections({ ...c, steps }, false), limits, { sharedOperands }).dispatches.length;
    expect(count(1, true)).toBe(count(1, false));
    for (const steps of [2, 5] as const) expect(count(steps, true)).toBe(count(steps, false) - 2 * steps + 2);
  });
});
