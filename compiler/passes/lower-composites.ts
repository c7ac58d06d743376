// lower-composites.ts: rewrites composite ops (softmax, layer norm, attention, …) into primitives by
// their table entries' `lower`, recursively, so codegen sees only ops with a kernel family. Attention
// whose scores are large becomes one flash_attention node instead (choose-attention.ts).
import type { GraphBuilder } from "../builder.js";
import type { Attrs, Graph, Node } from "../ir.js";
import { opSpec } from "../ops/index.js";
import type { NodeBuilder } from "../ops/spec.js";
import { rewrite } from "../rewrite.js";
import { type AttentionChoice, chooseAttention } from "./choose-attention.js";

class LoweringBuilder implements NodeBuilder {
  constructor(
    private readonly b: GraphBuilder,
    private readonly choice: AttentionChoice,
  ) {}
  add(op: string, inputs: readonly Node[], attrs: Attrs = {}): Node {
    const spec = opSpec(op);
    if (spec.kind !== "composite") return this.b.add(op, inputs, attrs);
    // flash_attention reads f16 and rounds its result itself, so it needs none of the casts below.
    if (op === "attention" && chooseAttention(inputs, attrs, this.choice) === "flash") {
      return this.b.add("flash_attention", inputs, {
        mask: attrs.mask,
        ...(attrs.scale === undefined ? {} : { scale: attrs.scale }),
      });
    }
    // f16 is a storage type: a composite on f16 computes its intermediates (means, sums, scores) in f32,
    // as its float64 reference does, and rounds only its result — not after every lowered step.
    if (!inputs.some((x) => x.dtype === "f16")) return spec.lower(this, inputs, attrs);
    const wide = inputs.map((x) => (x.dtype === "f16" ? this.b.add("cast", [x], { dtype: "f32" }) : x));
    return this.b.add("cast", [spec.lower(this, wide, attrs)], { dtype: "f16" });
  }
}

export function lowerComposites(g: Graph, choice: AttentionChoice = {}): Graph {
  if (!g.nodes.some((n) => opSpec(n.op).kind === "composite")) return g;
  return rewrite(g, (n, ins, b) => new LoweringBuilder(b, choice).add(n.op, ins, n.attrs)).graph;
}
