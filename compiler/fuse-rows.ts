// fuse-rows.ts: row kernels. A reduction over axes A of a tensor of shape S, the elementwise work that
// feeds it, the elementwise work on its result (shape K: S without A, "one value per row") and the
// elementwise work of shape S that reads that result broadcast back along A, become one kernel when
// every value involved is row-local: element j of row o depends only on row o. A layer norm (mean,
// centre, variance, rsqrt, scale), a softmax (max, exp, sum, divide) and their backward passes are each
// one such kernel instead of 4–6. One invocation per row runs the row's stages in order, each
// reduction a loop over the row in the same order as the reduction kernel's (identical sums), and
// stores the members read outside the kernel; values of shape S that a later stage needs are
// recomputed per element rather than stored (cheap elementwise work against a kernel launch).
// Reductions over the same axes with no link between them (a norm's dγ and dβ) share a kernel too.
// This runs after the elementwise plan (fuse.ts) and merges its kernels; it never reorders a consumer
// before its producer, and keeps within the device's storage-buffer limit.
import type { FusionPlan, RowGroup, RowUnit } from "./fuse.js";
import { VIEW_OPS } from "./fuse.js";
import { type Graph, type Node } from "./ir.js";
import type { DeviceLimits } from "./limits.js";
import { opSpec } from "./ops/index.js";
import { reduceAxes } from "./ops/reduce.js";
import { type Shape, prod, sameShape } from "./shape.js";
import { bindingSlots } from "./wgsl/windows.js";
import { usesWorkgroupTree } from "./wgsl/reduce.js";

interface Candidate {
  readonly unit: RowUnit;
  readonly at: number; // node id the unit's kernel runs at
  readonly values: readonly number[]; // node ids whose values the unit produces (stored today)
  readonly nodes: readonly Node[]; // elementwise nodes it computes (its group, or its prologue)
  readonly shape: Shape; // the shape it is computed over
  readonly key?: string; // reductions: S and A
}

const keyOf = (shape: Shape, axes: readonly number[]): string => `${shape.join("x")}/${axes.join(",")}`;
const squeeze = (s: Shape): number[] => s.filter((d) => d !== 1);

/** How a reader of shape `readerShape` sees a value through the views between them. */
interface Read {
  readonly value: number;
  readonly chain: readonly Node[]; // inlined views, reader side first
}

export function planRows(g: Graph, plan: FusionPlan, limits: DeviceLimits, enabled = true): FusionPlan {
  if (!enabled) return plan;
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const pos = new Map(g.nodes.map((n, k) => [n.id, k]));
  const outputs = new Set(g.outputs.map((o) => o.id));
  const users = new Map<number, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) users.set(i, [...(users.get(i) ?? []), n]);

  // 1. The candidates: reductions (thread-per-row strategy only) and elementwise kernels.
  const candidates: Candidate[] = [];
  for (const n of g.nodes) {
    if (opSpec(n.op).kind === "reduce" && !plan.inlined.has(n.id)) {
      const x = byId.get(n.inputs[0])!;
      const axes = [...reduceAxes(n.attrs, x.shape.length)].sort((a, b) => a - b);
      const r = prod(axes.map((a) => x.shape[a]));
      if (prod(x.shape) === 0 || usesWorkgroupTree(prod(n.shape), r, limits)) continue;
      const prologue = plan.prologues.get(n.id);
      candidates.push({
        unit: { kind: "reduce", node: n, prologue },
        at: n.id,
        values: [n.id],
        nodes: prologue?.nodes ?? [],
        shape: x.shape,
        key: keyOf(x.shape, axes),
      });
    }
  }
  for (const [root, group] of plan.groups) {
    if (prod(group.root.shape) === 0) continue;
    candidates.push({
      unit: { kind: "element", group },
      at: root,
      values: group.stores.map((s) => s.id),
      nodes: group.nodes,
      shape: group.root.shape,
    });
  }
  candidates.sort((a, b) => pos.get(a.at)! - pos.get(b.at)!);
  const producerOf = new Map<number, Candidate>();
  for (const c of candidates) for (const v of c.values) producerOf.set(v, c);

  // What each candidate reads: materialized values, through the inlined views between.
  const readsOf = new Map<Candidate, Read[]>();
  for (const c of candidates) {
    const out: Read[] = [];
    const walk = (id: number, chain: Node[]): void => {
      const n = byId.get(id)!;
      if (plan.inlined.has(id) && VIEW_OPS.has(n.op)) return walk(n.inputs[0], [...chain, n]);
      if (plan.inlined.has(id)) return; // a literal or a member of the same group
      out.push({ value: id, chain });
    };
    if (c.unit.kind === "reduce" && !c.unit.prologue) walk(c.unit.node.inputs[0], []);
    for (const n of c.nodes) for (const i of n.inputs) walk(i, []);
    readsOf.set(c, out);
  }
  // Who reads a value outside of a kernel: candidates (by their kernel) or other nodes.
  const consumerSets = new Map<number, Set<Candidate | Node>>();
  const owner = new Map<number, Candidate>();
  for (const c of candidates) for (const n of c.nodes) owner.set(n.id, c);
  for (const c of candidates) if (c.unit.kind === "reduce") owner.set(c.at, c);
  const consumersOf = (id: number): Set<Candidate | Node> => {
    let set = consumerSets.get(id);
    if (set) return set;
    set = new Set();
    const visit = (v: number): void => {
      for (const u of users.get(v) ?? []) {
        if (VIEW_OPS.has(u.op) && plan.inlined.has(u.id)) visit(u.id);
        else if (owner.has(u.id)) set!.add(owner.get(u.id)!);
        else {
          set!.add(u);
          if (u.op === "reshape") visit(u.id); // may alias its input's buffer
        }
      }
    };
    visit(id);
    consumerSets.set(id, set);
    return set;
  };

  // 2. Clusters, merged along reads and between sibling reductions while every rule holds.
  const cluster = new Map<Candidate, Candidate[]>(candidates.map((c) => [c, [c]]));
  const clusterOf = new Map<Candidate, Candidate>(candidates.map((c) => [c, c]));
  const end = (members: readonly Candidate[]): number => Math.max(...members.map((m) => pos.get(m.at)!));
  const runsAt = (x: Candidate | Node): number => ("unit" in x ? end(cluster.get(clusterOf.get(x)!)!) : pos.get(x.id)!);
  const keyOfCluster = (members: readonly Candidate[]): string | undefined => members.find((m) => m.key)?.key;
  /** S and A of a cluster, from its (first) reduction */
  const rowsOf = (members: readonly Candidate[]): { shape: Shape; axes: number[] } => {
    const red = members.find((m) => m.unit.kind === "reduce")!.unit as { readonly node: Node };
    const shape = byId.get(red.node.inputs[0])!.shape;
    return { shape, axes: [...reduceAxes(red.node.attrs, shape.length)].sort((x, y) => x - y) };
  };

  const tryMerge = (a: Candidate, b: Candidate): boolean => {
    const ca = clusterOf.get(a)!;
    const cb = clusterOf.get(b)!;
    if (ca === cb) return false;
    const members = [...cluster.get(ca)!, ...cluster.get(cb)!];
    const keys = new Set(members.map((m) => m.key).filter((k) => k !== undefined));
    if (keys.size !== 1) return false;
    const { shape, axes } = rowsOf(members);
    if (!legal(members, shape, axes)) return false;
    cluster.set(ca, members);
    cluster.delete(cb);
    for (const m of members) clusterOf.set(m, ca);
    return true;
  };

  /** Every member row-local under (S, A), every link between members a read the kernel can serve,
   *  every outside consumer later than the kernel, and the bindings within the device's limit. */
  const legal = (members: readonly Candidate[], shape: Shape, axes: readonly number[]): boolean => {
    const rowShape = squeeze(shape.map((d, i) => (axes.includes(i) ? 1 : d)));
    const r = prod(axes.map((a) => shape[a]));
    const inside = new Set(members.flatMap((m) => m.values));
    const place = (m: Candidate): "reduce" | "row" | "element" | undefined => {
      if (m.unit.kind === "reduce") return m.key === keyOf(shape, axes) ? "reduce" : undefined;
      if (sameShape(m.shape, shape)) return "element";
      return sameShape(squeeze(m.shape), rowShape) ? "row" : undefined;
    };
    const placeOfValue = (v: number): "row" | "element" => {
      const m = producerOf.get(v)!;
      return place(m) === "element" ? "element" : "row"; // a reduction's value is one per row
    };
    for (const m of members) {
      const where = place(m);
      if (!where) return false;
      const reader = where === "row" ? "row" : "element"; // a reduction reads its input per element
      for (const rd of readsOf.get(m)!) {
        if (!inside.has(rd.value)) continue;
        const valueShape = byId.get(rd.value)!.shape;
        if (!readable(reader, placeOfValue(rd.value), rd.chain, valueShape, shape, axes, r)) return false;
      }
    }
    const last = end(members);
    const stores: number[] = [];
    for (const v of inside) {
      let read = outputs.has(v);
      for (const c of consumersOf(v)) {
        if ("unit" in c && members.includes(c)) continue;
        if (runsAt(c) <= last) return false;
        read = true;
      }
      if (read) stores.push(v);
    }
    const reads = new Set(members.flatMap((m) => readsOf.get(m)!.map((rd) => rd.value)).filter((v) => !inside.has(v)));
    const bound = [...reads, ...stores].map((v) => byId.get(v)!);
    return bindingSlots(bound, limits) <= limits.maxStorageBuffersPerShaderStage;
  };

  // Links first (a reduction with what feeds it and what reads its result), in schedule order …
  for (const c of candidates) {
    for (const rd of readsOf.get(c)!) {
      const p = producerOf.get(rd.value);
      if (p && p !== c) tryMerge(p, c);
    }
  }
  // … then reductions over the same rows that nothing links (dγ and dβ of a norm).
  const reductions = candidates.filter((c) => c.key);
  for (let i = 0; i < reductions.length; i++) {
    for (let j = i + 1; j < reductions.length; j++) {
      if (reductions[i].key === reductions[j].key && tryMerge(reductions[i], reductions[j])) break;
    }
  }

  // 3. The row kernels, and the plan without the kernels they absorbed.
  const inlined = new Set(plan.inlined);
  const groups = new Map(plan.groups);
  const prologues = new Map(plan.prologues);
  const computedBy = new Map(plan.computedBy);
  const rows = new Map<number, RowGroup>();
  for (const members of cluster.values()) {
    if (members.length < 2 || !keyOfCluster(members)) continue;
    members.sort((a, b) => pos.get(a.at)! - pos.get(b.at)!);
    const { shape, axes } = rowsOf(members);
    const inside = new Set(members.flatMap((m) => m.values));
    const root = byId.get(members.at(-1)!.at)!;
    const stores: Node[] = [];
    for (const v of inside) {
      const outside = [...consumersOf(v)].some((c) => !("unit" in c && members.includes(c)));
      if (outside || outputs.has(v)) stores.push(byId.get(v)!);
      else inlined.add(v);
    }
    stores.sort((a, b) => pos.get(a.id)! - pos.get(b.id)!);
    for (const m of members) {
      if (m.unit.kind === "reduce") prologues.delete(m.at);
      else groups.delete(m.at);
      computedBy.delete(m.at);
    }
    for (const s of stores) if (s.id !== root.id) computedBy.set(s.id, root.id);
    const readSet = new Set(
      members.flatMap((m) => readsOf.get(m)!.map((rd) => rd.value)).filter((v) => !inside.has(v)),
    );
    const units = members.map((m): RowUnit => {
      if (m.unit.kind === "reduce") return m.unit;
      return { kind: sameShape(m.shape, shape) ? "element" : "row", group: m.unit.group };
    });
    rows.set(root.id, { root, shape, axes, units, reads: [...readSet].map((id) => byId.get(id)!), stores });
  }
  return { ...plan, inlined, groups, prologues, computedBy, rows };
}

/**
 * Whether a reader computed per row or per element of a row can read a member value computed per row
 * or per element, through `chain` (inlined views, reader side first): the view must map each index the
 * reader is at to the same row (a reshape keeps the flat order; a broadcast of a per-row value along A
 * gives the row's value).
 */
function readable(
  reader: "row" | "element",
  value: "row" | "element",
  chain: readonly Node[],
  valueShape: Shape,
  shape: Shape,
  axes: readonly number[],
  r: number,
): boolean {
  const reshapesOnly = chain.every((v) => v.op === "reshape");
  if (reader === value) return reshapesOnly;
  if (reader === "row") return false; // a per-element value is not held once the row's loops end
  // rows of one element: the row's value is the element's; a scalar is every element's when there is one row
  if (reshapesOnly) return r === 1 || (prod(valueShape) === 1 && prod(shape) === r);
  // per-element reader of a per-row value: reshapes, one broadcast along A from S with A set to 1, reshapes
  const b = chain.findIndex((v) => v.op === "broadcast");
  if (b < 0 || chain.some((v, k) => k !== b && v.op !== "reshape")) return false;
  const out = chain[b].shape;
  if (!sameShape(out, shape)) return false;
  return broadcastsAlong(chain[b + 1]?.shape ?? valueShape, shape, axes);
}

/** `input` (right-aligned, numpy style) broadcast to `shape` only along `axes`, or where it is 1 anyway. */
function broadcastsAlong(input: Shape, shape: Shape, axes: readonly number[]): boolean {
  const padded = [...Array(shape.length - input.length).fill(1), ...input];
  return padded.every((d, i) => d === shape[i] || (d === 1 && (axes.includes(i) || shape[i] === 1)));
}
