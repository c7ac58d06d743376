// rewrite.ts: copies a graph node by node, letting a rule replace any node with what it builds in the new
// graph. Passes that change some nodes and keep the rest (lowering composites, splitting matmuls) are
// one rule each instead of a hand-written copy loop. Nodes are rebuilt in order, so a rule that changes
// nothing reproduces the graph with the same ids.
import { GraphBuilder } from "./builder.js";
import type { Graph, Node } from "./ir.js";

/** What a node becomes: a node built in `b` from the rebuilt inputs `ins`, or undefined to copy it. */
export type Rule = (n: Node, ins: readonly Node[], b: GraphBuilder) => Node | undefined;

export interface Rewritten {
  readonly graph: Graph;
  /** every node of the source graph → the node computing its value in the new graph */
  readonly map: ReadonlyMap<number, Node>;
}

/** Rebuilds the nodes of `g` in `b` (outputs not declared), each by `rule` or as it was. */
export function rebuild(b: GraphBuilder, g: Graph, rule: Rule = () => undefined): Map<number, Node> {
  const map = new Map<number, Node>();
  for (const n of g.nodes) {
    const ins = n.inputs.map((i) => map.get(i)!);
    map.set(n.id, rule(n, ins, b) ?? b.add(n.op, ins, n.attrs));
  }
  return map;
}

/** `g` with every node replaced as `rule` says, and its outputs naming the replacements. */
export function rewrite(g: Graph, rule: Rule): Rewritten {
  const b = new GraphBuilder();
  const map = rebuild(b, g, rule);
  for (const o of g.outputs) b.output(o.name, map.get(o.id)!);
  return { graph: b.build(), map };
}
