// fuse-chains.ts: a matmul whose A operand is another matmul's value — directly or through that one's
// epilogue (bias, activation) — is computed with it in one kernel (wgsl/chain.ts): an MLP's two layers,
// and in the backward pass dY·W₂ᵀ ⊙ act′ followed by ·W₁ᵀ. The hidden value stays in workgroup memory,
// and is stored only when something else reads it (the backward pass does).
//
// Where: both products single matrices (no batch axes left once a shared weight folds the batch into
// rows), floats throughout (f16 rounded where the two kernels would store it), the hidden block of a
// workgroup's rows within workgroup memory, every binding one buffer within the stage's limit. When: the
// hidden value has at most CHAIN_MAX_HIDDEN elements — a cost rule. The chain kernel computes each element
// with a plain dot product, where a matmul kernel of its own tiles registers (and is tuned per shape), so
// large products keep their two kernels; small ones are launch-bound (a scan step's MLP over 4 tokens, a
// decoding step), where a launch is ≈ 20–40 µs on llvmpipe and 3–10 µs on real GPUs.
//
// The kernel runs where the second matmul (or its epilogue's root) would, or earlier: before the first
// node that reads one of the first's values it stores (a backward pass reads dH for a weight's gradient
// before it computes dX), provided everything the kernel reads exists by then. Nothing between the two
// matmuls may write a buffer in place.
import type { Chain, FusedGroup, FusionPlan } from "./fuse.js";
import { type Graph, type Node, isFed, nodeById } from "./ir.js";
import type { DeviceLimits } from "./limits.js";
import { kernelMatmulDims } from "./ops/linalg.js";
import { opSpec } from "./ops/index.js";
import { isFloat } from "./dtype.js";
import { chainRowTiles } from "./wgsl/chain.js";
import { bindingSlots } from "./wgsl/windows.js";

/** Elements of the largest hidden value a chain computes (a cost rule, above). */
export const CHAIN_MAX_HIDDEN = 16384;

export function planChains(g: Graph, plan: FusionPlan, limits: DeviceLimits, enabled = true): FusionPlan {
  if (!enabled) return plan;
  const byId = nodeById(g);
  const pos = new Map(g.nodes.map((n, i) => [n.id, i]));
  const readers = new Map<number, number[]>();
  for (const n of g.nodes) for (const i of new Set(n.inputs)) readers.set(i, [...(readers.get(i) ?? []), n.id]);
  const outputs = new Set(g.outputs.map((o) => o.id));
  // the matmul whose epilogue stores each value
  const epilogueOf = new Map<number, number>();
  for (const [mm, e] of plan.epilogues) for (const s of e.stores) epilogueOf.set(s.id, mm);
  const rowMembers = new Set([...plan.rows.values()].flatMap((r) => [r.root.id, ...r.stores.map((s) => s.id)]));
  const permuted = new Set(plan.permutedStores.values());
  const inlined = new Set(plan.inlined);
  const computedBy = new Map(plan.computedBy);
  const chains = new Map<number, Chain>();
  const used = new Set<number>();
  const float = (n: Node): boolean => isFloat(n.dtype);
  // where in the schedule a value is written: a fed value before everything; a value another kernel
  // stores (a merged kernel's, a row kernel's, an epilogue's absorbed one) where that kernel runs; one
  // an earlier chain stores just before that chain's `before` node
  const chainWrites = new Map<number, number>();
  const chainReads = new Set<number>();
  const ready = (v: Node): number =>
    isFed(v) ? -1 : (chainWrites.get(v.id) ?? pos.get(computedBy.get(v.id) ?? v.id)!);
  for (const second of g.nodes) {
    if (second.op !== "matmul" || second.attrs.transA || used.has(second.id) || permuted.has(second.id)) continue;
    const hidden = byId.get(second.inputs[0])!;
    if (inlined.has(hidden.id)) continue; // read through a view
    const firstId = hidden.op === "matmul" && !plan.epilogues.has(hidden.id) ? hidden.id : epilogueOf.get(hidden.id);
    if (firstId === undefined || used.has(firstId) || permuted.has(firstId)) continue;
    const first = byId.get(firstId)!;
    const e1 = plan.epilogues.get(first.id);
    const e2 = plan.epilogues.get(second.id);
    const firstValues = e1 ? e1.stores : [first];
    const outs = e2 ? e2.stores : [second];
    const at = e2 ? e2.root : second;
    if (outputs.has(hidden.id) && !firstValues.includes(hidden)) continue;
    const operands = [...first.inputs, second.inputs[1]].map((i) => byId.get(i)!);
    if (![...operands, first, second, ...firstValues, ...outs].every(float)) continue;
    const d1 = kernelMatmulDims(operands[0], operands[1], first.attrs);
    const d2 = kernelMatmulDims(hidden, operands[2], second.attrs);
    if (d1.batch.length > 0 || d2.batch.length > 0 || d1.m !== d2.m || d1.n !== d2.k) continue;
    if (d1.m * d1.n > CHAIN_MAX_HIDDEN || chainRowTiles(d1.m, d1.n, d2.n, limits) < 1) continue;
    if ([at, first, ...firstValues, ...outs].some((n) => rowMembers.has(n.id))) continue;
    // the first's values that others read are stored by the chain: it runs before the first of those
    // readers, or where the second would run, whichever comes first — once everything it reads exists
    const kept = firstValues.filter(
      (v) => outputs.has(v.id) || (readers.get(v.id) ?? []).some((r) => r !== second.id && !insideEpilogue(r, e1)),
    );
    const early = kept.flatMap((v) =>
      (readers.get(v.id) ?? []).filter((r) => r !== second.id && !insideEpilogue(r, e1)),
    );
    const before = [at.id, ...early].reduce((a, b) => (pos.get(b)! < pos.get(a)! ? b : a));
    const reads = [...new Set([...operands, ...(e1?.reads ?? []), ...(e2?.reads ?? [])])].filter(
      (r) => r.id !== first.id && r.id !== second.id && r.id !== hidden.id,
    );
    if (reads.some((r) => ready(r) >= pos.get(before)!)) continue;
    // a chain planned earlier that reads a value this one keeps took it as written where it is
    if (kept.some((v) => chainReads.has(v.id))) continue;
    if (inPlaceBetween(g, pos.get(first.id)!, pos.get(at.id)!)) continue;
    // the second's epilogue must not read a value this kernel writes
    const e2Reads = new Set((e2?.reads ?? []).map((r) => r.id));
    if (kept.some((v) => e2Reads.has(v.id))) continue;
    const bound = [...reads, ...outs, ...kept];
    if (bound.some((n) => bindingSlots([n], limits) > 1)) continue;
    if (bindingSlots(bound, limits) > limits.maxStorageBuffersPerShaderStage) continue;
    chains.set(at.id, { first: first.id, second: second.id, hidden: hidden.id, keep: kept.map((v) => v.id), before });
    used.add(first.id).add(second.id);
    for (const v of [...kept, ...outs]) chainWrites.set(v.id, pos.get(before)! - 0.5);
    for (const r of reads) chainReads.add(r.id);
    for (const v of firstValues) {
      computedBy.delete(v.id);
      if (kept.includes(v)) computedBy.set(v.id, at.id);
      else inlined.add(v.id);
    }
  }
  return chains.size ? { ...plan, inlined, computedBy, chains } : plan;
}

/** Whether node `id` is computed inside epilogue group `e` (so it reads the matmul's values there). */
function insideEpilogue(id: number, e: FusedGroup | undefined): boolean {
  return !!e && e.nodes.some((n) => n.id === id);
}

/** Whether a node strictly between positions `from` and `to` writes a buffer in place (an optimizer's
 *  update, a row write into its destination). */
function inPlaceBetween(g: Graph, from: number, to: number): boolean {
  for (let i = from + 1; i < to; i++) {
    const n = g.nodes[i];
    if (opSpec(n.op).kind === "optimizer" || n.op === "write_rows") return true;
  }
  return false;
}
