// strided.ts: views described by strides. A chain of views (reshape, permute, broadcast, slice) over a
// stored value reads element (i0, …, ir) of the view at offset + Σ ik·sk of the stored buffer, when such
// strides exist: a reshape that merges axes a permute or a slice left apart has none. A matmul reads its
// operands through these strides (wgsl/matmul.ts), so the permutes and slices that feed it — splitting
// attention heads, a scan step's slice — need no kernel and no buffer of their own.
import type { Node } from "./ir.js";
import { kernelMatmulDims } from "./ops/linalg.js";
import { type Shape, prod, stridesOf } from "./shape.js";

export interface Strided {
  readonly shape: Shape;
  /** elements of the stored buffer per step along each axis (0: broadcast) */
  readonly strides: readonly number[];
  /** the stored element at index 0 of the view */
  readonly offset: number;
}

export const contiguous = (shape: Shape): Strided => ({ shape, strides: stridesOf(shape), offset: 0 });

/** `v` seen through the view op `n` (whose input `v` describes); undefined when no strides describe it. */
export function applyView(v: Strided, n: Node): Strided | undefined {
  const a = n.attrs;
  switch (n.op) {
    case "permute":
      return { shape: n.shape, strides: (a.perm ?? []).map((p) => v.strides[p]), offset: v.offset };
    case "broadcast": {
      const lead = n.shape.length - v.shape.length;
      const strides = n.shape.map((_, k) => (k < lead || v.shape[k - lead] === 1 ? 0 : v.strides[k - lead]));
      return { shape: n.shape, strides, offset: v.offset };
    }
    case "slice": {
      const starts = a.starts ?? [];
      const steps = a.steps ?? starts.map(() => 1);
      const offset = starts.reduce((o, s, k) => o + s * v.strides[k], v.offset);
      return { shape: n.shape, strides: steps.map((s, k) => s * v.strides[k]), offset };
    }
    case "reshape":
      return reshaped(v, n.shape);
    default:
      return undefined;
  }
}

/**
 * `v` reshaped to `shape` without moving elements, or undefined. Row-major order groups the old and new
 * axes into runs of equal size; a run of old axes must be one stride apart from the next (contiguous
 * among themselves), and the new axes of the run then divide that stride up. Axes of size 1 take any
 * stride (0 here); so do all axes of an empty tensor.
 */
export function reshaped(v: Strided, shape: Shape): Strided | undefined {
  const strides = shape.map(() => 0);
  if (prod(shape) === 0) return { shape, strides, offset: v.offset };
  const old = v.shape.flatMap((d, k) => (d === 1 ? [] : [{ d, s: v.strides[k] }]));
  const axes = shape.flatMap((d, k) => (d === 1 ? [] : [k]));
  let o = 0;
  let j = 0;
  while (j < axes.length) {
    // the next run: old axes o … oe and new axes j … je of equal products
    let po = old[o].d;
    let pn = shape[axes[j]];
    let oe = o;
    let je = j;
    while (po !== pn) {
      if (po < pn) po *= old[++oe].d;
      else pn *= shape[axes[++je]];
    }
    for (let k = o; k < oe; k++) if (old[k].s !== old[k + 1].d * old[k + 1].s) return undefined;
    let s = old[oe].s;
    for (let k = je; k >= j; k--) {
      strides[axes[k]] = s;
      s *= shape[axes[k]];
    }
    o = oe + 1;
    j = je + 1;
  }
  return { shape, strides, offset: v.offset };
}

/** How a matmul kernel reads one operand: the element at (row, col) of the stored matrix (Aᵀ's rows are
 *  K) of output batch entry bb is offset + Σ bb_k·batch_k + row·rows + col·cols. */
export interface OperandLayout {
  readonly offset: number;
  /** per axis of the kernel's output batch (0 where the operand broadcasts) */
  readonly batch: readonly number[];
  readonly rows: number;
  readonly cols: number;
}

/** The layout of a stored operand of shape `shape`, row-major, for a kernel whose output batch is `outBatch`
 *  ([] when the kernel runs a batch as one tall matrix). */
export function denseLayout(shape: Shape, outBatch: Shape): OperandLayout {
  const r = shape.length;
  const st = stridesOf(shape);
  const lead = outBatch.length - (r - 2);
  const batch = outBatch.map((_, k) => (k < lead || shape[k - lead] === 1 ? 0 : st[k - lead]));
  return { offset: 0, batch, rows: shape[r - 1], cols: 1 };
}

/**
 * The layout of an operand read through the strides `v`, or undefined when the kernel cannot read it so.
 * `tall`: the kernel runs the operand's batch and rows as one tall matrix (ops/linalg.ts
 * kernelMatmulDims), which needs those axes to be one stride apart. Axes of size 1 read with stride 0,
 * except a column axis of size 1, which takes 1 (so that it counts as contiguous).
 */
export function viewLayout(v: Strided, outBatch: Shape, tall: boolean): OperandLayout | undefined {
  const r = v.shape.length;
  const at = (k: number, one: number): number => (v.shape[k] === 1 ? one : v.strides[k]);
  const cols = at(r - 1, 1);
  if (tall) {
    const runs = v.shape.slice(0, r - 1).flatMap((d, k) => (d === 1 ? [] : [{ d, s: v.strides[k] }]));
    for (let k = 0; k + 1 < runs.length; k++) if (runs[k].s !== runs[k + 1].d * runs[k + 1].s) return undefined;
    return { offset: v.offset, batch: [], rows: runs.at(-1)?.s ?? 0, cols };
  }
  const lead = outBatch.length - (r - 2);
  const batch = outBatch.map((_, k) => (k < lead ? 0 : at(k - lead, 0)));
  return { offset: v.offset, batch, rows: at(r - 2, 0), cols };
}

/** Whether vec4 loads along the columns are aligned: columns adjacent, rows, batch and offset multiples of 4. */
export const vecAligned = (l: OperandLayout): boolean =>
  l.cols === 1 && l.rows % 4 === 0 && l.offset % 4 === 0 && l.batch.every((s) => s % 4 === 0);

/** The stored value `id` reads and the strides it reads it through, down the views `viewed` says are
 *  computed as index arithmetic (inlined); undefined when no strides describe the chain. */
export function storedView(
  id: number,
  byId: ReadonlyMap<number, Node>,
  viewed: (id: number) => boolean,
): { readonly source: Node; readonly view: Strided } | undefined {
  const n = byId.get(id)!;
  if (!viewed(id)) return { source: n, view: contiguous(n.shape) };
  const below = storedView(n.inputs[0], byId, viewed);
  const v = below && applyView(below.view, n);
  return v && { source: below.source, view: v };
}

/** Both operands' layouts for matmul `mm` reading them through `va` and `vb`, or undefined. */
export function matmulLayouts(
  mm: Node,
  a: Node,
  b: Node,
  va: Strided,
  vb: Strided,
): [OperandLayout, OperandLayout] | undefined {
  const { batch } = kernelMatmulDims(a, b, mm.attrs);
  const tall = batch.length === 0; // no batch, or A's batch run as rows
  const la = viewLayout(va, batch, tall);
  const lb = viewLayout(vb, batch, tall);
  return la && lb ? [la, lb] : undefined;
}

/** The layout in which matmul `mm` stores C so that its buffer holds permute(C, perm) (of shape `shape`)
 *  row-major, or undefined when the kernel cannot (a tall batch whose rows the permute moves apart). */
export function permutedLayout(
  mm: Node,
  a: Node,
  b: Node,
  perm: readonly number[],
  shape: Shape,
): OperandLayout | undefined {
  const st = stridesOf(shape);
  const strides = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    strides[p] = st[i];
  });
  const { batch } = kernelMatmulDims(a, b, mm.attrs);
  return viewLayout({ shape: mm.shape, strides, offset: 0 }, batch, batch.length === 0);
}
