// attention-graph.ts (bench): the graph the attention benchmarks compile — loss = Σ attention(q, k, v)·w
// with q, k, v params, so the gradient reaches all three.
import { GraphBuilder } from "../compiler/builder.js";
import type { Graph, MaskSpec } from "../compiler/ir.js";
import { binary, reduce } from "../compiler/ops/helpers.js";

export interface AttentionCase {
  readonly b: number;
  readonly h: number;
  readonly t: number;
  readonly d: number;
  readonly mask: MaskSpec;
}

export function attentionGraph(c: AttentionCase): Graph {
  const b = new GraphBuilder();
  const shape = [c.b, c.h, c.t, c.d];
  const [q, k, v] = ["q", "k", "v"].map((n) => b.param(n, "f32", shape));
  const o = b.add("attention", [q, k, v], { mask: c.mask });
  const w = b.input("w", "f32", shape);
  b.output("o", o);
  b.output("loss", reduce(b, "reduce_sum", binary(b, "mul", o, w), [0, 1, 2, 3]));
  return b.build();
}
