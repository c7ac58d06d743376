// rows.ts: write_rows — `cache` with the rows [offset, offset + R) along `axis` replaced by the R rows of
// `rows`, where `offset` is a runtime value (a one-element integer tensor), so one compiled program can
// write any position. It is the KV cache's per-step write (compiler/decode.ts). The offset may also
// hold n values, n dividing the blocks before `axis` (outer): block o then writes at offset[o / (outer / n)]
// — per batch row of a [B, heads, S, d] cache with n = B, for rows decoding at their own positions. Rows
// that fall outside the cache are dropped, as scatter_add drops out-of-range indices. When `cache` is a
// param that nothing else reads, the compiled program writes the R rows into the param's buffer in place
// (program.ts), so a step costs R rows, not a copy of the cache; otherwise the kernel writes a fresh copy.
import { isInt } from "../dtype.js";
import { type Graph, type Node, nodeById } from "../ir.js";
import { fmtShape, normAxis, prod } from "../shape.js";
import { binary } from "./helpers.js";
import { fail, req } from "./rules.js";
import type { NodeBuilder, TensorOp } from "./spec.js";

/** Flat layout around the row axis: `outer` blocks of `size` rows (of the cache) or `count` rows (of
 *  `rows`), each row `inner` elements long. */
export interface RowsGeometry {
  readonly outer: number;
  readonly size: number;
  readonly count: number;
  readonly inner: number;
}

export function rowsGeometry(cache: readonly number[], count: number, axis: number): RowsGeometry {
  return { outer: prod(cache.slice(0, axis)), size: cache[axis], count, inner: prod(cache.slice(axis + 1)) };
}

/** d cache: the cotangent with the written rows zeroed (they were overwritten); d rows: those rows of
 *  the cotangent, read by gather (which reads 0 where a row fell outside, as the write dropped it). */
export function writeRowsVjp(
  b: NodeBuilder,
  g: Node,
  [, rows, offset]: readonly Node[],
  out: Node,
): (Node | undefined)[] {
  if (prod(offset.shape) !== 1) fail("write_rows: no gradient with an offset per block (only decoding writes those)");
  const axis = normAxis(out.attrs.axis ?? 0, out.shape.length);
  const zeros = b.add("full", [], { value: 0, dtype: rows.dtype, shape: rows.shape });
  const dCache = b.add("write_rows", [g, zeros, offset], { axis });
  const at = b.add("reshape", [b.add("cast", [offset], { dtype: "i32" })], { shape: [1] });
  const idx = binary(b, "add", b.add("iota", [], { shape: [rows.shape[axis]], axis: 0, dtype: "i32" }), at);
  return [dCache, b.add("gather", [g, idx], { axis }), undefined];
}

export const ROWS_OPS = {
  write_rows: {
    kind: "scatter",
    arity: 3,
    doc:
      "cache with rows [offset, offset + R) along axis replaced by rows " +
      "(offset a runtime scalar; in place on a param)",
    tol: { atol: 0, rtol: 0 },
    infer: ([cache, rows, offset], a) => {
      const axis = normAxis(req("write_rows", a, "axis"), cache.shape.length);
      if (axis < 0 || axis >= cache.shape.length)
        fail(`write_rows: axis ${a.axis} out of range for ${fmtShape(cache.shape)}`);
      if (rows.dtype !== cache.dtype) fail(`write_rows: rows are ${rows.dtype}, the cache ${cache.dtype}`);
      if (
        rows.shape.length !== cache.shape.length ||
        rows.shape.some((d, k) => k !== axis && d !== cache.shape[k]) ||
        rows.shape[axis] > cache.shape[axis]
      ) {
        fail(
          `write_rows: rows ${fmtShape(rows.shape)} do not fit the cache ${fmtShape(cache.shape)} along axis ${axis}`,
        );
      }
      const outer = prod(cache.shape.slice(0, axis));
      if (!isInt(offset.dtype) || offset.shape.length > 1 || outer % prod(offset.shape) !== 0)
        fail(
          `write_rows: the offset must be one i32 or u32, or one per block of the ${outer} before axis ${axis}, ` +
            `got ${offset.dtype}${fmtShape(offset.shape)}`,
        );
      return cache;
    },
    ref: ([cache, rows, offset], a) => {
      const axis = normAxis(req("write_rows", a, "axis"), cache.shape.length);
      const g = rowsGeometry(cache.shape, rows.shape[axis], axis);
      const out = Float64Array.from(cache.data);
      const per = g.outer / offset.data.length; // blocks sharing one offset
      for (let o = 0; o < g.outer; o++)
        for (let r = 0; r < g.count; r++) {
          const j = offset.data[Math.floor(o / per)] + r;
          if (j < 0 || j >= g.size) continue;
          for (let i = 0; i < g.inner; i++)
            out[(o * g.size + j) * g.inner + i] = rows.data[(o * g.count + r) * g.inner + i];
        }
      return out;
    },
  },
} satisfies Record<string, TensorOp>;

/** write_rows nodes that may write into their cache's buffer: the cache is a param (state the caller
 *  keeps across runs) read by nothing else, so no reader can see it before or after the write. */
export function inPlaceWrites(g: Graph): Set<number> {
  const readers = new Map<number, number>();
  for (const n of g.nodes) for (const i of n.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
  const outputs = new Set(g.outputs.map((o) => o.id));
  const byId = nodeById(g);
  return new Set(
    g.nodes
      .filter(
        (n) =>
          n.op === "write_rows" &&
          byId.get(n.inputs[0])!.op === "param" &&
          readers.get(n.inputs[0]) === 1 &&
          !outputs.has(n.inputs[0]),
      )
      .map((n) => n.id),
  );
}
