// linalg.ts: batched matmul with transpose flags, gather along an axis, and its inverse scatter-add.
import { isFloat, isInt } from "../dtype.js";
import type { Attrs, TensorType } from "../ir.js";
import { type Shape, broadcastShapes, fmtShape, normAxis, prod, stridesOf, unravel } from "../shape.js";
import { fail, req } from "./rules.js";
import type { RefTensor, TensorOp } from "./spec.js";

export interface MatmulDims {
  readonly batch: Shape; // broadcast batch shape of the output
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

/** a: [...ba, M, K] (transA: [...ba, K, M]); b: [...bb, K, N] (transB: [...bb, N, K]). */
export function matmulDims(a: TensorType, b: TensorType, attrs: Attrs): MatmulDims {
  if (a.shape.length < 2 || b.shape.length < 2)
    fail(`matmul: operands need rank ≥ 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [m, k] = attrs.transA ? [ac, ar] : [ar, ac];
  const [k2, n] = attrs.transB ? [bc, br] : [br, bc];
  if (k !== k2)
    fail(
      `matmul: inner dimensions differ: ${fmtShape(a.shape)}${attrs.transA ? "ᵀ" : ""} @ ` +
        `${fmtShape(b.shape)}${attrs.transB ? "ᵀ" : ""}`,
    );
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (!batch) fail(`matmul: batch dimensions do not broadcast: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
  return { batch: batch!, m, n, k };
}

/**
 * The dims a kernel computes the matmul with: a batch of A matrices against one shared B (a weight,
 * applied to every row of a [..., M, K] activation) is one [batch·M, K] matrix against B, since A's
 * rows and C's rows are laid out alike — one tall product instead of many short ones, which fills
 * a tiled kernel's rows (a 4-row matrix uses an eighth of a 32-row tile). With B shared, the output
 * batch is A's own (leading 1s aside), so A holds every batch matrix in order. Aᵀ's rows are not
 * contiguous: a transposed A keeps its batch.
 */
export function kernelMatmulDims(a: TensorType, b: TensorType, attrs: Attrs): MatmulDims {
  const d = matmulDims(a, b, attrs);
  const sharedB = b.shape.slice(0, -2).every((x) => x === 1);
  return d.batch.length > 0 && !attrs.transA && sharedB ? { batch: [], m: prod(d.batch) * d.m, n: d.n, k: d.k } : d;
}

/** Flat offset of batch element `bi` (of the output batch shape) inside an operand's batch dims. */
export function batchOffset(bi: number, outBatch: Shape, opShape: Shape): number {
  const opBatch = opShape.slice(0, -2);
  const c = unravel(bi, outBatch);
  const st = stridesOf(opBatch);
  const lead = outBatch.length - opBatch.length;
  let off = 0;
  for (let k = 0; k < opBatch.length; k++) if (opBatch[k] !== 1) off += c[k + lead] * st[k];
  return off * prod(opShape.slice(-2));
}

function refMatmul([a, b]: readonly RefTensor[], attrs: Attrs): Float64Array {
  const { batch, m, n, k } = matmulDims(a, b, attrs);
  const nb = prod(batch);
  const out = new Float64Array(nb * m * n);
  for (let bi = 0; bi < nb; bi++) {
    const ao = batchOffset(bi, batch, a.shape);
    const bo = batchOffset(bi, batch, b.shape);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = a.data[ao + (attrs.transA ? p * m + i : i * k + p)];
          const bv = b.data[bo + (attrs.transB ? j * k + p : p * n + j)];
          s += av * bv;
        }
        out[(bi * m + i) * n + j] = s;
      }
    }
  }
  return out;
}

/** gather: out = table.shape[:axis] + idx.shape + table.shape[axis+1:]; out-of-range indices read 0. */
function gatherShape(table: TensorType, idx: TensorType, axis: number): number[] {
  return [...table.shape.slice(0, axis), ...idx.shape, ...table.shape.slice(axis + 1)];
}

/** scatter_add: out = upd.shape[:axis] + [size] + upd.shape[axis+idx.rank:]. */
function scatterShape(idx: TensorType, upd: TensorType, axis: number, size: number): number[] {
  return [...upd.shape.slice(0, axis), size, ...upd.shape.slice(axis + idx.shape.length)];
}

/** Decomposes an index into (outer, middle, inner) around a span of axes. */
export interface GatherGeometry {
  readonly outer: number; // product of dims before axis
  readonly count: number; // number of indices
  readonly inner: number; // product of dims after the gathered axis
  readonly size: number; // extent of the indexed axis
}

export function gatherGeometry(table: Shape, idx: Shape, axis: number): GatherGeometry {
  return { outer: prod(table.slice(0, axis)), count: prod(idx), inner: prod(table.slice(axis + 1)), size: table[axis] };
}

export const LINALG_OPS = {
  matmul: {
    kind: "matmul",
    arity: 2,
    doc: "batched matrix product with transpose flags and broadcast batch dims",
    tol: { atol: 1e-5, rtol: 1e-4 },
    infer: ([a, b], attrs) => {
      if (a.dtype !== b.dtype || !isFloat(a.dtype))
        fail(`matmul: needs two float tensors of one dtype, got ${a.dtype} and ${b.dtype}`);
      const { batch, m, n } = matmulDims(a, b, attrs);
      return { dtype: a.dtype, shape: [...batch, m, n] };
    },
    ref: refMatmul,
  },
  gather: {
    kind: "gather",
    arity: 2,
    doc: "table[..., idx, ...] along axis (out-of-range indices read 0)",
    tol: { atol: 0, rtol: 0 },
    infer: ([table, idx], attrs) => {
      if (!isInt(idx.dtype)) fail(`gather: indices must be i32 or u32, got ${idx.dtype}`);
      const axis = normAxis(req("gather", attrs, "axis"), table.shape.length);
      if (axis < 0 || axis >= table.shape.length) fail(`gather: axis out of range for ${fmtShape(table.shape)}`);
      return { dtype: table.dtype, shape: gatherShape(table, idx, axis) };
    },
    ref: ([table, idx], attrs) => {
      const axis = normAxis(req("gather", attrs, "axis"), table.shape.length);
      const g = gatherGeometry(table.shape, idx.shape, axis);
      const out = new Float64Array(g.outer * g.count * g.inner);
      for (let o = 0; o < g.outer; o++)
        for (let c = 0; c < g.count; c++) {
          const j = idx.data[c];
          if (j < 0 || j >= g.size) continue;
          for (let i = 0; i < g.inner; i++)
            out[(o * g.count + c) * g.inner + i] = table.data[(o * g.size + j) * g.inner + i];
        }
      return out;
    },
  },
  scatter_add: {
    kind: "scatter",
    arity: 2,
    doc: "out[..., idx[c], ...] += upd[..., c, ...] (gather's transpose; out-of-range dropped)",
    tol: { atol: 1e-5, rtol: 1e-5 },
    infer: ([idx, upd], attrs) => {
      if (!isInt(idx.dtype)) fail(`scatter_add: indices must be i32 or u32, got ${idx.dtype}`);
      if (upd.dtype === "bool") fail("scatter_add: updates must be numeric, got bool (cast them to i32 first)");
      const axis = req("scatter_add", attrs, "axis");
      const size = req("scatter_add", attrs, "size");
      const span = upd.shape.slice(axis, axis + idx.shape.length);
      if (axis < 0 || span.length !== idx.shape.length || span.some((d, k) => d !== idx.shape[k]))
        fail(`scatter_add: updates ${fmtShape(upd.shape)} do not hold indices ${fmtShape(idx.shape)} at axis ${axis}`);
      return { dtype: upd.dtype, shape: scatterShape(idx, upd, axis, size) };
    },
    ref: ([idx, upd], attrs, out) => {
      const axis = req("scatter_add", attrs, "axis");
      const g = gatherGeometry(out.shape, idx.shape, axis);
      const res = new Float64Array(prod(out.shape));
      for (let o = 0; o < g.outer; o++)
        for (let c = 0; c < g.count; c++) {
          const j = idx.data[c];
          if (j < 0 || j >= g.size) continue;
          for (let i = 0; i < g.inner; i++)
            res[(o * g.size + j) * g.inner + i] += upd.data[(o * g.count + c) * g.inner + i];
        }
      return res;
    },
  },
} satisfies Record<string, TensorOp>;
