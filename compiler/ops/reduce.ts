// reduce.ts: reductions over any set of axes (sum, max, min, mean), optionally keeping them as size 1.
import type { Attrs, TensorType } from "../ir.js";
import { type Shape, prod, unravel } from "../shape.js";
import { checkAxes, fail, req } from "./rules.js";
import type { RefTensor, TensorOp } from "./spec.js";

export type ReduceKind = "sum" | "max" | "min" | "mean";

export function reducedShape(shape: Shape, axes: readonly number[], keepDims: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDims) out.push(1);
  });
  return out;
}

/** For each input element, the flat index of the output element it reduces into. */
export function reduceTargets(shape: Shape, axes: readonly number[]): Int32Array {
  const n = prod(shape);
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptShape = kept.map((i) => shape[i]);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = unravel(i, shape);
    let o = 0;
    for (let k = 0; k < kept.length; k++) o = o * keptShape[k] + c[kept[k]];
    out[i] = o;
  }
  return out;
}

export const reduceAxes = (attrs: Attrs, rank: number): number[] =>
  checkAxes("reduce", req("reduce", attrs, "axes"), rank);

function reduction(kind: ReduceKind, doc: string): TensorOp {
  return {
    kind: "reduce",
    arity: 1,
    doc,
    tol: kind === "max" || kind === "min" ? { atol: 0, rtol: 0 } : { atol: 1e-5, rtol: 1e-5 },
    infer: ([x], a): TensorType => {
      if (x.dtype === "bool") fail(`${kind}: needs a numeric tensor`);
      const axes = reduceAxes(a, x.shape.length);
      if (kind !== "sum" && axes.some((ax) => x.shape[ax] === 0)) fail(`${kind}: cannot reduce an empty axis`);
      return { dtype: x.dtype, shape: reducedShape(x.shape, axes, a.keepDims ?? false) };
    },
    ref: ([x]: readonly RefTensor[], a, out) => {
      const axes = reduceAxes(a, x.shape.length);
      const targets = reduceTargets(x.shape, axes);
      const n = prod(out.shape);
      const acc = new Float64Array(n).fill(kind === "max" ? -Infinity : kind === "min" ? Infinity : 0);
      for (let i = 0; i < x.data.length; i++) {
        const o = targets[i];
        const v = x.data[i];
        acc[o] = kind === "max" ? Math.max(acc[o], v) : kind === "min" ? Math.min(acc[o], v) : acc[o] + v;
      }
      if (kind === "mean") {
        const count = axes.reduce((c, ax) => c * x.shape[ax], 1);
        for (let o = 0; o < n; o++) acc[o] /= count;
      }
      return acc;
    },
  };
}

export const REDUCE_OPS = {
  reduce_sum: reduction("sum", "sum over axes"),
  reduce_max: reduction("max", "maximum over axes"),
  reduce_min: reduction("min", "minimum over axes"),
  reduce_mean: reduction("mean", "mean over axes"),
} satisfies Record<string, TensorOp>;
