// split-k.ts: rewrites chosen matmuls C = A·B (K long, C small) into S partial products over slices of
// K, batched, and a sum over the slices: C = Σₛ A[:, s]·B[s, :]. The batched product has S times the
// workgroups of the original, which is the point when C alone fills too few to occupy the device;
// the sum is a reduction kernel in a fixed order, so results stay deterministic. Expressed in IR, the
// rewrite needs no new kernel: a K-major operand (Aᵀ stored [K, M], B stored [K, N]) is only reshaped
// (same buffer), a K-minor one is reshaped and permuted (one copy). Used by autotuning only, where
// measurement decided it pays (compiler/autotune.ts).
import type { GraphBuilder } from "../builder.js";
import type { Graph, Node } from "../ir.js";
import { rewrite } from "../rewrite.js";

export interface SplitResult {
  readonly graph: Graph;
  /** every node of the input graph → the node computing its value in the new graph */
  readonly map: ReadonlyMap<number, Node>;
  /** split matmul (input graph id) → the batched partial matmul that replaced it (new graph) */
  readonly partials: ReadonlyMap<number, Node>;
}

/** `splits`: matmul id → number of K slices (≥ 2, dividing K; f32 — checked by autotune.applicable). */
export function splitK(g: Graph, splits: ReadonlyMap<number, number>): SplitResult {
  const partials = new Map<number, Node>();
  const { graph, map } = rewrite(g, (n, ins, b) => {
    const s = splits.get(n.id);
    if (n.op !== "matmul" || s === undefined || s < 2) return undefined;
    const transA = !!n.attrs.transA;
    const transB = !!n.attrs.transB;
    const a = transA ? kMajor(b, ins[0], s) : kMinor(b, ins[0], s);
    const bb = transB ? kMinor(b, ins[1], s) : kMajor(b, ins[1], s);
    const partial = b.add("matmul", [a, bb], { transA, transB }); // [...batch, S, M, N]
    partials.set(n.id, partial);
    return b.add("reduce_sum", [partial], { axes: [partial.shape.length - 3] });
  });
  return { graph, map, partials };
}

/** [..., K, X] → [..., S, K/S, X]: K is the outer axis, so slices are contiguous (a reshape). */
function kMajor(b: GraphBuilder, x: Node, s: number): Node {
  const [k, c] = x.shape.slice(-2);
  return b.add("reshape", [x], { shape: [...x.shape.slice(0, -2), s, k / s, c] });
}

/** [..., X, K] → [..., S, X, K/S]: slices interleave along rows, so they are gathered by a permute. */
function kMinor(b: GraphBuilder, x: Node, s: number): Node {
  const [r, k] = x.shape.slice(-2);
  const lead = x.shape.slice(0, -2);
  const split = b.add("reshape", [x], { shape: [...lead, r, s, k / s] });
  const l = lead.length;
  return b.add("permute", [split], { perm: [...lead.map((_, i) => i), l + 1, l, l + 2] });
}
