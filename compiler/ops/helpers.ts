// helpers.ts: small IR-building phrases used by lowering and gradient rules (numpy-style broadcasting,
// scalars, reductions), all through NodeBuilder.add so every node is checked by its op's rule.
import type { DType } from "../dtype.js";
import type { Node } from "../ir.js";
import { type Shape, broadcastShapes, fmtShape, normAxis, sameShape } from "../shape.js";
import { fail } from "./rules.js";
import type { NodeBuilder } from "./spec.js";

export const scalar = (b: NodeBuilder, value: number, dtype: DType = "f32"): Node =>
  b.add("full", [], { value, dtype, shape: [] });

export function broadcastTo(b: NodeBuilder, x: Node, shape: Shape): Node {
  if (x.shape.length === 0 || sameShape(x.shape, shape)) return x;
  return b.add("broadcast", [x], { shape });
}

/** A binary elementwise op with numpy broadcasting (rank-0 operands broadcast inside the kernel). */
export function binary(b: NodeBuilder, op: string, x: Node, y: Node): Node {
  const shape =
    broadcastShapes(x.shape, y.shape) ?? fail(`${op}: ${fmtShape(x.shape)} and ${fmtShape(y.shape)} do not broadcast`);
  return b.add(op, [broadcastTo(b, x, shape), broadcastTo(b, y, shape)]);
}

export const unary = (b: NodeBuilder, op: string, x: Node): Node => b.add(op, [x]);

export function reduce(
  b: NodeBuilder,
  op: "reduce_sum" | "reduce_max" | "reduce_min" | "reduce_mean",
  x: Node,
  axes: readonly number[],
  keepDims = false,
): Node {
  return b.add(op, [x], { axes: axes.map((a) => normAxis(a, x.shape.length)), keepDims });
}

/** Sum `g` down to `shape` (undoing a numpy broadcast), as gradient rules need. */
export function sumTo(b: NodeBuilder, g: Node, shape: Shape): Node {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, k) => {
    if (k < lead || (shape[k - lead] === 1 && d !== 1)) axes.push(k);
  });
  const summed = axes.length ? reduce(b, "reduce_sum", g, axes, true) : g;
  return b.add("reshape", [summed], { shape });
}
