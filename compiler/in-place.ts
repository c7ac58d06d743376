// in-place.ts: which value an elementwise kernel may overwrite with its result. A fused group with one
// store computes element i from element i of each input it reads directly, loading every input
// before storing, so its store may go into the buffer of such an input — one of the same shape and
// dtype, read nowhere through a view (a view reads other indices, which may already be overwritten).
// Whether that input is dead by then is the memory plan's question (plan.ts: PlanStep.inPlace); the
// kernel then loads it through its output binding (wgsl/fused.ts: fusedKernel's `inPlace`).
import { type FusedGroup, readsThroughViews } from "./fuse.js";
import type { Node } from "./ir.js";
import { type PlanStep, type PlanValue, lifetimes } from "./plan.js";
import { sameShape } from "./shape.js";

/** Reads of `group` its store could overwrite, in binding order; none when it stores several values. */
export function inPlaceReads(group: FusedGroup, byId: ReadonlyMap<number, Node>, inlined: ReadonlySet<number>): Node[] {
  if (group.stores.length !== 1) return [];
  const out = group.stores[0];
  const viewed = readsThroughViews(group, byId, inlined);
  return group.reads.filter((r) => !viewed.has(r.id) && r.dtype === out.dtype && sameShape(r.shape, out.shape));
}

/** A step of the schedule as program.ts builds it: the fused group it runs, if any, and the read its
 *  store may overwrite (`inPlace`, a value; `inPlaceNode`, the group's read holding it). */
export interface InPlaceStep extends PlanStep {
  readonly group?: FusedGroup;
  inPlace?: number;
  inPlaceNode?: number;
}

/** Marks each fused step's in-place candidate: a read its store may overwrite (inPlaceReads) whose value
 *  is a temporary read for the last time at this step, and bound once (not also under another name). */
export function proposeInPlace(
  steps: InPlaceStep[],
  values: readonly PlanValue[],
  valueOf: ReadonlyMap<number, number>,
  byId: ReadonlyMap<number, Node>,
  inlined: ReadonlySet<number>,
): void {
  const life = lifetimes(values, steps);
  const temp = new Set(values.filter((v) => !v.persistent).map((v) => v.id));
  steps.forEach((st, s) => {
    if (!st.group) return;
    const read = inPlaceReads(st.group, byId, inlined).find((r) => {
      const v = valueOf.get(r.id)!;
      return temp.has(v) && life.get(v)?.last === s && st.reads.filter((x) => x === v).length === 1;
    });
    if (!read) return;
    st.inPlace = valueOf.get(read.id);
    st.inPlaceNode = read.id;
  });
}
