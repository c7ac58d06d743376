// simplify.ts: rewrite rules applied node by node, then common-subexpression elimination, in one copy of
// the graph. A rule names what it matches and returns the replacement op and attributes, or undefined.
// CSE: two nodes with the same op, inputs and attributes compute the same value (every op is a pure
// function of those; random ops of their seed input and attributes), so the later one is replaced by the
// earlier. Gradient rules recompute what the forward pass already has — a layer norm's backward
// re-derives its mean and variance once composites are lowered — and each copy would be a kernel.
import { GraphBuilder } from "../builder.js";
import type { Attrs, Graph, Node } from "../ir.js";
import { BOX_RULES } from "./simplify-boxes.js";
import { sameShape } from "../shape.js";

export interface Rule {
  readonly name: string;
  readonly op: string;
  /** the replacement op and attributes, and its inputs (ids in the graph being built) when they change */
  apply(
    n: Node,
    inputs: readonly Node[],
    built: Built,
  ): { op: string; attrs: Attrs; inputs?: readonly number[] } | undefined;
}

/** The graph being built, for rules that look further up or add a node before the replacement. */
export interface Built {
  node(id: number): Node;
  add(op: string, inputs: readonly Node[], attrs: Attrs): Node;
}

/** Whether `perm` swaps the last two axes and keeps every other. */
const swapsLastTwo = (perm: readonly number[]): boolean => {
  const r = perm.length;
  return r >= 2 && perm.every((a, i) => (i < r - 2 ? a === i : a === (i === r - 2 ? r - 1 : r - 2)));
};

export const RULES: readonly Rule[] = [
  {
    // A permute that keeps the order of every axis longer than 1 moves no element: a reshape, which
    // shares its input's buffer, instead of a copy (a batch-1 decode step's head split and merge).
    name: "permute-of-unit-axes",
    op: "permute",
    apply: (n, [x]) => {
      const long = n.attrs.perm!.filter((a) => x.shape[a] !== 1);
      return long.every((a, k) => k === 0 || long[k - 1] < a)
        ? { op: "reshape", attrs: { shape: n.shape } }
        : undefined;
    },
  },
  {
    // A matmul of a transposed operand reads the operand as it is with its transpose flag flipped: the
    // permute's copy goes (a gradient's xᵀ·dy, a per-token softmax turned per-slot).
    name: "transpose-into-matmul",
    op: "matmul",
    apply: (n, [a, b]) => {
      const t = (x: Node) => x.op === "permute" && swapsLastTwo(x.attrs.perm!);
      if (!t(a) && !t(b)) return undefined;
      const attrs: Attrs = {
        ...n.attrs,
        ...(t(a) ? { transA: !(n.attrs.transA ?? false) } : {}),
        ...(t(b) ? { transB: !(n.attrs.transB ?? false) } : {}),
      };
      return { op: "matmul", attrs, inputs: [t(a) ? a.inputs[0] : a.id, t(b) ? b.inputs[0] : b.id] };
    },
  },
  ...BOX_RULES,
];

const keyOf = (op: string, inputs: readonly Node[], attrs: Attrs): string =>
  `${op}(${inputs.map((x) => x.id).join(",")})${JSON.stringify(attrs)}`;

export function simplify(g: Graph, rules: readonly Rule[] = RULES): Graph {
  const b = new GraphBuilder();
  const map = new Map<number, Node>();
  const seen = new Map<string, Node>();
  const outputs = new Set(g.outputs.map((o) => o.id));
  let changed = false;
  const built = new Map<number, Node>(); // the new graph's nodes by id
  const ctx: Built = {
    node: (id) => built.get(id)!,
    add: (op, inputs, attrs) => {
      const x = b.add(op, inputs, attrs);
      built.set(x.id, x);
      return x;
    },
  };
  for (const n of g.nodes) {
    let inputs = n.inputs.map((i) => map.get(i)!);
    let { op, attrs } = n;
    for (const rule of rules) {
      const r = rule.op === op ? rule.apply({ ...n, op, attrs }, inputs, ctx) : undefined;
      if (r) {
        ({ op, attrs } = r);
        changed ||= r.inputs !== undefined;
        inputs = r.inputs ? r.inputs.map((id) => built.get(id)!) : inputs;
      }
    }
    // a matmul reshaped to its own shape is the matmul, so that the elementwise work after the reshape
    // becomes its epilogue (one a recomputed region reads through stays: it keeps that region's values
    // apart; an output keeps a node of its own). Only after a matmul: dropped everywhere, such reshapes
    // let a recomputed region's values merge with the forward pass's (remat.test's peak grew 10 %).
    if (
      op === "reshape" &&
      !attrs.recompute &&
      !outputs.has(n.id) &&
      sameShape(inputs[0].shape, n.shape) &&
      inputs[0].op === "matmul"
    ) {
      changed = true;
      map.set(n.id, inputs[0]);
      continue;
    }
    const key = keyOf(op, inputs, attrs);
    // an output keeps a node of its own: outputs are distinct buffers the caller reads
    const hit = op === "input" || op === "param" || outputs.has(n.id) ? undefined : seen.get(key);
    changed ||= hit !== undefined || op !== n.op;
    const copy = hit ?? b.add(op, inputs, attrs);
    built.set(copy.id, copy);
    if (!hit) seen.set(key, copy);
    map.set(n.id, copy);
  }
  if (!changed) return g;
  for (const o of g.outputs) b.output(o.name, map.get(o.id)!);
  return b.build();
}
