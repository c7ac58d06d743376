// grad.ts: reverse-mode automatic differentiation on the IR. From a graph and a scalar loss output it
// builds one graph holding the forward pass and the gradient of the loss with respect to chosen
// parameters, emitted as IR by each op's VJP rule (ops/vjp.ts), so the backward pass compiles, fuses
// and runs like the forward one. Composites without a rule of their own (attention) are differentiated
// through their lowering — except attention that takes the flash kernels: its path is fixed on the node
// here (passes/choose-attention.ts), and its rule emits the flash backward ops. With `remat`, the rules
// of the given regions' nodes read recomputed values instead of the forward pass's (remat.ts).
import { GraphBuilder } from "./builder.js";
import { type Attrs, type Graph, IrError, type Node, describe, isFed } from "./ir.js";
import { opSpec } from "./ops/index.js";
import { binary, scalar } from "./ops/helpers.js";
import type { NodeBuilder } from "./ops/spec.js";
import { differentiationOf, vjpRuleFor } from "./ops/vjp.js";
import { rebuild } from "./rewrite.js";
import { Recomputer, type RematRegion } from "./remat.js";
import { type AttentionChoice, fixAttentionImpl } from "./passes/choose-attention.js";
import { isFloat } from "./dtype.js";
import { sameShape } from "./shape.js";

/** Output name under which the gradient of `param` appears. */
export const gradName = (param: string): string => `grad:${param}`;

/** A builder that remembers every node it creates, so a lowering can be differentiated afterwards. */
class RecordingBuilder implements NodeBuilder {
  readonly created: Node[] = [];
  constructor(private readonly b: GraphBuilder) {}
  add(op: string, inputs: readonly Node[], attrs: Attrs = {}): Node {
    if (isViaLowering(op)) return lowerComposite(this, op, inputs, attrs);
    const n = this.b.add(op, inputs, attrs);
    this.created.push(n);
    return n;
  }
}

const isViaLowering = (op: string): boolean => differentiationOf(op) === "via-lowering";

function lowerComposite(b: NodeBuilder, op: string, inputs: readonly Node[], attrs: Attrs): Node {
  const spec = opSpec(op);
  if (spec.kind !== "composite")
    throw new IrError(`bug: '${op}' is differentiated via lowering but is not a composite`);
  return spec.lower(b, inputs, attrs);
}

export interface GradOptions extends AttentionChoice {
  /** Parameters to differentiate with respect to (default: every param). */
  readonly wrt?: readonly string[];
  /** Regions of the graph whose intermediates the backward pass recomputes instead of keeping them
   *  (remat.ts; default none). */
  readonly remat?: readonly RematRegion[];
  /** The cotangent the backward pass starts from at the loss, a scalar node already in the builder
   *  (default 1): mixed-precision training's loss scale (train-step.ts), cast to the loss's dtype. */
  readonly seed?: Node;
  /** A scalar node already in the builder that every parameter's gradient is multiplied by, where it is
   *  complete (default none): mixed-precision training's 1/S. */
  readonly gradScale?: Node;
}

export interface Differentiated {
  /** Forward nodes of the source graph, by their id there, as rebuilt in the builder. */
  readonly forward: ReadonlyMap<number, Node>;
  /** d loss / d param for each differentiated param, by name (zeros when the loss ignores it). */
  readonly grads: ReadonlyMap<string, Node>;
  readonly loss: Node;
}

/** Rebuilds `g` in `b` and adds the backward pass of output `loss`. */
export function differentiate(b: GraphBuilder, g: Graph, loss: string, opts: GradOptions = {}): Differentiated {
  const map = rebuild(b, g, (n, inputs) => b.add(n.op, inputs, fixAttentionImpl(n.op, inputs, n.attrs, opts)));
  const lossOut = g.outputs.find((o) => o.name === loss);
  if (!lossOut)
    throw new IrError(`grad: no output named '${loss}'; outputs: ${g.outputs.map((o) => o.name).join(", ")}`);
  const lossNode = map.get(lossOut.id)!;
  if (lossNode.shape.length !== 0 || !isFloat(lossNode.dtype))
    throw new IrError(`grad: the loss must be a float scalar, got ${describe(lossNode)}`);

  const ct = new Map<number, Node>();
  const accumulate = (x: Node, c: Node | undefined): void => {
    if (!c || !isFloat(x.dtype)) return;
    if (!sameShape(c.shape, x.shape))
      throw new IrError(`bug: a gradient rule returned ${describe(c)} for ${describe(x)}`);
    const prev = ct.get(x.id);
    ct.set(x.id, prev ? b.add("add", [prev, c]) : c);
  };
  const byId = new Map<number, Node>();
  const remat = opts.remat?.length ? new Recomputer(b, g, map, opts.remat) : undefined;
  const backprop = (nodes: readonly Node[]): void => {
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i];
      const gn = ct.get(n.id);
      if (gn && n.op === "param" && opts.gradScale) {
        // complete here, after its last reader's rule: scaled now, so that the product runs beside the
        // kernel that finished it rather than at the end, where it would keep what that kernel reads alive
        const s =
          opts.gradScale.dtype === gn.dtype ? opts.gradScale : b.add("cast", [opts.gradScale], { dtype: gn.dtype });
        ct.set(n.id, binary(b, "mul", gn, s));
      }
      if (!gn || isFed(n)) continue;
      const inputs = n.inputs.map((id) => byId.get(id)!);
      // what the rule reads: the forward values, or their recomputation (remat)
      const reads = remat?.readsOf(n) ?? { inputs, out: n };
      const rule = vjpRuleFor(n);
      if (rule === undefined) throw new IrError(`bug: op '${n.op}' has no gradient rule`);
      if (rule === "via-lowering") {
        const rb = new RecordingBuilder(b);
        const lowered = lowerComposite(rb, n.op, reads.inputs, n.attrs);
        for (const c of [...reads.inputs, ...rb.created]) byId.set(c.id, c);
        ct.set(lowered.id, gn);
        // The lowering may read recomputed inputs (remat): their cotangents belong to the values they
        // stand for, which lend theirs for the walk and take the sum back, so that the terms add up in
        // the order they would without recomputation.
        const stand = new Map(reads.inputs.flatMap((x, k) => (x === inputs[k] ? [] : [[x.id, inputs[k].id]])));
        const move = (from: number, to: number): void => {
          const c = ct.get(from);
          ct.delete(from);
          if (c) ct.set(to, c);
        };
        for (const [x, orig] of stand) move(orig, x);
        backprop(rb.created);
        for (const [x, orig] of stand) move(x, orig);
        continue;
      }
      rule(b, gn, reads.inputs, reads.out).forEach((c, k) => accumulate(inputs[k], c));
    }
  };
  const forward = g.nodes.map((n) => map.get(n.id)!);
  for (const n of forward) byId.set(n.id, n);
  const seed = opts.seed;
  ct.set(
    lossNode.id,
    !seed
      ? scalar(b, 1, lossNode.dtype)
      : seed.dtype === lossNode.dtype
        ? seed
        : b.add("cast", [seed], { dtype: lossNode.dtype }),
  );
  backprop(forward);

  const grads = new Map<string, Node>();
  for (const p of forward) {
    if (p.op !== "param" || (opts.wrt && !opts.wrt.includes(p.attrs.name!))) continue;
    // A full-shape `full`, not broadcastTo(scalar): broadcastTo keeps a scalar rank 0, and the
    // gradient of a param must have the param's shape.
    grads.set(p.attrs.name!, ct.get(p.id) ?? b.add("full", [], { value: 0, dtype: p.dtype, shape: p.shape }));
  }
  return { forward: map, grads, loss: lossNode };
}

/** The forward graph plus `grad:<param>` outputs holding d loss / d param. */
export function grad(g: Graph, loss: string, opts: GradOptions = {}): Graph {
  const b = new GraphBuilder();
  const d = differentiate(b, g, loss, opts);
  for (const o of g.outputs) b.output(o.name, d.forward.get(o.id)!);
  for (const [name, node] of d.grads) b.output(gradName(name), node);
  return b.build();
}
