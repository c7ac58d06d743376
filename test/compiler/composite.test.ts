// composite.test.ts: softmax, log-softmax, layer norm and attention (every mask kind) on the GPU — run as
// their lowering to primitives — against their independent float64 references, at the op's tolerance.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import type { DType } from "../../compiler/dtype.js";
import type { MaskSpec } from "../../compiler/ir.js";
import { opsOfKind } from "../../compiler/ops/index.js";
import { prod } from "../../compiler/shape.js";
import { expectGpuMatchesReference, intIn, prng, runs, seedArb, shapeArb, singleOp, valuesOf } from "./gen.js";

test("the composites tested here are all the table has", () => {
  expect([...opsOfKind("composite")].sort()).toEqual(["attention", "layer_norm", "log_softmax", "softmax"]);
});

const FLOATS: DType[] = ["f32", "f16"];

describe("softmax and log_softmax match the reference", () => {
  const cases = ["softmax", "log_softmax"].flatMap((op) => FLOATS.map((d) => [op, d] as [string, DType]));
  test.each(cases)("%s (%s)", async (op, dtype) => {
    const arb = shapeArb(1, 4, 20_000).chain((shape) =>
      fc.tuple(fc.constant(shape), fc.integer({ min: -shape.length, max: shape.length - 1 }), seedArb),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ([shape, axis, seed]) => {
        const g = singleOp(op, [{ dtype, shape }], { axis });
        await expectGpuMatchesReference(g, { x0: valuesOf(prng(seed), dtype, prod(shape)).map((x) => x * 2) });
      }),
      { numRuns: runs(dtype === "f32" ? 10 : 5) },
    );
  });
});

describe("layer_norm matches the reference", () => {
  test.each(FLOATS)("%s", async (dtype) => {
    await fc.assert(
      fc.asyncProperty(shapeArb(1, 3, 20_000), fc.constantFrom(1e-5, 1e-3), seedArb, async (shape, eps, seed) => {
        const r = prng(seed);
        const d = shape[shape.length - 1];
        const g = singleOp(
          "layer_norm",
          [
            { dtype, shape },
            { dtype, shape: [d] },
            { dtype, shape: [d] },
          ],
          { eps },
        );
        await expectGpuMatchesReference(g, {
          x0: valuesOf(r, dtype, prod(shape)),
          x1: valuesOf(r, dtype, d),
          x2: valuesOf(r, dtype, d),
        });
      }),
      { numRuns: runs(dtype === "f32" ? 10 : 5) },
    );
  });
});

const MASKS = ["none", "causal", "block_causal", "padding", "cross"] as const;
const seqLen = fc.constantFrom(1, 2, 3, 5, 7, 13, 31);

describe("attention matches the reference", () => {
  test.each(MASKS)("mask %s", async (kind) => {
    const arb = fc.record({
      lead: fc.array(fc.constantFrom(1, 2, 3), { minLength: 1, maxLength: 2 }), // [B] or [B, heads]
      tq: seqLen,
      tk: seqLen,
      d: fc.constantFrom(1, 3, 8, 16, 33),
      dv: fc.constantFrom(1, 4, 7, 16),
      block: fc.integer({ min: 1, max: 5 }),
      scale: fc.option(fc.constantFrom(0.5, 0.125), { nil: undefined }),
      seed: seedArb,
    });
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        const r = prng(c.seed);
        // Self-attention masks have one sequence; "cross" attends from Tq queries to Tk ≠ Tq keys.
        const tk = kind === "cross" ? (c.tk === c.tq ? c.tk + 2 : c.tk) : c.tq;
        const mask: MaskSpec = kind === "block_causal" ? { kind, block: c.block } : { kind };
        const b = new GraphBuilder();
        const q = b.input("q", "f32", [...c.lead, c.tq, c.d]);
        const k = b.input("k", "f32", [...c.lead, tk, c.d]);
        const v = b.input("v", "f32", [...c.lead, tk, c.dv]);
        const extra = kind === "padding" ? [b.input("len", "i32", [c.lead[0]])] : [];
        b.output("o", b.add("attention", [q, k, v, ...extra], { mask, scale: c.scale }));
        const feeds: Record<string, number[]> = {
          q: valuesOf(r, "f32", prod(q.shape), "unit"),
          k: valuesOf(r, "f32", prod(k.shape), "unit"),
          v: valuesOf(r, "f32", prod(v.shape), "unit"),
        };
        // Lengths from 0 (a fully masked row averages every value) to Tk.
        if (kind === "padding") feeds.len = Array.from({ length: c.lead[0] }, () => intIn(r, 0, tk));
        await expectGpuMatchesReference(b.build(), feeds);
      }),
      // Each case compiles ~20 new shaders (llvmpipe: 0.1–0.9 s each), so runs are few per mask.
      { numRuns: runs(3) },
    );
  });
});
