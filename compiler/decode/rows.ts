// rows.ts (decode): batch rows decoding at their own positions. With B > 1 rows, a prompt of each row
// has its own length, so each row's next position differs: the step reads a position per row
// (`decode.pos` [B]), writes each row's K/V at its own cache row (write_rows with one offset per batch
// row) and attends over its own prefix (attention's padding lengths are per batch row already).
// Values that depend on the position but not on the tokens (`table[:T]` of learned positions, an iota
// over S) carry no batch axis in the model; in the step they are computed for R = B positions along
// their sequence axis (row b: position t_b), and where the model broadcasts them onto the batch, the
// broadcast becomes a reshape that sends entry b to batch row b. Which axis of a value is the batch's
// is found as the sequence axis is: by elaborating the model at another batch size.
import type { GraphBuilder } from "../builder.js";
import type { Node } from "../ir.js";
import type { Elaborated } from "../lower.js";
import { nodeById } from "../ir.js";
import type { Analysis, SeqAxis } from "./analyze.js";
import { DecodeError, type Located } from "./error.js";

/** Per value of the analysed graph (at T = 2), its batch axis, if it has one. */
export type BatchAxes = ReadonlyMap<number, number>;

/** The batch axis of every value, from the model at T = 2 with one more batch row (`more`). */
export function batchAxes(an: Analysis, more: Elaborated, loc: Located): BatchAxes {
  const byId = nodeById(more.graph);
  const axes = new Map<number, number>();
  for (const n of an.g2.nodes) {
    const m = byId.get(n.id);
    if (!m || m.op !== n.op || m.shape.length !== n.shape.length)
      throw loc.error(n, "changes with the batch size, so rows at their own positions cannot share one step program");
    const changed = n.shape.map((_, a) => a).filter((a) => n.shape[a] !== m.shape[a]);
    if (changed.length > 1) throw loc.error(n, "has several axes that grow with the batch");
    if (changed.length === 1) axes.set(n.id, changed[0]);
  }
  if (axes.get(an.input.id) !== 0)
    throw new DecodeError(
      "the model elaborated at another batch size kept the generated input's batch: " +
        "per-row positions need the elaborator to follow the batch argument",
    );
  return axes;
}

/** A broadcast of a position-dependent value without batch onto a value with a batch axis `bo`: `x` is
 *  the step's value with R = batch entries along its sequence axis (k rows each), sent to batch row b
 *  (entry b) — a reshape, a permute and a reshape, then the broadcast of the remaining axes. */
export function perRowBroadcast(
  b: GraphBuilder,
  x: Node,
  out: readonly number[],
  s: SeqAxis,
  bo: number,
  R: number,
  fail: (why: string) => DecodeError,
): Node {
  const ro = out.length;
  const padded = [...Array<number>(ro - x.shape.length).fill(1), ...x.shape];
  const si = s.axis;
  if (bo === si || padded[bo] !== 1 || padded[si] !== R * s.k)
    throw fail("broadcasts onto the batch along an axis it already has");
  const split = [...padded.slice(0, si), R, s.k, ...padded.slice(si + 1)];
  const w = b.add("reshape", [x], { shape: split });
  // Axis p of `padded` (S now of size k) is axis p of `split` before S and p + 1 after: R goes in front
  // of the size-1 axis it replaces, then the two merge.
  const rest = padded.map((_, p) => (p < si ? p : p + 1));
  const z = b.add("permute", [w], { perm: [...rest.slice(0, bo), si, ...rest.slice(bo)] });
  const merged = b.add("reshape", [z], { shape: padded.map((d, p) => (p === si ? s.k : p === bo ? R : d)) });
  return merged.shape.every((d, p) => d === out[p]) ? merged : b.add("broadcast", [merged], { shape: [...out] });
}

/** `v` ([R], one value per batch row) repeated for a leading axis of n = m·R blocks (row-major, batch
 *  outermost): attention's lengths over [B·heads, …] queries, say. */
export function perBlock(b: GraphBuilder, v: Node, n: number): Node {
  const R = v.shape[0];
  if (n === R) return v;
  if (n % R !== 0) throw new DecodeError(`${n} blocks are not a whole number per batch row (${R})`);
  const wide = b.add("broadcast", [b.add("reshape", [v], { shape: [R, 1] })], { shape: [R, n / R] });
  return b.add("reshape", [wide], { shape: [n] });
}
