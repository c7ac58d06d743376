// sources.ts: values that enter a graph — inputs and parameters fed by the caller, and seeded
// counter-based random tensors (a u32 seed scalar in, so a new seed needs no recompilation).
import type { Attrs, TensorType } from "../ir.js";
import { checkShape, fail, req } from "./rules.js";
import { bitsToUnit, randomBits, randomNormal } from "./scalar-math.js";
import type { ElementwiseOp, SourceOp } from "./spec.js";

const fed = (doc: string): SourceOp => ({
  kind: "source",
  arity: 0,
  doc,
  tol: { atol: 0, rtol: 0 },
  infer: (_, a) => ({ dtype: req(doc, a, "dtype"), shape: checkShape(doc, a.shape) }),
});

function randomInfer(op: string) {
  return (ins: readonly TensorType[], a: Attrs): TensorType => {
    if (ins[0].dtype !== "u32" || ins[0].shape.length !== 0)
      fail(`${op}: the seed must be a u32 scalar, got ${ins[0].dtype}[${ins[0].shape.join(", ")}]`);
    return { dtype: a.dtype ?? "f32", shape: checkShape(op, a.shape) };
  };
}

export const SOURCE_OPS = {
  input: fed("input"),
  param: fed("param"),
} satisfies Record<string, SourceOp>;

export const RANDOM_OPS = {
  random_uniform: {
    kind: "elementwise",
    arity: 1,
    doc: "uniform in [0, 1), counter-based (seed, stream, index)",
    tol: { atol: 0, rtol: 0 },
    infer: randomInfer("random_uniform"),
    scalar: ([seed], ctx) => bitsToUnit(randomBits(seed, ctx.attrs.stream ?? 0, ctx.index)),
    wgsl: ([seed], ctx) => {
      ctx.use("random_uniform");
      return `random_uniform(${seed}, ${(ctx.attrs.stream ?? 0) >>> 0}u, ${ctx.index})`;
    },
  },
  random_normal: {
    kind: "elementwise",
    arity: 1,
    doc: "standard normal by Box–Muller, counter-based",
    tol: { atol: 2e-5, rtol: 2e-5 },
    infer: randomInfer("random_normal"),
    scalar: ([seed], ctx) => randomNormal(seed, ctx.attrs.stream ?? 0, ctx.index),
    wgsl: ([seed], ctx) => {
      ctx.use("random_normal");
      return `random_normal(${seed}, ${(ctx.attrs.stream ?? 0) >>> 0}u, ${ctx.index})`;
    },
  },
} satisfies Record<string, ElementwiseOp>;
