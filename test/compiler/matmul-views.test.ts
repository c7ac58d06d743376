// matmul-views.test.ts: matmuls reading their operands through views (compiler/fuse-views.ts,
// strided.ts) against the reference, in all three kernel variants: operands permuted, sliced (steps of
// 1 and 2), split into heads (reshape then permute), broadcast along the batch, or stored as they are;
// sizes 1, primes and non-multiples of the tiles and of 4 (vec4 loads stay off where a view would
// misalign them). The views take no kernel of their own: the matmul is the program's only dispatch,
// except where A's batch runs as one tall matrix and its view's rows are not one stride apart. A permute
// of the product (attention's heads merged back) is stored by the matmul itself, permuted.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import type { Node } from "../../compiler/ir.js";
import { kernelMatmulDims } from "../../compiler/ops/linalg.js";
import { compileGraph } from "../../compiler/program.js";
import { prod } from "../../compiler/shape.js";
import { testGpu } from "../helpers/gpu.js";
import { type Rand, expectGpuMatchesReference, gridValues, intIn, prng, runs, seedArb, shuffled } from "./gen.js";

const VARIANTS = ["registers", "shared", "packed"] as const;
const RECIPES = ["stored", "permute", "slice", "permute+slice", "heads", "broadcast"] as const;
type Recipe = (typeof RECIPES)[number];

const size = fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 13, 32, 33);
const caseArb = fc.record({
  m: size,
  n: size,
  k: fc.constantFrom(1, 3, 4, 8, 8, 13, 32, 32),
  batch: fc.array(fc.constantFrom(1, 2, 3), { maxLength: 2 }),
  transA: fc.boolean(),
  transB: fc.boolean(),
  recipeA: fc.constantFrom(...RECIPES),
  recipeB: fc.constantFrom(...RECIPES),
  /** permute the product (a permutation drawn from the seed) */
  permuteC: fc.boolean(),
  seed: seedArb,
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** A stored input `name` and views of it that give an operand of shape `shape`, as `recipe` says. */
function operand(b: GraphBuilder, name: string, shape: number[], recipe: Recipe, r: Rand): Node {
  const rank = shape.length;
  if (recipe === "permute" || recipe === "permute+slice") {
    const perm = shuffled(r, rank);
    const pre = recipe === "permute" ? shape : shape.map((d) => d + intIn(r, 0, 2));
    const stored = new Array<number>(rank);
    perm.forEach((p, i) => {
      stored[p] = pre[i];
    });
    const x = b.add("permute", [b.input(name, "f32", stored)], { perm });
    return recipe === "permute" ? x : slice(b, x, shape, r);
  }
  if (recipe === "slice") {
    const steps = shape.map(() => intIn(r, 1, 2));
    const full = shape.map((d, k) => (d - 1) * steps[k] + 1 + intIn(r, 0, 2));
    return slice(b, b.input(name, "f32", full), shape, r, steps);
  }
  if (recipe === "heads" && rank >= 3) {
    // [.., T, H, D] from [.., T, H·D], then H before T
    const pre = [...shape.slice(0, rank - 3), shape[rank - 2], shape[rank - 3], shape[rank - 1]];
    const stored = [...pre.slice(0, rank - 2), pre[rank - 2] * pre[rank - 1]];
    const split = b.add("reshape", [b.input(name, "f32", stored)], { shape: pre });
    const perm = [...Array(rank).keys()];
    [perm[rank - 3], perm[rank - 2]] = [perm[rank - 2], perm[rank - 3]];
    return b.add("permute", [split], { perm });
  }
  if (recipe === "broadcast" && rank > 2)
    return b.add("broadcast", [b.input(name, "f32", shape.slice(rank - 2))], { shape });
  return b.input(name, "f32", shape);
}

function slice(b: GraphBuilder, x: Node, shape: number[], r: Rand, steps = shape.map(() => 1)): Node {
  const starts = x.shape.map((d, k) => intIn(r, 0, d - ((shape[k] - 1) * steps[k] + 1)));
  const ends = starts.map((s, k) => s + (shape[k] - 1) * steps[k] + 1);
  return b.add("slice", [x], { starts, ends, steps });
}

async function check(c: Case, variant: (typeof VARIANTS)[number]): Promise<void> {
  const r = prng(c.seed);
  const b = new GraphBuilder();
  const sa = [...c.batch, ...(c.transA ? [c.k, c.m] : [c.m, c.k])];
  const sb = [...c.batch, ...(c.transB ? [c.n, c.k] : [c.k, c.n])];
  const a = operand(b, "a", sa, c.recipeA, r);
  const bb = operand(b, "b", sb, c.recipeB, r);
  const product = b.add("matmul", [a, bb], { transA: c.transA, transB: c.transB });
  b.output("y", c.permuteC ? b.add("permute", [product], { perm: shuffled(r, product.shape.length) }) : product);
  const g = b.build();
  const feeds: Record<string, number[]> = {};
  for (const n of g.nodes) if (n.op === "input") feeds[n.attrs.name!] = gridValues(r, "f32", prod(n.shape), 4, 1);
  // a dyadic grid keeps every partial sum exact, whatever the order of accumulation
  await expectGpuMatchesReference(g, feeds, { matmul: variant });
  const p = compileGraph(g, (await testGpu()).limits, { matmul: variant });
  const tall = kernelMatmulDims(a, bb, { transA: c.transA, transB: c.transB }).batch.length === 0 && prod(c.batch) > 1;
  if (tall) expect(p.dispatches.length).toBeLessThanOrEqual(c.permuteC ? 3 : 2);
  else expect(p.dispatches.length, p.kernels.map((k) => k.name).join(", ")).toBe(1);
}

describe("matmuls read permuted, sliced, split and broadcast operands through strides, and store permuted", () => {
  test.each(VARIANTS)("%s variant", async (variant) => {
    // every new shape and layout is a new shader (0.3–0.9 s to compile on llvmpipe): runs are few
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => check(c, variant)),
      { numRuns: runs(variant === "registers" ? 24 : 10) },
    );
  });

  // Sizes that are multiples of 4 take vec4 loads; a view starting 1–3 elements into a buffer
  // of rows 4 apart, must not (the register kernel, every transpose).
  test("vec4 loads only where a view keeps them aligned", async () => {
    for (const off of [1, 2, 3, 4])
      for (const transA of [false, true])
        for (const transB of [false, true]) {
          const r = prng(off * 4 + (transA ? 2 : 0) + (transB ? 1 : 0));
          const b = new GraphBuilder();
          const view = (name: string, shape: number[]) => {
            const x = b.input(name, "f32", [...shape.slice(0, -1), shape.at(-1)! + 4]);
            const starts = shape.map((_, k) => (k === shape.length - 1 ? off : 0));
            return b.add("slice", [x], { starts, ends: starts.map((s0, k) => s0 + shape[k]) });
          };
          const [m, n, k] = [4, 8, 8];
          const a = view("a", transA ? [k, m] : [m, k]);
          const bb = view("b", transB ? [n, k] : [k, n]);
          b.output("y", b.add("matmul", [a, bb], { transA, transB }));
          const g = b.build();
          const feeds: Record<string, number[]> = {};
          for (const n0 of g.nodes)
            if (n0.op === "input") feeds[n0.attrs.name!] = gridValues(r, "f32", prod(n0.shape), 4, 1);
          await expectGpuMatchesReference(g, feeds, { matmul: "registers" });
        }
  });
});

describe("concats and pads read permuted and sliced inputs through strides", () => {
  test("each input a view or stored; the concat or pad is the only dispatch", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ rows: size, recipe: fc.constantFrom(...RECIPES) }), { minLength: 1, maxLength: 4 }),
        fc.constantFrom(1, 3, 4, 13),
        fc.boolean(),
        seedArb,
        async (parts, cols, pad, seed) => {
          const r = prng(seed);
          const b = new GraphBuilder();
          const xs = parts.map((p, i) => operand(b, `x${i}`, [2, p.rows, cols], p.recipe, r));
          const joined = pad
            ? b.add("pad", [xs[0]], { lo: [0, 1, 2], hi: [1, 0, 3], value: 0 })
            : b.add("concat", xs, { axis: 1 });
          b.output("y", joined);
          const g = b.build();
          const feeds: Record<string, number[]> = {};
          for (const n of g.nodes)
            if (n.op === "input") feeds[n.attrs.name!] = gridValues(r, "f32", prod(n.shape), 4, 1);
          await expectGpuMatchesReference(g, feeds);
          const p = compileGraph(g, (await testGpu()).limits);
          expect(p.dispatches.length, p.kernels.map((k) => k.name).join(", ")).toBe(1);
        },
      ),
      { numRuns: runs(12) },
    );
  });
});
