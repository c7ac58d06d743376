// fuse.ts: decides which nodes get a kernel of their own. Elementwise chains are fused: a producer
// with a single elementwise consumer of its shape (or a scalar) is computed inside that consumer's
// kernel; `full` constants become literals; broadcast, permute, slice and reshape whose consumers are
// all elementwise become index arithmetic on the loads (views) instead of copies — as do views that feed
// matmuls, concats and pads, where strides describe them (fuse-views.ts). No work is
// duplicated: a value with several consumers is computed once (views and literals only re-index), unless
// it is a single element computed from fed values, which each consumer recomputes for less than a launch.
// A group never binds more storage buffers than the device allows: past the limit, producers are
// given kernels of their own again. Kernels of the same shape that feed one another are then merged
// into one kernel with several outputs (an optimizer's moments and parameter, a norm's statistics), when
// that moves no consumer before its producer. With fusion off every node is its own kernel (the A/B
// baseline).
import { type Graph, type Node, isFed } from "./ir.js";
import type { DeviceLimits } from "./limits.js";
import { opSpec, viewOps } from "./ops/index.js";
import { type Shape, prod, sameShape } from "./shape.js";
import { isFloat } from "./dtype.js";
import { RANDOM_OPS } from "./ops/sources.js";
import { bindingSlots } from "./wgsl/windows.js";
import { inlineViews, permutedStores } from "./fuse-views.js";

export const VIEW_OPS: ReadonlySet<string> = new Set(viewOps());

/** Elements of the largest view a reduction reads through its indices instead of a copy. A cost rule:
 *  a reduction runs on few invocations and pays the view's index arithmetic (a division and a remainder
 *  per axis) on every element it reads, where a copy kernel is spread over many and its reduction reads
 *  memory in order; the copy's dispatch costs ≈ 20–40 µs on llvmpipe, a few thousand elements' index
 *  arithmetic on one invocation. At Mirasol tiny's batch 64 (views of 16k–65k elements) the step was no
 *  faster without the copies; a TTM step's per-chunk slices are 128 elements. */
export const REDUCTION_VIEW_MAX = 4096;

export interface FusedGroup {
  readonly root: Node;
  /** elementwise nodes computed in the kernel, inputs before users, root last */
  readonly nodes: readonly Node[];
  /** materialized nodes whose buffers the kernel reads, in binding order */
  readonly reads: readonly Node[];
  /** nodes whose values the kernel stores, in binding order after the reads: [root] unless kernels
   *  were merged, when every member read outside the kernel (or a graph output) is stored */
  readonly stores: readonly Node[];
}

/** One kernel of the elementwise plan that a row kernel absorbs. */
export type RowUnit =
  | { readonly kind: "reduce"; readonly node: Node; readonly prologue?: FusedGroup }
  | { readonly kind: "row"; readonly group: FusedGroup } // shape K: computed once per row
  | { readonly kind: "element"; readonly group: FusedGroup }; // shape S: computed per element of a row

export interface RowGroup {
  /** the member the kernel runs at (the last in schedule order) */
  readonly root: Node;
  readonly shape: Shape; // S, the reduced tensors' shape
  readonly axes: readonly number[]; // A, sorted
  /** members in schedule order */
  readonly units: readonly RowUnit[];
  /** materialized values the kernel reads (their binding order is codegen's) */
  readonly reads: readonly Node[];
  /** member values stored (read outside the kernel, or graph outputs), in binding order after the reads */
  readonly stores: readonly Node[];
}

export interface FusionPlan {
  /** nodes computed without a kernel or buffer of their own (inside a consumer, as a view or literal) */
  readonly inlined: ReadonlySet<number>;
  /** kernels of elementwise roots, by root id */
  readonly groups: ReadonlyMap<number, FusedGroup>;
  /** elementwise groups a reduction computes as it reads its input, by reduction id */
  readonly prologues: ReadonlyMap<number, FusedGroup>;
  /** members of merged kernels stored by a kernel whose root is another node: member → that root */
  readonly computedBy: ReadonlyMap<number, number>;
  /** elementwise groups a matmul applies to its results before storing them (bias, activation,
   *  residual, scale), by matmul id; the kernel runs where the group's root would and writes its buffer */
  readonly epilogues: ReadonlyMap<number, FusedGroup>;
  /** row kernels (fuse-rows.ts), by the node they run at; empty until the plan-rows pass */
  readonly rows: ReadonlyMap<number, RowGroup>;
  /** permutes whose value the matmul they read stores directly, permuted (fuse-views.ts): permute id →
   *  matmul id; the matmul has no buffer or kernel of its own and runs where the permute would */
  readonly permutedStores: ReadonlyMap<number, number>;
  /** two matmuls computed back to back in one kernel (fuse-chains.ts), by the node whose value the kernel
   *  computes last (the second's epilogue root, or the second), which has no kernel of its own; empty until
   *  the plan-chains pass */
  readonly chains: ReadonlyMap<number, Chain>;
  /** pairs of matmuls, one reading the other's value, that plan-chains left as two kernels, and why */
  readonly chainMisses?: readonly ChainMiss[];
}

/** A matmul reading another's value (through its epilogue, or a row kernel) not computed with it. */
export interface ChainMiss {
  readonly first: number;
  readonly second: number;
  /** rows, and the hidden value's columns: m × n1 elements a workgroup-memory chain would hold */
  readonly m: number;
  readonly n1: number;
  readonly why: string;
}

/** A matmul whose A is another matmul's value (through its epilogue), both in one kernel. */
export interface Chain {
  readonly first: number;
  readonly second: number;
  /** the first's value the second reads */
  readonly hidden: number;
  /** the first's values the kernel stores for readers outside it */
  readonly keep: readonly number[];
  /** the node the kernel runs before: the one its key names, or the first outside reader of `keep` */
  readonly before: number;
  /** a row kernel computing the first's A, run inside the chain (its stores are the chain's too) */
  readonly prologue?: RowGroup;
}

const isElementwise = (n: Node): boolean => opSpec(n.op).kind === "elementwise";

/** An elementwise value this many times larger than what it reads, and of at least EXPANSION_MIN elements,
 *  is recomputed where it is read rather than stored: the point is memory, so small ones keep the kernels
 *  they would have (one stored mask feeding two selects lets both merge into one kernel). */
const EXPANSION = 16;
const EXPANSION_MIN = 1 << 20;

export function planFusion(g: Graph, limits: DeviceLimits, enabled = true): FusionPlan {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const users = new Map<number, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) users.set(i, [...(users.get(i) ?? []), n]);
  const outputs = new Set(g.outputs.map((o) => o.id));
  const inlined = new Set<number>();
  // One-element elementwise values computed from fed values and literals only: cheaper to recompute in
  // each consumer than to launch a kernel for, and outside every other kernel's plan.
  const fromFed = new Set<number>();
  const cheap = (id: number): boolean => {
    const x = byId.get(id)!;
    return isFed(x) || x.op === "full" || fromFed.has(id) || (VIEW_OPS.has(x.op) && cheap(x.inputs[0]));
  };
  for (const n of g.nodes)
    if (isElementwise(n) && prod(n.shape) === 1 && n.inputs.length > 0 && n.inputs.every(cheap)) fromFed.add(n.id);
  // Elements an elementwise value reads from stored values, through views and other elementwise values
  // (an iota or a constant reads none): what recomputing it in a consumer costs in loads.
  const reads = new Map<number, number>();
  const readSize = (n: Node): number => {
    const hit = reads.get(n.id);
    if (hit !== undefined) return hit;
    const through = (x: Node): number => {
      if (x.op === "full" || x.op === "iota") return 0;
      if (VIEW_OPS.has(x.op)) return through(byId.get(x.inputs[0])!);
      if (x.op in RANDOM_OPS) return prod(x.shape); // costly to recompute: counted as if stored
      return isElementwise(x) && !isFed(x) ? readSize(x) : prod(x.shape);
    };
    const size = n.inputs.reduce((a, i) => a + through(byId.get(i)!), 0);
    reads.set(n.id, size);
    return size;
  };
  if (enabled) {
    // Consumers before producers, so a view knows whether all its users were themselves inlinable.
    for (let k = g.nodes.length - 1; k >= 0; k--) {
      const n = g.nodes[k];
      if (isFed(n) || outputs.has(n.id)) continue;
      const us = users.get(n.id) ?? [];
      if (us.length === 0) continue;
      const atIndex = (u: Node): boolean => isElementwise(u) || (VIEW_OPS.has(u.op) && inlined.has(u.id));
      const intoElementwiseOrView = us.every(atIndex);
      if (n.op === "full" || VIEW_OPS.has(n.op)) {
        // a small view a reduction reads is that reduction's prologue: it reads through the view's
        // indices (not an empty one, whose index arithmetic would divide by its zero-length axis)
        const size = prod(n.shape);
        const intoReductions =
          VIEW_OPS.has(n.op) &&
          size > 0 &&
          size <= REDUCTION_VIEW_MAX &&
          us.every((u) => atIndex(u) || opSpec(u.op).kind === "reduce");
        if (intoElementwiseOrView || intoReductions) inlined.add(n.id);
      } else if (
        isElementwise(n) &&
        us.length === 1 &&
        isElementwise(us[0]) &&
        (n.shape.length === 0 || sameShape(n.shape, us[0].shape))
      ) {
        inlined.add(n.id);
      } else if (isElementwise(n) && n.op !== "full" && us.length === 1 && opSpec(us[0].op).kind === "reduce") {
        inlined.add(n.id); // the reduction's prologue: computed as the reduction reads it
      } else if (fromFed.has(n.id) && intoElementwiseOrView) {
        inlined.add(n.id); // one value (a decode step's position arithmetic): recomputed by each consumer
      } else if (
        isElementwise(n) &&
        !(n.op in RANDOM_OPS) &&
        us.every((u) => isElementwise(u) || opSpec(u.op).kind === "reduce") &&
        prod(n.shape) >= EXPANSION_MIN &&
        prod(n.shape) >= EXPANSION * Math.max(1, readSize(n))
      ) {
        // an expansion — a pairwise comparison over broadcasts and iotas, 16× or more the size of what it
        // reads and a million elements or more — is recomputed by each consumer rather than stored (a
        // sampler's [B, V, V] order over a 32,000-token vocabulary would be 3.8 GiB)
        inlined.add(n.id);
      }
    }
    inlineViews(g, byId, users, inlined, outputs, VIEW_OPS, limits); // views matmuls, concats and pads read by strides
  }
  const groups = new Map<number, FusedGroup>();
  const maxSlots = limits.maxStorageBuffersPerShaderStage;
  const place = (n: Node): void => {
    let group = collect(n, byId, inlined);
    // Too many buffers for one kernel: the inlined producer nearest the root gets a kernel of its own.
    while (bindingSlots([...group.reads, n], limits) > maxSlots) {
      const victim = group.nodes.filter((c) => c !== n).at(-1);
      if (!victim) break;
      inlined.delete(victim.id);
      place(victim);
      group = collect(n, byId, inlined);
    }
    groups.set(n.id, group);
  };
  for (const n of g.nodes) if (isElementwise(n) && !inlined.has(n.id)) place(n);
  const prologues = new Map<number, FusedGroup>();
  for (const n of g.nodes) {
    if (opSpec(n.op).kind !== "reduce" || !inlined.has(n.inputs[0])) continue;
    const producer = byId.get(n.inputs[0])!;
    let group = collect(producer, byId, inlined);
    while (bindingSlots([...group.reads, n], limits) > maxSlots) {
      const victim = group.nodes.at(-2) ?? producer;
      inlined.delete(victim.id);
      place(victim);
      if (victim === producer) break;
      group = collect(producer, byId, inlined);
    }
    if (inlined.has(producer.id)) prologues.set(n.id, group);
  }
  // A matmul whose only consumer is elementwise of its shape computes that consumer's group in its
  // kernel: the group's root is then produced by the matmul kernel and needs no kernel of its own.
  const epilogues = new Map<number, FusedGroup>();
  const rootOf = new Map<number, number>();
  for (const [root, group] of groups) for (const m of group.nodes) rootOf.set(m.id, root);
  if (enabled) {
    for (const n of g.nodes) {
      const us = users.get(n.id) ?? [];
      if (opSpec(n.op).kind !== "matmul" || !isFloat(n.dtype) || outputs.has(n.id) || us.length !== 1) continue;
      const root = rootOf.get(us[0].id);
      const group = root === undefined ? undefined : groups.get(root);
      if (!group || !isElementwise(us[0]) || !sameShape(us[0].shape, n.shape) || !sameShape(group.root.shape, n.shape))
        continue;
      if (group.nodes.some((x) => prod(x.shape) !== 1 && !sameShape(x.shape, n.shape))) continue;
      // A, B and C beside the group's other reads
      const [a, b] = n.inputs.map((i) => byId.get(i)!);
      const others = group.reads.filter((r) => r.id !== n.id);
      if (bindingSlots([...others, a, b, n], limits) > limits.maxStorageBuffersPerShaderStage) continue;
      if ([...epilogues.values()].includes(group)) continue; // one matmul per group
      epilogues.set(n.id, group);
      groups.delete(root!);
    }
  }
  const computedBy = enabled ? mergeKernels(g, groups, users, outputs, inlined, limits) : new Map<number, number>();
  if (enabled) absorbIntoEpilogues(groups, epilogues, byId, inlined, limits, computedBy);
  const permuted = enabled
    ? permutedStores(g, byId, users, inlined, epilogues, outputs, limits)
    : new Map<number, number>();
  return {
    inlined,
    groups,
    prologues,
    epilogues,
    computedBy,
    rows: new Map(),
    permutedStores: permuted,
    chains: new Map(),
  };
}

/**
 * An elementwise kernel that reads an epilogue's root at its own index (no view) and otherwise only fed
 * values joins that epilogue: the matmul's kernel computes it too and stores both (a bias add the backward
 * pass keeps, and the activation after it). Its value is then ready earlier than before, which no
 * consumer minds; everything it reads is there before the matmul runs.
 */
function absorbIntoEpilogues(
  groups: Map<number, FusedGroup>,
  epilogues: Map<number, FusedGroup>,
  byId: ReadonlyMap<number, Node>,
  inlined: ReadonlySet<number>,
  limits: DeviceLimits,
  computedBy: Map<number, number>,
): void {
  const merged = new Set(computedBy.values()); // roots of merged kernels (what is added below is no group's)
  for (const [m, e] of epilogues) {
    const mm = byId.get(m)!;
    const r = e.root;
    for (const [gr, group] of groups) {
      if (computedBy.has(gr) || merged.has(gr)) continue; // a merged kernel
      if (!group.reads.includes(r) || readsThroughViews(group, byId, inlined).has(r.id)) continue;
      if (group.stores.length !== 1 || !isFloat(group.root.dtype)) continue;
      if (group.reads.some((x) => x !== r && !isFed(x))) continue;
      if (group.nodes.some((x) => prod(x.shape) !== 1 && !sameShape(x.shape, mm.shape))) continue;
      const reads = [...new Set([...e.reads, ...group.reads.filter((x) => x !== r)])];
      const stores = [...e.stores, group.root];
      // bindings: A, B, the reads besides the matmul's result, one per store
      const operands = byId.get(m)!.inputs.map((i) => byId.get(i)!);
      const bindings = bindingSlots([...operands, ...reads.filter((x) => x.id !== m), ...stores], limits);
      if (bindings > limits.maxStorageBuffersPerShaderStage) continue;
      const nodes = [...new Map([...e.nodes, ...group.nodes].map((n) => [n.id, n])).values()];
      epilogues.set(m, { root: r, nodes, reads, stores });
      groups.delete(gr);
      computedBy.set(gr, r.id);
      break; // one per epilogue
    }
  }
}

/** The elementwise nodes computed in `root`'s kernel and the buffers it reads. */
function collect(root: Node, byId: ReadonlyMap<number, Node>, inlined: ReadonlySet<number>): FusedGroup {
  const nodes: Node[] = [];
  const reads: Node[] = [];
  const seen = new Set<number>();
  const visitValue = (id: number): void => {
    const n = byId.get(id)!;
    if (!inlined.has(id)) {
      if (!reads.includes(n)) reads.push(n);
      return;
    }
    if (n.op === "full") return; // a literal
    if (VIEW_OPS.has(n.op)) return visitValue(n.inputs[0]); // index arithmetic over its input
    visitNode(n);
  };
  const visitNode = (n: Node): void => {
    if (seen.has(n.id)) return;
    seen.add(n.id);
    for (const i of n.inputs) visitValue(i);
    nodes.push(n);
  };
  visitNode(root);
  return { root, nodes, reads, stores: [root] };
}

/** Materialized values `group` reads through a view (re-indexed), which a merge must not compute in
 *  registers (a register holds the value at the kernel's own index only) and a store must not
 *  overwrite in place. */
export function readsThroughViews(
  group: FusedGroup,
  byId: ReadonlyMap<number, Node>,
  inlined: ReadonlySet<number>,
): Set<number> {
  const out = new Set<number>();
  const walk = (id: number, viewed: boolean): void => {
    const n = byId.get(id)!;
    if (!inlined.has(id)) {
      if (viewed) out.add(id);
    } else if (VIEW_OPS.has(n.op)) walk(n.inputs[0], true);
  };
  for (const n of group.nodes) for (const i of n.inputs) walk(i, false);
  return out;
}

/**
 * Merges elementwise kernels of one shape where one reads another's result directly: the merged kernel
 * computes every member at each index once and stores the members read elsewhere. It runs where its
 * last member ran, so a merge is made only when every consumer outside it runs later still, and only
 * within the device's storage-buffer limit. Updates `groups` and `inlined` (members no longer stored);
 * returns stored members that are not the merged kernel's root, with that root.
 */
function mergeKernels(
  g: Graph,
  groups: Map<number, FusedGroup>,
  users: ReadonlyMap<number, Node[]>,
  outputs: ReadonlySet<number>,
  inlined: Set<number>,
  limits: DeviceLimits,
): Map<number, number> {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const pos = new Map(g.nodes.map((n, k) => [n.id, k]));
  const owner = new Map<number, number>(); // node computed in a group kernel → that group's root
  for (const [r, group] of groups) for (const n of group.nodes) owner.set(n.id, r);
  // What reads a value, seen through inlined views and aliasing reshapes: group roots or other nodes.
  // Fixed while merging (`inlined` changes only afterwards), so each root's set is computed once.
  const collectConsumers = (id: number, acc: Set<number>): Set<number> => {
    for (const u of users.get(id) ?? []) {
      if (VIEW_OPS.has(u.op) && inlined.has(u.id)) collectConsumers(u.id, acc);
      else if (owner.has(u.id)) acc.add(owner.get(u.id)!);
      else {
        acc.add(u.id);
        if (u.op === "reshape") collectConsumers(u.id, acc); // may alias its input's buffer
      }
    }
    return acc;
  };
  const consumerSets = new Map<number, ReadonlySet<number>>();
  const consumers = (id: number): ReadonlySet<number> => {
    let set = consumerSets.get(id);
    if (!set) consumerSets.set(id, (set = collectConsumers(id, new Set())));
    return set;
  };
  const viewed = new Map([...groups].map(([r, group]) => [r, readsThroughViews(group, byId, inlined)]));
  const clusterOf = new Map([...groups.keys()].map((r) => [r, r]));
  const members = new Map([...groups.keys()].map((r) => [r, [r]]));
  const last = (c: number): number => Math.max(...members.get(c)!.map((r) => pos.get(r)!));
  const runsAt = (id: number): number => (clusterOf.has(id) ? last(clusterOf.get(id)!) : pos.get(id)!);

  const describe = (roots: readonly number[]) => {
    const inside = new Set(roots);
    const stores: number[] = [];
    const reads = new Set<number>();
    for (const r of roots) {
      const outside = [...consumers(r)].filter((c) => !inside.has(c));
      if (outside.length || outputs.has(r)) stores.push(r);
      for (const x of groups.get(r)!.reads) if (!inside.has(x.id)) reads.add(x.id);
    }
    return { stores, reads };
  };
  const tryMerge = (a: number, b: number): void => {
    if (a === b) return;
    const roots = [...members.get(a)!, ...members.get(b)!];
    const shape = byId.get(a)!.shape;
    if (shape.length === 0 || !sameShape(byId.get(b)!.shape, shape)) return;
    const inside = new Set(roots);
    if (roots.some((r) => [...viewed.get(r)!].some((v) => inside.has(v)))) return;
    const end = Math.max(...roots.map((r) => pos.get(r)!));
    for (const r of roots) for (const c of consumers(r)) if (!inside.has(c) && runsAt(c) <= end) return;
    const { stores, reads } = describe(roots);
    if (
      bindingSlots(
        [...reads, ...stores].map((id) => byId.get(id)!),
        limits,
      ) > limits.maxStorageBuffersPerShaderStage
    )
      return;
    members.set(a, roots);
    members.delete(b);
    for (const r of roots) clusterOf.set(r, a);
  };
  const order = [...groups.keys()].sort((x, y) => pos.get(x)! - pos.get(y)!);
  for (const r of order) {
    for (const read of groups.get(r)!.reads) {
      if (groups.has(read.id) && !viewed.get(r)!.has(read.id)) tryMerge(clusterOf.get(read.id)!, clusterOf.get(r)!);
    }
  }

  const computedBy = new Map<number, number>();
  for (const roots of members.values()) {
    if (roots.length === 1) continue;
    roots.sort((x, y) => pos.get(x)! - pos.get(y)!);
    const { stores, reads } = describe(roots);
    const root = roots.at(-1)!;
    const merged: FusedGroup = {
      root: byId.get(root)!,
      // a one-element value recomputed by several members is computed once in the merged kernel
      nodes: [...new Map(roots.flatMap((r) => groups.get(r)!.nodes).map((n) => [n.id, n])).values()],
      reads: [...reads].map((id) => byId.get(id)!),
      stores: stores.map((id) => byId.get(id)!),
    };
    for (const r of roots) {
      groups.delete(r);
      if (!stores.includes(r)) inlined.add(r);
      else if (r !== root) computedBy.set(r, root);
    }
    groups.set(root, merged);
  }
  return computedBy;
}
