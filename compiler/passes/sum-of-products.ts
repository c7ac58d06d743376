// sum-of-products.ts: a sum of matrix products is one product of joined operands —
// A₁B₁ + A₂B₂ + … = [A₁ A₂ …]·[B₁; B₂; …], the parts joined along the axis each product contracts.
// A weight used at every step of an unrolled scan gets its gradient as such a sum, xₜᵀ·dyₜ over the
// steps, which compiled to one small matmul per step, each adding the last one's partial sum; joined,
// it is one matmul with the steps' rows as its K, and two concats. Terms join only where that saves
// dispatches: n products for one, against the concats' dispatches (a concat binds at most a stage's
// storage buffers less one inputs per dispatch), a concat that several joins build alike (a scan's
// weights, at every step) counted once and built once.
import { GraphBuilder } from "../builder.js";
import { type Graph, type Node, nodeById, pruneGraph } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { bytesOf } from "../schedule.js";
import { sameShape } from "../shape.js";

/** The axis a matmul contracts in its A (0) or B (1) operand: K's place in the operand's shape. */
function kAxis(m: Node, side: 0 | 1, rank: number): number {
  const trans = side === 0 ? (m.attrs.transA ?? false) : (m.attrs.transB ?? false);
  const last = side === 0 ? !trans : trans;
  return last ? rank - 1 : rank - 2;
}

/** What must agree for two products to join: flags, dtypes and every operand axis but K. */
function joinKey(m: Node, byId: ReadonlyMap<number, Node>): string {
  const [a, b] = m.inputs.map((i) => byId.get(i)!);
  const off = (x: Node, side: 0 | 1) => x.shape.map((d, k) => (k === kAxis(m, side, x.shape.length) ? "K" : d));
  return JSON.stringify([
    m.attrs.transA ?? false,
    m.attrs.transB ?? false,
    a.dtype,
    b.dtype,
    m.dtype,
    off(a, 0),
    off(b, 1),
  ]);
}

/** Uses of each node: by other nodes' inputs and by the graph's outputs. */
function usesOf(g: Graph): Map<number, number> {
  const uses = new Map<number, number>();
  const use = (id: number) => uses.set(id, (uses.get(id) ?? 0) + 1);
  for (const n of g.nodes) for (const i of n.inputs) use(i);
  for (const o of g.outputs) use(o.id);
  return uses;
}

/** Dispatches of a concat of n inputs: a stage binds its storage buffers less one (the result) inputs. */
const concatDispatches = (n: number, limits: DeviceLimits): number =>
  Math.ceil(n / Math.max(1, limits.maxStorageBuffersPerShaderStage - 1));

/** Whether joining n products pays: one matmul and two concats take fewer dispatches than n. A concat
 *  that `shares` joins build alike (the same inputs: a scan's weights, joined at every step) is one
 *  node after common-subexpression elimination, so each join pays its share. */
export function joinPays(n: number, limits: DeviceLimits, shares: readonly [number, number] = [1, 1]): boolean {
  const perConcat = concatDispatches(n, limits);
  return n > 1 + perConcat / shares[0] + perConcat / shares[1];
}

/** `g` with each sum of same-shaped matmuls that pays (joinPays) as one matmul of concats. A term joins
 *  only if the sum is its one use (no product is computed twice) and the joined operands each fit one
 *  storage binding. */
export function joinSumsOfProducts(g: Graph, limits: DeviceLimits): Graph {
  const byId = nodeById(g);
  const uses = usesOf(g);
  const once = (id: number) => uses.get(id) === 1;
  const isSum = (n: Node, like: Node) => n.op === "add" && n.dtype === like.dtype && sameShape(n.shape, like.shape);
  // The terms of each largest sum: add nodes used once by an add of the same shape fold into it (and
  // leave `terms`, which then holds the outermost sums only).
  const terms = new Map<number, Node[]>();
  for (const n of g.nodes) {
    if (n.op !== "add") continue;
    const leaves: Node[] = [];
    const stack = [...n.inputs].reverse();
    while (stack.length) {
      const x = byId.get(stack.pop()!)!;
      if (isSum(x, n) && once(x.id) && terms.has(x.id)) {
        leaves.push(...terms.get(x.id)!);
        terms.delete(x.id);
      } else leaves.push(x);
    }
    terms.set(n.id, leaves);
  }
  const maxBytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const fits = (ms: Node[], side: 0 | 1) => ms.reduce((s, m) => s + bytesOf(byId.get(m.inputs[side])!), 0) <= maxBytes;
  // the concat a join builds for one operand, named by its inputs and axis
  const concatKey = (ms: Node[], side: 0 | 1) =>
    `${kAxis(ms[0], side, byId.get(ms[0].inputs[side])!.shape.length)}:${ms.map((m) => m.inputs[side]).join(",")}`;
  interface Candidate {
    readonly root: number;
    readonly ms: Node[];
    readonly keys: readonly [string, string];
  }
  let candidates: Candidate[] = [];
  for (const [root, leaves] of terms) {
    const groups = new Map<string, Node[]>();
    for (const x of leaves) {
      if (x.op !== "matmul" || !once(x.id)) continue;
      const key = joinKey(x, byId);
      groups.set(key, [...(groups.get(key) ?? []), x]);
    }
    for (const ms of groups.values())
      if (ms.length > 1 && fits(ms, 0) && fits(ms, 1))
        candidates.push({ root, ms, keys: [concatKey(ms, 0), concatKey(ms, 1)] });
  }
  // each join's share of its concats, among the joins still chosen, until no more drop out
  for (;;) {
    const shares = new Map<string, number>();
    for (const c of candidates) for (const k of c.keys) shares.set(k, (shares.get(k) ?? 0) + 1);
    const kept = candidates.filter((c) =>
      joinPays(c.ms.length, limits, [shares.get(c.keys[0])!, shares.get(c.keys[1])!]),
    );
    if (kept.length === candidates.length) break;
    candidates = kept;
  }
  const joins = new Map<number, Node[][]>(); // root sum → the groups of products it joins
  for (const c of candidates) joins.set(c.root, [...(joins.get(c.root) ?? []), c.ms]);
  if (!joins.size) return g;
  const b = new GraphBuilder();
  const map = new Map<number, Node>();
  const concats = new Map<string, Node>(); // one node per concat that several joins build alike
  for (const n of g.nodes) {
    const groups = joins.get(n.id);
    if (!groups) {
      map.set(
        n.id,
        b.add(
          n.op,
          n.inputs.map((i) => map.get(i)!),
          n.attrs,
        ),
      );
      continue;
    }
    const joined = new Set(groups.flat().map((m) => m.id));
    const sum: Node[] = groups.map((ms) => {
      const operand = (side: 0 | 1) => {
        const key = concatKey(ms, side);
        const parts = ms.map((m) => map.get(m.inputs[side])!);
        const concat = concats.get(key) ?? b.add("concat", parts, { axis: kAxis(ms[0], side, parts[0].shape.length) });
        concats.set(key, concat);
        return concat;
      };
      return b.add("matmul", [operand(0), operand(1)], ms[0].attrs);
    });
    for (const x of terms.get(n.id)!) if (!joined.has(x.id)) sum.push(map.get(x.id)!);
    map.set(
      n.id,
      sum.reduce((acc, x) => b.add("add", [acc, x], {})),
    );
  }
  for (const o of g.outputs) b.output(o.name, map.get(o.id)!);
  // the joined products and the adds that summed them are left unread
  return pruneGraph(b.build());
}
