// chains.test.ts: two matmuls back to back in one kernel (fuse-chains.ts, wgsl/chain.ts) against the
// reference: X·W₁ with no epilogue, a bias, or a bias and GELU (its pre-activation also an output, as a
// backward pass keeps it), then ·W₂ with no epilogue, a bias, or a bias and a residual; either weight
// transposed; X with a leading axis that a shared weight folds into rows; the hidden value read by
// something else too (an output, or a kernel placed before the second, which the chain must run before).
// A layer norm before the first matmul (a row kernel the chain computes first). f32 and f16. Rows 1,
// primes and non-multiples of a block; widths 1, primes, non-multiples of the 64 threads. The gradients
// of such an MLP (whose backward pass forms chains of its own) match the reference too.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { CHAIN_MAX_HIDDEN } from "../../compiler/fuse-chains.js";
import { grad } from "../../compiler/grad.js";
import type { Graph, Node } from "../../compiler/ir.js";
import { compileGraph } from "../../compiler/program.js";
import { prod } from "../../compiler/shape.js";
import { testGpu } from "../helpers/gpu.js";
import { expectGpuMatchesReference, feedsFor, gridValues, prng, runs, seedArb } from "./gen.js";

const SIZES = [1, 2, 3, 5, 7, 13, 33, 65] as const;

const caseArb = fc.record({
  lead: fc.constantFrom(0, 1, 3),
  m: fc.constantFrom(...SIZES),
  k: fc.constantFrom(...SIZES),
  n1: fc.constantFrom(...SIZES),
  n2: fc.constantFrom(...SIZES),
  transB1: fc.boolean(),
  transB2: fc.boolean(),
  first: fc.constantFrom("none", "bias", "bias+gelu", "bias+gelu kept"),
  second: fc.constantFrom("none", "bias", "bias+residual"),
  hidden: fc.constantFrom("inside", "output", "read before"),
  dtype: fc.constantFrom("f32", "f16"),
  norm: fc.constantFrom("none", "layer_norm", "layer_norm kept"),
  seed: seedArb,
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

const bcast = (b: GraphBuilder, x: Node, shape: readonly number[]): Node => b.add("broadcast", [x], { shape });

/** The case's graph: y = epi₂(epi₁(x·W₁)·W₂), with the hidden value's other readers. */
function chainGraph(c: Case): Graph {
  const b = new GraphBuilder();
  const rows = c.lead ? [c.lead, c.m] : [c.m];
  const t = c.dtype;
  let x = b.input("x", t, [...rows, c.k]);
  if (c.norm !== "none") {
    // a layer norm before the first matmul: a row kernel the chain runs as its prologue
    x = b.add("layer_norm", [x, b.param("g", t, [c.k]), b.param("be", t, [c.k])], { eps: 1e-5 });
    if (c.norm === "layer_norm kept") b.output("xn", x);
  }
  const w1 = b.param("w1", t, c.transB1 ? [c.n1, c.k] : [c.k, c.n1]);
  const w2 = b.param("w2", t, c.transB2 ? [c.n2, c.n1] : [c.n1, c.n2]);
  let h = b.add("matmul", [x, w1], { transB: c.transB1 });
  if (c.first !== "none") {
    const pre = b.add("add", [h, bcast(b, b.param("b1", t, [c.n1]), h.shape)]);
    h = c.first === "bias" ? pre : b.add("gelu", [pre]);
    if (c.first === "bias+gelu kept") b.output("pre", pre);
  }
  // read by a kernel placed before the second matmul (unless it joins the first's epilogue)
  if (c.hidden === "read before") b.output("hh", b.add("mul", [h, h]));
  let y = b.add("matmul", [h, w2], { transB: c.transB2 });
  if (c.second !== "none") y = b.add("add", [y, bcast(b, b.param("b2", t, [c.n2]), y.shape)]);
  if (c.second === "bias+residual") y = b.add("add", [y, b.input("r", t, y.shape)]);
  b.output("y", y);
  if (c.hidden === "output") b.output("h", h);
  return b.build();
}

const kernelNames = (g: Graph, limits: Parameters<typeof compileGraph>[1], chains = true): string[] => {
  const p = compileGraph(g, limits, { chains });
  return p.dispatches.map((d) => p.kernels[d.kernel].name);
};
const chainKernels = (g: Graph, limits: Parameters<typeof compileGraph>[1], chains = true): string[] =>
  kernelNames(g, limits, chains).filter((n) => n.startsWith("chain_"));

describe("matmul chains", () => {
  test("the reference's values; one chain kernel where the hidden value is small, none when off", async () => {
    const limits = (await testGpu()).limits;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const r = prng(c.seed);
        const g = chainGraph(c);
        const feeds = feedsFor(g, (n) => gridValues(r, c.dtype, prod(n.shape), 4, 1));
        // f16: the reference rounds where the kernels store; sums of up to 65 products differ in order
        const tol = c.dtype === "f16" ? { atol: 2e-2, rtol: 1e-2 } : { atol: 1e-4, rtol: 1e-4 };
        await expectGpuMatchesReference(g, feeds, { tol });
        const rows = (c.lead || 1) * c.m;
        expect(chainKernels(g, limits, false)).toEqual([]);
        const chained = rows * c.n1 <= CHAIN_MAX_HIDDEN;
        const chains = chainKernels(g, limits);
        // a reader before the second matmul of an activation joins the activation's kernel (the two are
        // merged, so the hidden value is no epilogue's): then no chain; a bare product is chained anyway,
        // run before that reader
        if (c.hidden === "read before" && c.first !== "none") expect(chains.length).toBeLessThanOrEqual(1);
        else expect(chains).toHaveLength(chained ? 1 : 0);
        // the layer norm's row kernel runs inside the chain
        if (chains.length) expect(kernelNames(g, limits).filter((n) => n.startsWith("rows_"))).toEqual([]);
      }),
      { numRuns: runs(40) },
    );
  });

  test("past CHAIN_MAX_HIDDEN the two matmuls keep their own kernels", async () => {
    const limits = (await testGpu()).limits;
    const c = {
      lead: 0,
      k: 8,
      n2: 8,
      transB1: false,
      transB2: false,
      hidden: "inside",
      dtype: "f32",
      seed: 1,
    } as const;
    const at = (m: number) => chainGraph({ ...c, m, n1: 64, first: "bias+gelu", second: "bias" } as unknown as Case);
    expect(chainKernels(at(CHAIN_MAX_HIDDEN / 64), limits)).toHaveLength(1);
    expect(chainKernels(at(CHAIN_MAX_HIDDEN / 64 + 1), limits)).toEqual([]);
  });

  test("a layer norm the first's epilogue reads too keeps its kernel: a chain reads nothing it writes", async () => {
    const limits = (await testGpu()).limits;
    const b = new GraphBuilder();
    const d = 24;
    const x = b.input("x", "f32", [5, d]);
    const ln = b.add("layer_norm", [x, b.param("g", "f32", [d]), b.param("be", "f32", [d])], { eps: 1e-5 });
    const h = b.add("gelu", [b.add("add", [b.add("matmul", [ln, b.param("w1", "f32", [d, d])]), ln])]);
    b.output("y", b.add("matmul", [h, b.param("w2", "f32", [d, 7])]));
    const g = b.build();
    const r = prng(3);
    await expectGpuMatchesReference(
      g,
      feedsFor(g, (n) => gridValues(r, "f32", prod(n.shape), 4, 1)),
      {
        tol: { atol: 1e-4, rtol: 1e-4 },
      },
    );
    const names = kernelNames(g, limits);
    expect(names.filter((n) => n.startsWith("chain_"))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith("rows_"))).toHaveLength(1);
  });

  test("an MLP's gradients (chains forward and backward) match the reference's", async () => {
    const limits = (await testGpu()).limits;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 4, 7),
        fc.constantFrom(5, 32),
        fc.constantFrom(3, 64, 65),
        seedArb,
        async (m, d, hidden, seed) => {
          const r = prng(seed);
          const b = new GraphBuilder();
          // x scaled by a parameter, so that the backward pass needs dX (a chain of its own)
          const scale = bcast(b, b.param("s", "f32", [d]), [m, d]);
          const x0 = b.add("mul", [b.input("x", "f32", [m, d]), scale]);
          // a layer norm first (the chain's row prologue), residual around the MLP
          const x = b.add("layer_norm", [x0, b.param("g", "f32", [d]), b.param("be", "f32", [d])], { eps: 1e-5 });
          const w1 = b.param("w1", "f32", [d, hidden]);
          const b1 = b.param("b1", "f32", [hidden]);
          const w2 = b.param("w2", "f32", [hidden, d]);
          const pre = b.add("add", [b.add("matmul", [x, w1]), bcast(b, b1, [m, hidden])]);
          const y = b.add("add", [b.add("matmul", [b.add("gelu", [pre]), w2]), x0]);
          const t = b.input("t", "f32", [m, d]);
          const loss = b.add("reduce_sum", [b.add("mul", [y, t])], { axes: [0, 1] });
          b.output("loss", loss);
          const g = grad(b.build(), "loss");
          const feeds = feedsFor(g, (n) => gridValues(r, "f32", prod(n.shape), 4, 1));
          await expectGpuMatchesReference(g, feeds, { tol: { atol: 2e-4, rtol: 1e-4 } });
          // forward and the backward dX = (dY·W₂ᵀ ⊙ gelu′)·W₁ᵀ
          expect(chainKernels(g, limits).length).toBeGreaterThanOrEqual(2);
        },
      ),
      { numRuns: runs(12) },
    );
  });
});
