// ir.ts: the static-shape SSA graph every later stage reads. A node names its op (a key of OPS), its
// inputs by id, its attributes, and the dtype and concrete shape its op's rule inferred.
// The builder checks every node against the op table as it is added, so a Graph is always well typed.
import type { DType } from "./dtype.js";
import { type Shape, fmtShape } from "./shape.js";
import { MiraError } from "../base/errors.js";

/** Attention masks as values (see attentionMaskAllows in ops/composite.ts for their meaning). */
export type MaskSpec =
  | { kind: "none" }
  | { kind: "causal" }
  | { kind: "block_causal"; block: number }
  | { kind: "padding" }
  | { kind: "cross" };

/** Attributes of all ops; each op reads the fields it declares. */
export interface Attrs {
  readonly name?: string; // input, param
  readonly value?: number; // full, pad
  readonly shape?: Shape; // full, reshape, broadcast, iota, random_*
  readonly dtype?: DType; // full, iota, cast
  readonly axes?: readonly number[]; // reductions
  readonly keepDims?: boolean;
  readonly axis?: number; // concat, gather, scatter_add, iota, softmax
  readonly perm?: readonly number[]; // permute
  readonly starts?: readonly number[]; // slice
  readonly ends?: readonly number[];
  readonly steps?: readonly number[];
  readonly lo?: readonly number[]; // pad
  readonly hi?: readonly number[];
  readonly size?: number; // scatter_add
  readonly transA?: boolean; // matmul
  readonly transB?: boolean;
  readonly stream?: number; // random_*: distinguishes call sites sharing a seed
  readonly eps?: number; // layer_norm
  readonly mask?: MaskSpec; // attention
  readonly scale?: number;
  /** attention: its kernels, fixed when a gradient is built (passes/choose-attention.ts) */
  readonly impl?: "flash" | "lowered";
  readonly adamw?: AdamWAttrs; // adamw
  /** reshape: the region whose recomputation reads a kept value through it (remat.ts); keeps it apart
   *  from the forward pass's values in common-subexpression elimination */
  readonly recompute?: number;
}

/** Constants of one parameter's AdamW step (ops/optim.ts). */
export interface AdamWAttrs {
  readonly beta1: number;
  readonly beta2: number;
  /** global gradient-norm clip; Infinity: none */
  readonly clipNorm: number;
  /** decoupled weight decay applies to this parameter */
  readonly decays: boolean;
}

export interface Node {
  readonly id: number;
  readonly op: string;
  readonly inputs: readonly number[];
  readonly attrs: Attrs;
  readonly dtype: DType;
  readonly shape: Shape;
}

export interface Graph {
  readonly nodes: readonly Node[]; // topologically ordered: inputs before users
  readonly outputs: readonly { readonly name: string; readonly id: number }[];
}

export interface TensorType {
  readonly dtype: DType;
  readonly shape: Shape;
}

/** A malformed graph built by code (not by a user's .mira text, which the checker guards). Kind "failure":
 *  from the CLI no user code builds graphs, so reaching it there means the checker let something through. */
export class IrError extends MiraError {
  readonly kind = "failure";
  override name = "IrError";
}

export const describe = (t: TensorType): string => `${t.dtype}${fmtShape(t.shape)}`;

/** Source nodes that the caller feeds (graph inputs and parameters). */
export const isFed = (n: Node): boolean => n.op === "input" || n.op === "param";

export function nodeById(g: Graph): Map<number, Node> {
  return new Map(g.nodes.map((n) => [n.id, n]));
}

/** Keep only nodes the outputs depend on (dead-code elimination), preserving order. */
export function pruneGraph(g: Graph): Graph {
  const byId = nodeById(g);
  const live = new Set<number>();
  const stack = g.outputs.map((o) => o.id);
  while (stack.length) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    live.add(id);
    for (const i of byId.get(id)!.inputs) stack.push(i);
  }
  return { nodes: g.nodes.filter((n) => live.has(n.id) || isFed(n)), outputs: g.outputs };
}

export function printGraph(g: Graph): string {
  const lines: string[] = [];
  for (const n of g.nodes) {
    const args = n.inputs.map((i) => `%${i}`).join(", ");
    const attrs = Object.entries(n.attrs)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(" ");
    lines.push(`%${n.id}: ${describe(n)} = ${n.op}(${args})${attrs ? ` {${attrs}}` : ""}`);
  }
  for (const o of g.outputs) lines.push(`output ${o.name} = %${o.id}`);
  return lines.join("\n");
}
