// sum-of-products.test.ts: passes/sum-of-products.ts against the reference on the GPU. Sums of matmuls
// (transposed either way, batched or sharing B, K differing per term, summed as a chain either way, as a
// balanced tree or shuffled, beside terms that are not products) compute the same values joined, and
// take one matmul per group of terms that agree off K where joining saves dispatches. A product read
// elsewhere too is not joined (it would be computed twice). Values lie on a grid that f32 sums exactly,
// so any summation order must match the reference bit for bit.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { type Graph, type Node, printGraph } from "../../compiler/ir.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import { joinPays } from "../../compiler/passes/sum-of-products.js";
import { compileGraph } from "../../compiler/program.js";
import { runReference } from "../../compiler/reference.js";
import { firstMismatch } from "../helpers/close.js";
import { runOnGpu, testGpu } from "../helpers/gpu.js";
import { type Rand, feedsFor, gridValues, intIn, prng, runs, seedArb } from "./gen.js";

const ORDERS = ["chain", "chain reversed", "tree", "shuffled"] as const;

/** Sums `xs` in `order`. */
function sum(b: GraphBuilder, xs: readonly Node[], order: (typeof ORDERS)[number], r: Rand): Node {
  const add = (p: Node, q: Node) => b.add("add", [p, q]);
  if (order === "chain") return xs.reduce(add);
  if (order === "chain reversed") return xs.reduceRight(add);
  if (order === "shuffled") return [...xs].sort(() => r() - 0.5).reduce(add);
  const tree = (ys: readonly Node[]): Node =>
    ys.length === 1 ? ys[0] : add(tree(ys.slice(0, ys.length >> 1)), tree(ys.slice(ys.length >> 1)));
  return tree(xs);
}

const caseArb = fc.record({
  terms: fc.integer({ min: 1, max: 24 }),
  m: fc.constantFrom(1, 2, 3, 5, 7, 13, 32, 33),
  n: fc.constantFrom(1, 2, 4, 5, 8, 13, 31),
  batch: fc.constantFrom(0, 1, 3),
  sharedB: fc.boolean(),
  transA: fc.boolean(),
  transB: fc.boolean(),
  order: fc.constantFrom(...ORDERS),
  /** one more term that is not a product (a residual) */
  other: fc.boolean(),
  /** one product is also an output of its own */
  readElsewhere: fc.boolean(),
  seed: seedArb,
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function sumOfProducts(c: Case): Graph {
  const r = prng(c.seed);
  const b = new GraphBuilder();
  const lead = c.batch ? [c.batch] : [];
  const products = Array.from({ length: c.terms }, (_, i) => {
    const k = intIn(r, 1, 9);
    const a = b.input(`a${i}`, "f32", [...lead, ...(c.transA ? [k, c.m] : [c.m, k])]);
    const bm = b.input(`b${i}`, "f32", [...(c.sharedB ? [] : lead), ...(c.transB ? [c.n, k] : [k, c.n])]);
    return b.add("matmul", [a, bm], { transA: c.transA, transB: c.transB });
  });
  const terms = c.other ? [...products, b.input("r", "f32", products[0].shape)] : products;
  b.output("y", sum(b, terms, c.order, r));
  if (c.readElsewhere) b.output("p0", products[0]);
  return b.build();
}

/** The GPU's outputs equal the reference's bit for bit (grid values: every sum is exact in f32). */
async function expectExact(g: Graph, feeds: Record<string, number[]>): Promise<void> {
  const got = await runOnGpu(g, feeds);
  const ref = runReference(g, feeds);
  for (const o of g.outputs) {
    const bad = firstMismatch(got[o.name], ref[o.name].data, { atol: 0, rtol: 0 });
    if (bad) throw new Error(`${o.name}: ${bad}\n${printGraph(g)}`);
  }
}

describe("a sum of matmuls as one matmul of joined operands", () => {
  test("same values as the reference; one matmul where joining pays", async () => {
    const limits = (await testGpu()).limits;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const g = sumOfProducts(c);
        const r = prng(c.seed + 1);
        const feeds = feedsFor(g, (x) =>
          gridValues(
            r,
            x.dtype,
            x.shape.reduce((p, d) => p * d, 1),
            4,
            1,
          ),
        );
        await expectExact(g, feeds);
        const joinable = c.terms - (c.readElsewhere ? 1 : 0);
        const joined = joinPays(joinable, limits);
        const matmuls = compileGraph(g, limits).graph.nodes.filter((x) => x.op === "matmul").length;
        expect(matmuls).toBe(joined ? 1 + c.terms - joinable : c.terms);
      }),
      { numRuns: runs(40) },
    );
  });

  test("joins only where the concats take fewer dispatches than the products", () => {
    expect(
      [2, 3, 4, 16, 31].map((n) => joinPays(n, { ...DEFAULT_LIMITS, maxStorageBuffersPerShaderStage: 16 })),
    ).toEqual([false, false, true, true, true]);
    // a concat of 31 inputs takes 3 dispatches when a stage binds 16; of 4 inputs with 4 bindings, 2
    expect(joinPays(31, { ...DEFAULT_LIMITS, maxStorageBuffersPerShaderStage: 4 })).toBe(true);
    expect(joinPays(4, { ...DEFAULT_LIMITS, maxStorageBuffersPerShaderStage: 4 })).toBe(false);
    // three products whose weights' concat is shared with another join: 1 + 1 + ½ < 3
    expect(joinPays(3, DEFAULT_LIMITS, [1, 2])).toBe(true);
    expect(joinPays(2, DEFAULT_LIMITS, [1, 8])).toBe(false);
  });

  test("three projections' input gradients join where their weights' concat is shared by several sums", async () => {
    // a scan's steps each sum dq·Wqᵀ + dk·Wkᵀ + dv·Wvᵀ over the same three weights: one concat of the
    // weights for every step, one concat and one matmul per step — alone, a sum of three would not join
    const limits = (await testGpu()).limits;
    for (const steps of [1, 2, 8]) {
      const b = new GraphBuilder();
      const w = [0, 1, 2].map((k) => b.param(`w${k}`, "f32", [5, 6]));
      for (let t = 0; t < steps; t++) {
        const terms = w.map((wk, k) => b.add("matmul", [b.input(`d${t}_${k}`, "f32", [3, 6]), wk], { transB: true }));
        b.output(
          `x${t}`,
          terms.reduce((p, q) => b.add("add", [p, q])),
        );
      }
      const g = b.build();
      const p = compileGraph(g, limits);
      const count = (op: string) => p.graph.nodes.filter((x) => x.op === op).length;
      expect([count("matmul"), count("concat")]).toEqual(steps === 1 ? [3, 0] : [steps, steps + 1]);
      const r = prng(steps);
      await expectExact(
        g,
        feedsFor(g, (x) =>
          gridValues(
            r,
            x.dtype,
            x.shape.reduce((q, d) => q * d, 1),
            4,
            1,
          ),
        ),
      );
    }
  });

  test("products that differ off K, or in their flags, stay apart", async () => {
    const b = new GraphBuilder();
    const mm = (i: number, m: number, transB = false) =>
      b.add("matmul", [b.input(`a${i}`, "f32", [m, 3]), b.input(`b${i}`, "f32", transB ? [4, 3] : [3, 4])], { transB });
    const like = [0, 1, 2, 3].map((i) => mm(i, 2));
    const flipped = [4, 5, 6, 7].map((i) => mm(i, 2, true));
    b.output(
      "y",
      [...like, ...flipped].reduce((p, q) => b.add("add", [p, q])),
    );
    const g = b.build();
    const limits = (await testGpu()).limits;
    expect(compileGraph(g, limits).graph.nodes.filter((x) => x.op === "matmul")).toHaveLength(2);
  });
});
