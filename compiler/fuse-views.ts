// fuse-views.ts: views that feed matmuls, concats and pads become strides of their loads (strided.ts)
// instead of kernels: the permutes that split attention heads, a scan step's slice of a sequence joined
// back into a concat, a broadcast weight. fuse.ts inlines a view only when every consumer is elementwise;
// this pass, run after it, also inlines the views between such an input and stored memory when strides
// describe the whole chain, every other consumer of them can read a view (elementwise work, or another
// reader of strides that can), and the stored value is one binding (a value bound as windows is indexed
// per window, not by strides).
import { type Graph, type Node, isFed } from "./ir.js";
import type { DeviceLimits } from "./limits.js";
import { opSpec } from "./ops/index.js";
import { matmulLayouts, permutedLayout, storedView } from "./strided.js";
import { bindingSlots } from "./wgsl/windows.js";

/** Ops whose kernels read their inputs through strides (wgsl/matmul.ts, wgsl/movement.ts). */
export const STRIDED_READERS: ReadonlySet<string> = new Set(["matmul", "concat", "pad"]);

export function inlineViews(
  g: Graph,
  byId: ReadonlyMap<number, Node>,
  users: ReadonlyMap<number, readonly Node[]>,
  inlined: Set<number>,
  outputs: ReadonlySet<number>,
  views: ReadonlySet<string>,
  limits: DeviceLimits,
): void {
  const isView = (n: Node): boolean => views.has(n.op);
  /** whether `r` (a matmul, concat or pad) can read every input through the inlined views and `extra` */
  const readable = (r: Node, extra: ReadonlySet<number>): boolean => {
    const viewed = (id: number): boolean => isView(byId.get(id)!) && (inlined.has(id) || extra.has(id));
    const stored = r.inputs.map((i) => storedView(i, byId, viewed));
    if (stored.some((s) => !s || inlined.has(s.source.id) || bindingSlots([s.source], limits) !== 1)) return false;
    if (r.op !== "matmul") return true;
    const [a, b] = r.inputs.map((i) => byId.get(i)!);
    return matmulLayouts(r, a, b, stored[0]!.view, stored[1]!.view) !== undefined;
  };
  /** whether `u`, a consumer of a view being inlined, reads it through index arithmetic */
  const reads = (u: Node, extra: ReadonlySet<number>): boolean => {
    if (extra.has(u.id) || opSpec(u.op).kind === "elementwise") return true;
    if (STRIDED_READERS.has(u.op)) return readable(u, extra);
    // a view already inlined: every consumer behind it reads through the longer chain
    return isView(u) && inlined.has(u.id) && (users.get(u.id) ?? []).every((w) => reads(w, extra));
  };
  for (const r of g.nodes) {
    if (!STRIDED_READERS.has(r.op)) continue;
    for (const operand of r.inputs) {
      // the views between the operand and stored memory that still take a kernel or share a buffer
      const chain: Node[] = [];
      let x = byId.get(operand)!;
      while (isView(x) && !inlined.has(x.id) && !outputs.has(x.id) && !isFed(x)) {
        chain.push(x);
        x = byId.get(x.inputs[0])!;
      }
      // a reshape at the bottom shares its input's buffer: read as stored (other slices of it stay apart)
      while (chain.at(-1)?.op === "reshape") chain.pop();
      if (chain.length === 0) continue;
      const extra = new Set(chain.map((c) => c.id));
      if (chain.every((c) => (users.get(c.id) ?? []).every((u) => reads(u, extra))))
        for (const c of chain) inlined.add(c.id);
    }
  }
}

/**
 * Matmuls whose one consumer is a permute that takes a kernel (it reads the matmul's result as a whole,
 * not inside elementwise work): the matmul stores its result permuted, straight into the permute's
 * buffer — attention's heads merged back, [B, H, T, D] to [B, T, H, D]. Not for a matmul with an
 * epilogue, which reads its other inputs at C's own index. Returns permute id → matmul id.
 */
export function permutedStores(
  g: Graph,
  byId: ReadonlyMap<number, Node>,
  users: ReadonlyMap<number, readonly Node[]>,
  inlined: ReadonlySet<number>,
  epilogues: ReadonlyMap<number, unknown>,
  outputs: ReadonlySet<number>,
  limits: DeviceLimits,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const mm of g.nodes) {
    const us = users.get(mm.id) ?? [];
    if (mm.op !== "matmul" || us.length !== 1 || outputs.has(mm.id) || epilogues.has(mm.id)) continue;
    const u = us[0];
    if (u.op !== "permute" || inlined.has(u.id) || bindingSlots([u], limits) !== 1) continue;
    const [a, b] = mm.inputs.map((i) => byId.get(i)!);
    if (permutedLayout(mm, a, b, u.attrs.perm ?? [], u.shape)) out.set(u.id, mm.id);
  }
  return out;
}
