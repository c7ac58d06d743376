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
import type { Chain, ChainMiss, FusedGroup, FusionPlan, RowGroup } from "./fuse.js";
import { type Graph, type Node, isFed, nodeById } from "./ir.js";
import type { DeviceLimits } from "./limits.js";
import { kernelMatmulDims } from "./ops/linalg.js";
import { opSpec } from "./ops/index.js";
import { isFloat } from "./dtype.js";
import { chainRowTiles } from "./wgsl/chain.js";
import { bindingSlots } from "./wgsl/windows.js";
import { sameShape } from "./shape.js";

/** Elements of the largest hidden value a chain computes (a cost rule, above). Measured on llvmpipe, 50
 *  MLPs x·W₁ → GELU → ·W₂ of width 32 → 128 → 32 chained against their two kernels each: 4 rows faster
 *  (4.5–9.9 against 6.3–12.6 ms, several runs), 32 and 64 rows even (10.7 against 10.1, 14.5 against
 *  13.9 ms), 128 rows slower (26.5 against 20.2 ms), 2,048 rows 1.4× slower. */
export const CHAIN_MAX_HIDDEN = 4096;

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
  const rows = new Map(plan.rows);
  // the row group storing each value (a layer norm's output)
  const rowOf = new Map<number, RowGroup>();
  for (const rg of plan.rows.values()) for (const v of rg.stores) rowOf.set(v.id, rg);
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
  const misses: ChainMiss[] = [];
  const dimsOf = (mm: Node) => kernelMatmulDims(byId.get(mm.inputs[0])!, byId.get(mm.inputs[1])!, mm.attrs);
  const miss = (first: Node, second: Node, why: string): void => {
    const d = dimsOf(first);
    misses.push({ first: first.id, second: second.id, m: d.batch.reduce((a, b) => a * b, d.m), n1: d.n, why });
  };
  /** the matmul whose value (or epilogue's) a value is, if any */
  const producer = (v: Node): number | undefined =>
    v.op === "matmul" && !plan.epilogues.has(v.id) ? v.id : epilogueOf.get(v.id);
  for (const second of g.nodes) {
    if (second.op !== "matmul" || used.has(second.id)) continue;
    const hidden = byId.get(second.inputs[0])!;
    if (inlined.has(hidden.id)) continue; // read through a view
    const firstId = producer(hidden);
    if (firstId === undefined) {
      // a row kernel between two products (attention's softmax): not a chain this pass forms
      const between = rowOf
        .get(hidden.id)
        ?.reads.map(producer)
        .find((x) => x !== undefined);
      if (between !== undefined) miss(byId.get(between)!, second, "a row kernel between the products");
      continue;
    }
    const first = byId.get(firstId)!;
    if (second.attrs.transA) continue; // reads every row of the first's: not blocked by rows
    if (permuted.has(second.id) || permuted.has(first.id)) {
      miss(first, second, "a product stored permuted (heads merged)");
      continue;
    }
    if (used.has(firstId)) {
      miss(first, second, "the first is in another chain");
      continue;
    }
    const e1 = plan.epilogues.get(first.id);
    const e2 = plan.epilogues.get(second.id);
    const firstValues = e1 ? e1.stores : [first];
    const outs = e2 ? e2.stores : [second];
    const at = e2 ? e2.root : second;
    if (outputs.has(hidden.id) && !firstValues.includes(hidden)) continue;
    const operands = [...first.inputs, second.inputs[1]].map((i) => byId.get(i)!);
    if (![...operands, first, second, ...firstValues, ...outs].every(float)) {
      miss(first, second, "not floats throughout");
      continue;
    }
    const d1 = kernelMatmulDims(operands[0], operands[1], first.attrs);
    const d2 = kernelMatmulDims(hidden, operands[2], second.attrs);
    if (d1.batch.length > 0 || d2.batch.length > 0) {
      miss(first, second, "batch axes (a chain takes single matrices)");
      continue;
    }
    if (d1.m !== d2.m || d1.n !== d2.k) continue;
    if (d1.m * d1.n > CHAIN_MAX_HIDDEN) {
      miss(first, second, `the hidden value is larger than the cost rule's ${CHAIN_MAX_HIDDEN} elements`);
      continue;
    }
    if (chainRowTiles(d1.m, d1.n, d2.n, limits) < 1) {
      miss(first, second, "a block of hidden rows is past workgroup memory");
      continue;
    }
    if ([at, first, ...firstValues, ...outs].some((n) => rowMembers.has(n.id))) {
      miss(first, second, "a row kernel computes part of it");
      continue;
    }
    // A row kernel computing the first's A (a layer norm before an MLP) runs inside the chain when it can
    // (rowPrologue), else the chain reads A as stored.
    const rg = rowOf.get(operands[0].id);
    const d = { first, second, hidden, e1, e2, firstValues, outs, at, operands };
    const withPrologue = rg && prologueFits(rg, first, operands[0], d1.m, d1.n, d2.n) ? fit(d, rg) : undefined;
    const found = withPrologue && typeof withPrologue !== "string" ? withPrologue : fit(d);
    if (typeof found === "string") {
      miss(first, second, found);
      continue;
    }
    const { chain, kept, reads, proKept, proInlined } = found;
    chains.set(at.id, chain);
    used.add(first.id).add(second.id);
    if (chain.prologue) used.add(chain.prologue.root.id);
    const { before } = chain;
    for (const v of [...kept, ...outs, ...proKept]) chainWrites.set(v.id, pos.get(before)! - 0.5);
    for (const r of reads) chainReads.add(r.id);
    for (const v of firstValues) {
      computedBy.delete(v.id);
      if (kept.includes(v)) computedBy.set(v.id, at.id);
      else inlined.add(v.id);
    }
    if (chain.prologue) {
      rows.delete(chain.prologue.root.id);
      for (const v of proKept) computedBy.set(v.id, at.id);
      for (const v of proInlined) {
        computedBy.delete(v.id);
        inlined.add(v.id);
      }
    }
  }

  interface Candidate {
    readonly first: Node;
    readonly second: Node;
    readonly hidden: Node;
    readonly e1?: FusedGroup;
    readonly e2?: FusedGroup;
    readonly firstValues: readonly Node[];
    readonly outs: readonly Node[];
    readonly at: Node;
    readonly operands: readonly Node[];
  }

  /** Whether row group `rg` can compute A (a store of it) for its chain: rows along its last axis only,
   *  A read as stored, and workgroup memory for A's block beside the hidden one. */
  function prologueFits(rg: RowGroup, first: Node, a: Node, m: number, n1: number, n2: number): boolean {
    if (first.attrs.transA || used.has(rg.root.id) || !isFloat(a.dtype)) return false;
    const element = rg.units.some((u) => u.kind === "element" && u.group.stores.includes(a));
    const lastAxis = rg.axes.length === 1 && rg.axes[0] === rg.shape.length - 1 && sameShape(rg.shape, a.shape);
    return element && lastAxis && chainRowTiles(m, n1, n2, limits, a.shape.at(-1)!) >= 1;
  }

  /** The chain of candidate `d` (with row prologue `rg`), or why order, bindings or in-place writes forbid
   *  it. The first's values (and the prologue's) that others read are stored by the chain:
   *  it runs before the first of those readers, or where the second would run, whichever comes first —
   *  once everything it reads exists. */
  function fit(d: Candidate, rg?: RowGroup) {
    const { first, second, hidden, e1, e2, firstValues, outs, at, operands } = d;
    const inside = (r: number): boolean => r === second.id || insideEpilogue(r, e1);
    const kept = firstValues.filter((v) => outputs.has(v.id) || (readers.get(v.id) ?? []).some((r) => !inside(r)));
    const members = new Set(rg ? rowGroupMembers(rg) : []);
    const proOutside = (v: Node): number[] =>
      (readers.get(v.id) ?? []).filter((r) => r !== first.id && !members.has(r));
    const proValues = rg?.stores ?? [];
    const proKept = proValues.filter((v) => outputs.has(v.id) || proOutside(v).length > 0);
    const proInlined = proValues.filter((v) => !proKept.includes(v));
    const early = [
      ...kept.flatMap((v) => (readers.get(v.id) ?? []).filter((r) => !inside(r))),
      ...proKept.flatMap(proOutside),
    ];
    const before = [at.id, ...early].reduce((a, b) => (pos.get(b)! < pos.get(a)! ? b : a));
    const reads = [...new Set([...operands, ...(e1?.reads ?? []), ...(e2?.reads ?? []), ...(rg?.reads ?? [])])].filter(
      (r) => r.id !== first.id && r.id !== second.id && r.id !== hidden.id && !(rg && r.id === operands[0].id),
    );
    if (reads.some((r) => ready(r) >= pos.get(before)!)) return "an input is written after the kernel must run";
    // a chain planned earlier that reads a value this one keeps took it as written where it is
    if ([...kept, ...proKept].some((v) => chainReads.has(v.id))) return "an earlier chain reads a value it keeps";
    if (inPlaceBetween(g, pos.get(rg ? rg.root.id : first.id)!, pos.get(at.id)!))
      return "a buffer is written in place between the products";
    // neither epilogue may read from memory a value this kernel writes (the prologue's, before the
    // first's; the first's, before the second's): a barrier orders workgroup memory, not buffers
    const epilogueReads = new Set([...(e1?.reads ?? []), ...(e2?.reads ?? [])].map((r) => r.id));
    if ([...kept, ...proKept].some((v) => epilogueReads.has(v.id))) return "an epilogue reads a value the chain writes";
    const bound = [...reads, ...outs, ...kept, ...proKept];
    if (bound.some((n) => bindingSlots([n], limits) > 1)) return "a value past one binding (windows)";
    if (bindingSlots(bound, limits) > limits.maxStorageBuffersPerShaderStage) return "bindings past the stage's limit";
    const chain: Chain = {
      first: first.id,
      second: second.id,
      hidden: hidden.id,
      keep: kept.map((v) => v.id),
      before,
      ...(rg ? { prologue: rg } : {}),
    };
    return { chain, kept, reads, proKept, proInlined };
  }

  return chains.size
    ? { ...plan, inlined, computedBy, chains, rows, chainMisses: misses }
    : { ...plan, chainMisses: misses };
}

/** The nodes a row group computes: its reductions and its groups' nodes. */
function rowGroupMembers(rg: RowGroup): number[] {
  return rg.units.flatMap((u) =>
    u.kind === "reduce" ? [u.node.id, ...(u.prologue?.nodes.map((n) => n.id) ?? [])] : u.group.nodes.map((n) => n.id),
  );
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
