// rewrite.ts: the prefill and step graphs, rebuilt node by node from the analysed forward graph.
//   prefill(P): the forward graph at T = P (sizes along S extrapolated from T = 2, 3, 4), plus: each
//     causal self-attention's K and V written into its cache at row 0, the kept free values (memo)
//     as outputs copied into their params, and the output's row of the last position.
//   step: one new position t (input `decode.pos` = t): row values are computed for one row; positional
//     sources read position t (a table row gathered at t, an iota plus t); prefix inputs of a concat
//     along S (a start token) are dropped, as the prefill wrote their rows; each causal attention
//     writes its new K, V row into the cache at t + off and attends over rows 0 … t + off (a padding
//     mask with lengths t + off + 1); memo values are params written by the prefill.
//   Both end with the sampler (sample.ts): the next-token rows are an output, and so is the token each
//   batch row draws from them.
//   With B > 1 batch rows (rows.ts), every row has its own position: the prefill reads each row's
//   prompt length (`decode.lengths`, prompts padded at the end, which causal attention never reads back)
//   and outputs each row's last row; the step reads one position per row.
import { GraphBuilder } from "../builder.js";
import type { Attrs, Graph, Node } from "../ir.js";
import { binary, broadcastTo } from "../ops/helpers.js";
import { normAxis, prod } from "../shape.js";
import { changingAttrs } from "../locality/analyze.js";
import type { Analysis, SeqAxis } from "./analyze.js";
import { DecodeError, type Located } from "./error.js";
import { type BatchAxes, perBlock, perRowBroadcast } from "./rows.js";
import { appendSampler } from "./sample.js";
import { bug } from "../../base/errors.js";

/** Names shared by the prefill and step programs (and the runtime). */
export const POS = "decode.pos";
export const NEXT = "decode.next";
/** i32 [B]: each batch row's prompt length (the prefill's, when B > 1) */
export const LENGTHS = "decode.lengths";
const cacheName = (layer: number, kv: "k" | "v"): string => `decode.cache.${layer}.${kv}`;
export const memoName = (i: number): string => `decode.memo.${i}`;
/** prefill output → the param it is copied into after the run */
const memoOut = (i: number): string => `${memoName(i)}.out`;
const cacheWrite = (layer: number, kv: "k" | "v"): string => `${cacheName(layer, kv)}.write`;

export interface CacheSpec {
  readonly name: string;
  readonly dtype: Node["dtype"];
  readonly shape: readonly number[];
}

/** The prefill graph for a prompt of P positions, and its memo updates (output → param). */
export function prefillGraph(
  an: Analysis,
  P: number,
  caches: readonly CacheSpec[],
  rows?: BatchAxes,
): { graph: Graph; updates: Record<string, string> } {
  const b = new GraphBuilder();
  const map = new Map<number, Node>();
  const by3 = new Map(an.g3.nodes.map((n) => [n.id, n]));
  for (const n of an.g2.nodes) {
    const attrs = atLength(n, by3.get(n.id)!, P);
    const node =
      n.op === "input" || n.op === "param"
        ? b[n.op](n.attrs.name!, n.dtype, attrs.shape!)
        : b.add(
            n.op,
            n.inputs.map((i) => map.get(i)!),
            attrs,
          );
    map.set(n.id, node);
  }
  const zero = b.add("full", [], { value: 0, dtype: "i32", shape: [1] });
  an.causal.forEach((id, layer) => {
    const att = an.byId.get(id)!;
    (["k", "v"] as const).forEach((kv, j) => {
      const c = caches[2 * layer + j];
      const rows = map.get(att.inputs[1 + j])!;
      b.output(
        cacheWrite(layer, kv),
        b.add("write_rows", [b.param(c.name, c.dtype, c.shape), rows, zero], { axis: rows.shape.length - 2 }),
      );
    });
  });
  const updates: Record<string, string> = {};
  an.memo.forEach((id, i) => {
    const v = map.get(id)!;
    b.param(memoName(i), v.dtype, v.shape);
    b.output(memoOut(i), v);
    updates[memoOut(i)] = memoName(i);
  });
  const out = map.get(an.output.id)!;
  const s = an.seq.get(an.output.id)!;
  const last = P - 1 + s.off;
  const next = rows
    ? lastRows(b, an, out, s, rows)
    : b.add("slice", [out], {
        starts: out.shape.map((_, a) => (a === s.axis ? last : 0)),
        ends: out.shape.map((d, a) => (a === s.axis ? last + 1 : d)),
      });
  b.output(NEXT, next);
  sampleRows(b, an, next);
  return { graph: b.build(), updates };
}

/** Each batch row's row at its own last prompt position (LENGTHS − 1): the one row of S that matches,
 *  selected and summed over S (the others add exact zeros). */
function lastRows(b: GraphBuilder, an: Analysis, out: Node, s: SeqAxis, rows: BatchAxes): Node {
  const bo = rows.get(an.output.id);
  const B = an.input.shape[0];
  if (bo === undefined) bug(`the generated output has no batch axis`);
  const lengths = b.input(LENGTHS, "i32", [B]);
  const want = binary(b, "add", lengths, b.add("full", [], { value: s.off - 1, dtype: "i32", shape: [1] }));
  const per = b.add("broadcast", [b.add("reshape", [want], { shape: out.shape.map((_, a) => (a === bo ? B : 1)) })], {
    shape: out.shape,
  });
  const hit = b.add("eq", [b.add("iota", [], { shape: out.shape, axis: s.axis, dtype: "i32" }), per]);
  const kept = b.add("select", [hit, out, b.add("full", [], { value: 0, dtype: out.dtype, shape: [] })]);
  return b.add("reduce_sum", [kept], { axes: [s.axis], keepDims: true });
}

/** The attributes of `n` at length P (sequence length or chunk count), given them at 2 and 3: entries
 *  that change grow linearly (checked by the analyses), so v(P) = v(2) + (P − 2)·(v(3) − v(2)). */
export function atLength(n2: Node, n3: Node, P: number): Attrs {
  const paths = changingAttrs(n2, n3);
  if (paths.length === 0) return n2.attrs;
  const copy = structuredClone(n2.attrs) as Record<string, unknown>;
  for (const p of paths) {
    const keys = p.split(".");
    let x = copy;
    for (const k of keys.slice(0, -1)) x = x[k] as Record<string, unknown>;
    const v2 = x[keys.at(-1)!] as number;
    const v3 = get(n3.attrs, keys);
    x[keys.at(-1)!] = v2 + (P - 2) * (v3 - v2);
  }
  return copy as Attrs;
}

const get = (attrs: Attrs, keys: readonly string[]): number =>
  keys.reduce<unknown>((x, k) => (x as Record<string, unknown>)[k], attrs) as number;

/** The step graph: one new position, reading and writing the caches (see the file comment). */
export function stepGraph(an: Analysis, caches: readonly CacheSpec[], rows?: BatchAxes, loc?: Located): Graph {
  const b = new GraphBuilder();
  const needed = stepCone(an);
  const map = new Map<number, Node>();
  // R positions: one per batch row when rows are given (B > 1), else one shared
  const R = rows ? an.input.shape[0] : 1;
  const pos = b.input(POS, "i32", [R]);
  const at = (off: number): Node =>
    off === 0 ? pos : binary(b, "add", pos, b.add("full", [], { value: off, dtype: "i32", shape: [1] }));
  // a function of the position without a batch axis: computed for the R positions along S
  const lone = (id: number): boolean => R > 1 && an.role.get(id) === "positional" && !rows!.has(id);
  const fail = (n: Node, why: string): DecodeError => (loc ? loc.error(n, why) : new DecodeError(`${n.op} ${why}`));
  const memoIndex = new Map(an.memo.map((id, i) => [id, i]));
  const causalIndex = new Map(an.causal.map((id, i) => [id, i]));
  for (const n of an.g2.nodes) {
    if (!needed.has(n.id)) continue;
    const ins = n.inputs.map((i) => map.get(i)!);
    const s = an.seq.get(n.id);
    const memo = memoIndex.get(n.id);
    let node: Node;
    if (memo !== undefined) node = b.param(memoName(memo), n.dtype, n.shape);
    else if (n.op === "param") node = b.param(n.attrs.name!, n.dtype, n.shape);
    else if (n.op === "input") node = b.input(n.attrs.name!, n.dtype, oneRow(n.shape, s));
    else if (an.role.get(n.id) === "free") node = b.add(n.op, ins, n.attrs);
    else if (!lone(n.id) && n.inputs.some(lone)) {
      // Where a position-only value meets the batch: only a broadcast can send entry b to row b.
      const why =
        "combines a function of the position with the batch rows other than by a broadcast, " +
        "so batch rows cannot decode at their own positions";
      if (n.op !== "broadcast" || !rows!.has(n.id)) throw fail(n, why);
      node = perRowBroadcast(b, ins[0], oneRow(n.shape, s), s!, rows!.get(n.id)!, R, () => fail(n, why));
    } else if (causalIndex.has(n.id))
      node = cachedAttention(
        b,
        n,
        ins,
        causalIndex.get(n.id)!,
        caches,
        at(an.seq.get(n.inputs[1])!.off),
        R > 1 ? rows : undefined,
        (why) => fail(n, why),
      );
    else node = stepNode(b, n, ins, s!, an, at, lone(n.id) ? R : 1, (why) => fail(n, why));
    map.set(n.id, node);
  }
  const next = map.get(an.output.id)!;
  b.output(NEXT, next);
  sampleRows(b, an, next);
  return b.build();
}

/** The sampler after the next-token rows (one per batch row), so a run can return token ids alone. */
function sampleRows(b: GraphBuilder, an: Analysis, next: Node): void {
  const batch = an.input.shape[0];
  appendSampler(b, next, batch, prod(next.shape) / batch);
}

/** Nodes the step reads: back from the output, stopping at memo values and skipping concat prefixes. */
function stepCone(an: Analysis): Set<number> {
  const memo = new Set(an.memo);
  const needed = new Set<number>();
  const stack = [an.output.id];
  while (stack.length) {
    const id = stack.pop()!;
    if (needed.has(id)) continue;
    needed.add(id);
    if (memo.has(id)) continue;
    const n = an.byId.get(id)!;
    const s = an.seq.get(id);
    let ins = n.inputs;
    if (n.op === "concat" && s && normAxis(n.attrs.axis ?? 0, n.shape.length) === s.axis)
      ins = ins.filter((i) => an.seq.has(i));
    stack.push(...ins);
  }
  return needed;
}

/** A shape for one position (r positions, one per batch row, for a position-only value). */
const oneRow = (shape: readonly number[], s: SeqAxis | undefined, r = 1): number[] =>
  shape.map((d, a) => (s && a === s.axis ? s.k * r : d));

/** A row or positional node for one position (for r positions along S: a position-only value). */
function stepNode(
  b: GraphBuilder,
  n: Node,
  ins: readonly Node[],
  s: SeqAxis,
  an: Analysis,
  at: (off: number) => Node,
  r: number,
  fail: (why: string) => DecodeError,
): Node {
  const a = s.axis;
  const attrs: Record<string, unknown> = { ...n.attrs };
  if (n.attrs.shape) attrs.shape = oneRow(n.attrs.shape, s, r);
  switch (n.op) {
    case "iota": {
      const it = b.add("iota", [], attrs as Attrs);
      if (!an.sources.has(n.id)) return it;
      // Row j of an iota along S is j = t + off (k = 1 for an iota source).
      const t = b.add("cast", [at(s.off)], { dtype: n.dtype });
      if (r === 1) return binary(b, "add", it, t);
      return b.add("broadcast", [b.add("reshape", [t], { shape: it.shape.map((d, k) => (k === a ? r : 1)) })], {
        shape: it.shape,
      });
    }
    case "slice": {
      if (an.sources.has(n.id)) {
        // table[start : start + T + off] along S: position t reads table[start + t + off].
        const row = b.add("gather", [ins[0], at(n.attrs.starts![a] + s.off)], { axis: a });
        const starts = n.attrs.starts!.map((v, k) => (k === a ? 0 : v));
        const ends = n.attrs.ends!.map((v, k) => (k === a ? r : v));
        return b.add("slice", [row], { ...n.attrs, starts, ends });
      }
      return b.add("slice", [ins[0]], {
        ...n.attrs,
        starts: n.attrs.starts!.map((v, k) => (k === a ? 0 : v)),
        ends: n.attrs.ends!.map((v, k) => (k === a ? s.k * r : v)),
      });
    }
    case "pad":
      return b.add("pad", [ins[0]], {
        ...n.attrs,
        lo: n.attrs.lo!.map((v, k) => (k === a ? 0 : v)),
        hi: n.attrs.hi!.map((v, k) => (k === a ? 0 : v)),
      });
    case "concat": {
      if (normAxis(n.attrs.axis ?? 0, n.shape.length) !== a) return b.add("concat", ins, n.attrs);
      return ins.at(-1)!; // the prefixes were dropped (stepCone): the sequence value, last, is left
    }
    default:
      return b.add(n.op, ins, attrs as Attrs);
  }
}

/** Causal self-attention for one query row: write the new K, V rows at t + off, attend rows ≤ t + off. */
function cachedAttention(
  b: GraphBuilder,
  n: Node,
  [q, k, v]: readonly Node[],
  layer: number,
  caches: readonly CacheSpec[],
  row: Node,
  rows: BatchAxes | undefined,
  fail: (why: string) => DecodeError,
): Node {
  const axis = k.shape.length - 2;
  const kc = caches[2 * layer];
  const vc = caches[2 * layer + 1];
  // One offset per batch row (rows given) needs the batch outermost in q, K and V: block o of the
  // cache belongs to batch row o / (blocks per row).
  if (rows && n.inputs.slice(0, 3).some((i) => rows.get(i) !== 0))
    throw fail("keeps its batch rows off the leading axis, so they cannot decode at their own positions");
  const keys = b.add("write_rows", [b.param(kc.name, kc.dtype, kc.shape), k, row], { axis });
  const values = b.add("write_rows", [b.param(vc.name, vc.dtype, vc.shape), v, row], { axis });
  const seen = binary(b, "add", row, b.add("full", [], { value: 1, dtype: "i32", shape: [1] }));
  const lengths = rows ? perBlock(b, seen, q.shape[0]) : broadcastTo(b, seen, [q.shape[0]]);
  return b.add("attention", [q, keys, values, lengths], { ...n.attrs, mask: { kind: "padding" } });
}

/** The K and V caches: each causal attention's K and V with room for `maxLen` positions (plus the
 *  rows before position 0, when a start token was prepended). */
export function cacheSpecs(an: Analysis, maxLen: number): CacheSpec[] {
  return an.causal.flatMap((id, layer) => {
    const att = an.byId.get(id)!;
    return (["k", "v"] as const).map((kv, j) => {
      const x = an.byId.get(att.inputs[1 + j])!;
      const s = an.seq.get(x.id)!;
      return {
        name: cacheName(layer, kv),
        dtype: x.dtype,
        shape: x.shape.map((d, a) => (a === s.axis ? maxLen + s.off : d)),
      };
    });
  });
}
