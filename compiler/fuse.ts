// fuse.ts: decides which nodes get a kernel of their own. Elementwise chains are fused: a producer
// with a single elementwise consumer of its shape (or a scalar) is computed inside that consumer's
// kernel; `full` constants become literals; broadcast, permute, slice and reshape whose consumers are
// all elementwise become index arithmetic on the loads (views) instead of copies. No work is
// duplicated: a value with several consumers is computed once (views and literals only re-index).
// A group never binds more storage buffers than the device allows: past the limit, producers are
// given kernels of their own again. With fusion off every node is its own kernel (the A/B baseline).
import { type Graph, type Node, isFed } from "./ir.js";
import type { DeviceLimits } from "./limits.js";
import { opSpec } from "./ops/index.js";
import { sameShape } from "./shape.js";

export const VIEW_OPS: ReadonlySet<string> = new Set(["broadcast", "permute", "slice", "reshape"]);

export interface FusedGroup {
  readonly root: Node;
  /** elementwise nodes computed in the kernel, inputs before users, root last */
  readonly nodes: readonly Node[];
  /** materialized nodes whose buffers the kernel reads, in binding order */
  readonly reads: readonly Node[];
}

export interface FusionPlan {
  /** nodes computed without a kernel or buffer of their own (inside a consumer, as a view or literal) */
  readonly inlined: ReadonlySet<number>;
  /** kernels of elementwise roots, by root id */
  readonly groups: ReadonlyMap<number, FusedGroup>;
  /** elementwise groups a reduction computes as it reads its input, by reduction id */
  readonly prologues: ReadonlyMap<number, FusedGroup>;
  /** elementwise groups a matmul applies to its results before storing them (bias, activation,
   *  residual, scale), by matmul id; the kernel runs where the group's root would and writes its buffer */
  readonly epilogues: ReadonlyMap<number, FusedGroup>;
}

const isElementwise = (n: Node): boolean => opSpec(n.op).kind === "elementwise";

export function planFusion(g: Graph, limits: DeviceLimits, enabled = true): FusionPlan {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const users = new Map<number, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) users.set(i, [...(users.get(i) ?? []), n]);
  const outputs = new Set(g.outputs.map((o) => o.id));
  const inlined = new Set<number>();
  if (enabled) {
    // Consumers before producers, so a view knows whether all its users were themselves inlinable.
    for (let k = g.nodes.length - 1; k >= 0; k--) {
      const n = g.nodes[k];
      if (isFed(n) || outputs.has(n.id)) continue;
      const us = users.get(n.id) ?? [];
      if (us.length === 0) continue;
      const intoElementwiseOrView = us.every((u) => isElementwise(u) || (VIEW_OPS.has(u.op) && inlined.has(u.id)));
      if (n.op === "full" || VIEW_OPS.has(n.op)) {
        if (intoElementwiseOrView) inlined.add(n.id);
      } else if (isElementwise(n) && us.length === 1 && isElementwise(us[0]) && (n.shape.length === 0 || sameShape(n.shape, us[0].shape))) {
        inlined.add(n.id);
      } else if (isElementwise(n) && n.op !== "full" && us.length === 1 && opSpec(us[0].op).kind === "reduce") {
        inlined.add(n.id); // the reduction's prologue: computed as the reduction reads it
      }
    }
  }
  const groups = new Map<number, FusedGroup>();
  const maxReads = limits.maxStorageBuffersPerShaderStage - 1;
  const place = (n: Node): void => {
    let group = collect(n, byId, inlined);
    // Too many buffers for one kernel: the inlined producer nearest the root gets a kernel of its own.
    while (group.reads.length > maxReads) {
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
    while (group.reads.length > maxReads) {
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
      if (opSpec(n.op).kind !== "matmul" || n.dtype !== "f32" || outputs.has(n.id) || us.length !== 1) continue;
      const root = rootOf.get(us[0].id);
      const group = root === undefined ? undefined : groups.get(root);
      if (!group || !isElementwise(us[0]) || !sameShape(us[0].shape, n.shape) || !sameShape(group.root.shape, n.shape)) continue;
      if (group.nodes.some((x) => x.shape.length !== 0 && !sameShape(x.shape, n.shape))) continue;
      if (group.reads.filter((r) => r.id !== n.id).length + 3 > limits.maxStorageBuffersPerShaderStage) continue;
      if ([...epilogues.values()].includes(group)) continue; // one matmul per group
      epilogues.set(n.id, group);
      groups.delete(root!);
    }
  }
  return { inlined, groups, prologues, epilogues };
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
  return { root, nodes, reads };
}
