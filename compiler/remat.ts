// remat.ts: activation rematerialisation for the training step. A region is a run of forward nodes —
// one iteration of a `repeat` or one step of a `scan`, the outermost where they nest (rematRegions).
// The gradient rules of a region's nodes read its intermediates as recomputed from the values the
// forward pass keeps anyway (what the region reads, and its own values read outside it), not as the
// forward pass computed them, so the memory plan frees those as soon as the forward pass is done with
// them: a block's activations live again only while its own gradient is computed. Knows nothing of
// .mira; grad.ts asks it what a rule reads.
//
// Recomputation is lazy — a value is rebuilt when a rule first reads it, so it lands in the graph where
// the region's backward pass begins (schedule order is graph order) and only what the rules read is
// rebuilt. Each recomputation reads the kept values through a reshape to their own shape (a view: no
// copy, no kernel) marked with its region, so that common-subexpression elimination (simplify.ts),
// which would otherwise find each rebuilt node equal to the forward one, merges nothing back.
import type { GraphBuilder } from "./builder.js";
import { type Graph, IrError, type Node, isFed, nodeById } from "./ir.js";
import type { RepeatRecord, ScanRecord } from "./lower/records.js";

/** Forward nodes with ids in [start, end) of the graph being differentiated (fed nodes excepted). */
export interface RematRegion {
  readonly start: number;
  readonly end: number;
}

/** Every repeat iteration and scan step that no other contains (blocks in a repeat, steps of a scan
 *  holding their own repeats), in graph order; empty ones left out. */
export function rematRegions(el: {
  readonly repeats: readonly RepeatRecord[];
  readonly scans: readonly ScanRecord[];
}): RematRegion[] {
  const all = [...el.repeats.flatMap((r) => r.iterations), ...el.scans.flatMap((s) => s.steps)]
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const out: RematRegion[] = [];
  for (const r of all) if (!out.length || r.start >= out[out.length - 1].end) out.push({ start: r.start, end: r.end });
  return out;
}

/** What the gradient rules of the regions' nodes read, built in the differentiating builder. */
export class Recomputer {
  /** rebuilt forward node id → its region */
  private readonly regionOf = new Map<number, number>();
  /** region nodes read outside their region (or graph outputs): the forward pass keeps them */
  private readonly kept = new Set<number>();
  private readonly byId = new Map<number, Node>();
  /** per region: forward node id → the node a rule of that region reads for it */
  private readonly reads: Map<number, Node>[];

  /**
   * @param g the graph being differentiated; `regions` are ranges of its node ids
   * @param map each node of `g` → its rebuilt node in `b`
   */
  constructor(
    private readonly b: GraphBuilder,
    g: Graph,
    map: ReadonlyMap<number, Node>,
    regions: readonly RematRegion[],
  ) {
    const source = nodeById(g);
    regions.forEach((r, k) => {
      for (let id = r.start; id < r.end; id++) {
        const n = source.get(id);
        if (!n || isFed(n)) continue;
        const at = map.get(id)!.id;
        if (this.regionOf.has(at)) throw new IrError(`remat: regions overlap at node %${id}`);
        this.regionOf.set(at, k);
      }
    });
    for (const n of map.values()) {
      this.byId.set(n.id, n);
      const r = this.regionOf.get(n.id);
      for (const i of n.inputs) if (this.regionOf.has(i) && this.regionOf.get(i) !== r) this.kept.add(i);
    }
    for (const o of g.outputs) this.kept.add(map.get(o.id)!.id);
    this.reads = regions.map(() => new Map());
  }

  /** The inputs and result that node `n`'s gradient rule reads: recomputed where `n` is in a region,
   *  undefined (read them as they are) where it is not. A rule also reads its op's attributes off the
   *  result, so a kept result is passed as it is, not through its view. */
  readsOf(n: Node): { readonly inputs: readonly Node[]; readonly out: Node } | undefined {
    const r = this.regionOf.get(n.id);
    if (r === undefined) return undefined;
    const inputs = n.inputs.map((i) => this.value(r, this.byId.get(i)!));
    return { inputs, out: this.recomputes(r, n) ? this.value(r, n) : n };
  }

  private recomputes(r: number, x: Node): boolean {
    return this.regionOf.get(x.id) === r && !this.kept.has(x.id);
  }

  /** `x` as region r's rules read it: recomputed, or the kept value through r's view of it. */
  private value(r: number, x: Node): Node {
    const memo = this.reads[r];
    const known = memo.get(x.id);
    if (known) return known;
    if (!this.recomputes(r, x)) {
      // a constant has no buffer to keep, and two equal ones are one value anyway
      const v = x.op === "full" ? x : this.b.add("reshape", [x], { shape: x.shape, recompute: r });
      memo.set(x.id, v);
      return v;
    }
    // depth first without recursion: a scan step may chain thousands of nodes
    const stack = [x];
    while (stack.length) {
      const n = stack[stack.length - 1];
      if (memo.has(n.id)) {
        stack.pop();
        continue;
      }
      const pending = n.inputs.map((i) => this.byId.get(i)!).filter((i) => this.recomputes(r, i) && !memo.has(i.id));
      if (pending.length) {
        stack.push(...pending);
        continue;
      }
      stack.pop();
      const inputs = n.inputs.map((i) => this.value(r, this.byId.get(i)!));
      memo.set(n.id, this.b.add(n.op, inputs, n.attrs));
    }
    return memo.get(x.id)!;
  }
}
