// precision.ts: a model's values stored in f16 (its `precision` setting, docs/language.md). Every f32 value
// of the graph — parameters, inputs, activations, constants — becomes f16 in storage; kernels load f16 as
// f32, compute and accumulate in f32 (matmul's registers, reductions' sums, a row kernel's statistics) and
// round once when they store (compiler/wgsl/common.ts). The graph keeps its node ids, so the elaborator's
// records (origins, scans) still hold; types are re-inferred node by node, so an op that always gives f32
// (attention's log-sum-exp) keeps it. Training keeps f32 master weights instead: see masterWeights.
import type { DType } from "./dtype.js";
import type { Attrs, Graph, Node, TensorType } from "./ir.js";
import type { Elaborated } from "./lower.js";
import { opSpec } from "./ops/index.js";
import { PRECISION_KEY } from "../dsl/config.js";

/** The storage dtype of a model's floating-point values. */
export type Precision = "f32" | "f16";

export const PRECISIONS: readonly Precision[] = ["f32", "f16"];

/** The model's precision from its config: f32 unless it declares `precision` and sets it to f16. */
export function precisionOf(config: Elaborated["config"]): Precision {
  const p = config[PRECISION_KEY];
  return p === "f16" ? "f16" : "f32";
}

const toF16 = (t: DType): DType => (t === "f32" ? "f16" : t);

/** `el` with its values stored as its precision says: as it is for f32, every f32 value in f16 for f16. */
export function withPrecision(el: Elaborated): Elaborated {
  if (precisionOf(el.config) === "f32") return el;
  return {
    ...el,
    graph: storeInF16(el.graph),
    params: el.params.map((p) => ({ ...p, dtype: toF16(p.dtype) })),
    inputs: el.inputs.map((i) => ({ ...i, dtype: toF16(i.dtype) })),
  };
}

/** `g` with its f32 values stored as f16: sources, and every op that can give f16 for f16 operands (an
 *  attribute naming f32 — a cast's, a constant's, a random tensor's — names f16). */
export function storeInF16(g: Graph): Graph {
  const byId = new Map<number, Node>();
  const nodes = g.nodes.map((n) => {
    const spec = opSpec(n.op);
    let attrs: Attrs = n.attrs.dtype === "f32" ? { ...n.attrs, dtype: "f16" } : n.attrs;
    let dtype: DType;
    if (spec.kind === "source") dtype = toF16(n.dtype);
    else {
      const ins: TensorType[] = n.inputs.map((i) => byId.get(i)!);
      dtype = spec.infer(ins, attrs).dtype;
      // an op whose dtype defaults to f32 when its attributes name none (random tensors)
      if (dtype === "f32" && attrs.dtype === undefined && spec.infer(ins, { ...attrs, dtype: "f16" }).dtype === "f16")
        attrs = { ...attrs, dtype: "f16" };
      dtype = spec.infer(ins, attrs).dtype;
    }
    const out: Node = { ...n, attrs, dtype };
    byId.set(n.id, out);
    return out;
  });
  return { ...g, nodes };
}

/**
 * `g` (stored in f16) with master weights: every f16 parameter becomes an f32 parameter of the same name
 * and id, read through a cast to f16 — a node of its own, placed right after it — wherever the graph read
 * it. A training step then differentiates, clips and updates the f32 parameters (the cast's gradient is
 * the cast back) while the forward and backward passes run in f16.
 */
export function masterWeights(g: Graph): Graph {
  let next = Math.max(-1, ...g.nodes.map((n) => n.id)) + 1;
  const castOf = new Map<number, number>();
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    const inputs = n.inputs.map((i) => castOf.get(i) ?? i);
    if (n.op === "param" && n.dtype === "f16") {
      nodes.push({ ...n, attrs: { ...n.attrs, dtype: "f32" }, dtype: "f32" });
      const cast: Node = {
        id: next++,
        op: "cast",
        inputs: [n.id],
        attrs: { dtype: "f16" },
        dtype: "f16",
        shape: n.shape,
      };
      castOf.set(n.id, cast.id);
      nodes.push(cast);
    } else nodes.push(inputs.some((i, k) => i !== n.inputs[k]) ? { ...n, inputs } : n);
  }
  return { ...g, nodes };
}
