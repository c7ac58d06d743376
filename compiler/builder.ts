// builder.ts: builds an IR Graph node by node; every node is checked by its op's dtype/shape rule as it
// is added, so a built Graph is well typed by construction.
import type { DType } from "./dtype.js";
import { type Attrs, type Graph, IrError, type Node } from "./ir.js";
import { opSpec } from "./ops/index.js";
import type { NodeBuilder } from "./ops/spec.js";
import type { Shape } from "./shape.js";

export class GraphBuilder implements NodeBuilder {
  private readonly nodes: Node[] = [];
  private readonly outputs: { name: string; id: number }[] = [];
  private readonly names = new Set<string>();

  add(op: string, inputs: readonly Node[], attrs: Attrs = {}): Node {
    const spec = opSpec(op);
    if (spec.arity !== "variadic" && spec.arity !== inputs.length)
      throw new IrError(`${op}: takes ${spec.arity} inputs, got ${inputs.length}`);
    const t = spec.infer(inputs, attrs);
    const node: Node = {
      id: this.nodes.length,
      op,
      inputs: inputs.map((n) => n.id),
      attrs,
      dtype: t.dtype,
      shape: [...t.shape],
    };
    this.nodes.push(node);
    return node;
  }

  input(name: string, dtype: DType, shape: Shape): Node {
    return this.fed("input", name, dtype, shape);
  }

  param(name: string, dtype: DType, shape: Shape): Node {
    return this.fed("param", name, dtype, shape);
  }

  output(name: string, node: Node): void {
    if (this.outputs.some((o) => o.name === name)) throw new IrError(`output '${name}' declared twice`);
    this.outputs.push({ name, id: node.id });
  }

  /** Nodes added so far (the id the next node gets). */
  get size(): number {
    return this.nodes.length;
  }

  build(): Graph {
    return { nodes: [...this.nodes], outputs: [...this.outputs] };
  }

  private fed(op: "input" | "param", name: string, dtype: DType, shape: Shape): Node {
    if (this.names.has(name)) throw new IrError(`${op} '${name}' declared twice`);
    this.names.add(name);
    return this.add(op, [], { name, dtype, shape });
  }
}
