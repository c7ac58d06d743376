// sample.ts: the next token chosen inside the decoder's programs — IR appended after the logits, so
// per step only the token ids (4 bytes a row) come back to the host, and the reference interpreter runs
// the same ops as the kernels. Every setting is a runtime input, so one compiled program serves greedy
// and sampled decoding alike:
//   order      token j precedes token i when l_j > l_i, or l_j = l_i and j < i (rank: how many precede)
//   greedy     temperature ≤ 0: the token of rank 0 (the first of the largest logits)
//   weights    w_i = exp((l_i − max) / temperature)
//   top-k      the tokens of rank < k (the host writes the vocabulary size for "all")
//   top-p      of those, the tokens whose normalised weight before them, in rank order, is < p: the
//              smallest prefix whose probability reaches p (the host writes 2 for "all")
//   draw       u = uniform(seed', row) · z, z the kept weights' sum; the token is the last kept one in
//              rank order whose cumulative weight before it is ≤ u
// The pairwise order is a [B, V, V] comparison summed by reductions: O(V²) per row, which is nothing for
// character and word vocabularies (V = 96: 9 216 comparisons) and no sort is needed. The cumulative
// sums only ever add non-negative terms in one index order, so they never decrease along the rank
// order whatever the rounding, and exactly one token is chosen. runtime/sampling.ts is the same rule on
// the host in float64 (the CPU reference; seed' = drawSeed(seed, step) there).
import type { GraphBuilder } from "../builder.js";
import type { Node } from "../ir.js";
import { binary, broadcastTo, reduce } from "../ops/helpers.js";
import { prod } from "../shape.js";
import { bug } from "../../base/errors.js";

/** Inputs of the sampler (one value each) and its output, shared by the programs and the runtime. */
export const SAMPLE = {
  /** u32: the step's seed, drawSeed(seed, step) (runtime/sampling.ts) */
  seed: "decode.seed",
  /** f32: ≤ 0 is greedy */
  temperature: "decode.temperature",
  /** i32: the k best are kept (the vocabulary size: all) */
  topK: "decode.top_k",
  /** f32: the nucleus mass (above 1: all) */
  topP: "decode.top_p",
  /** i32 [batch]: the chosen token of each row */
  token: "decode.token",
} as const;

/** The random_uniform call site of the draw, so it shares no stream with a model's own randomness. */
export const SAMPLE_STREAM = 0x53414d50; // "SAMP"

/** Appends the sampler over `logits` (batch rows of `width` values, any layout [batch, …]) and outputs
 *  the chosen token of each row as SAMPLE.token. */
export function appendSampler(b: GraphBuilder, logits: Node, batch: number, width: number): Node {
  if (prod(logits.shape) !== batch * width)
    bug(`the sampler needs ${batch} rows of ${width} values, got [${logits.shape.join(", ")}]`);
  const B = batch;
  const V = width;
  const f = (x: Node): Node => (x.dtype === "f32" ? x : b.add("cast", [x], { dtype: "f32" }));
  const x = f(b.add("reshape", [logits], { shape: [B, V] }));
  const seed = b.input(SAMPLE.seed, "u32", []);
  const temperature = b.input(SAMPLE.temperature, "f32", []);
  const topK = b.input(SAMPLE.topK, "i32", []);
  const topP = b.input(SAMPLE.topP, "f32", []);
  const zeroF = b.add("full", [], { value: 0, dtype: "f32", shape: [] });
  const sel = (c: Node, yes: Node, no: Node): Node =>
    b.add("select", [c, broadcastTo(b, yes, c.shape), broadcastTo(b, no, c.shape)]);

  // [B, i, j]: whether token j precedes token i.
  const cube = [B, V, V];
  const xi = b.add("broadcast", [b.add("reshape", [x], { shape: [B, V, 1] })], { shape: cube });
  const xj = b.add("broadcast", [b.add("reshape", [x], { shape: [B, 1, V] })], { shape: cube });
  const ii = b.add("iota", [], { shape: cube, axis: 1, dtype: "i32" });
  const jj = b.add("iota", [], { shape: cube, axis: 2, dtype: "i32" });
  const precedes = b.add("or", [b.add("gt", [xj, xi]), b.add("and", [b.add("eq", [xj, xi]), b.add("lt", [jj, ii])])]);
  const rank = reduce(b, "reduce_sum", b.add("cast", [precedes], { dtype: "i32" }), [2]); // [B, V]
  /** Σ_j w_j over the tokens j preceding each i: [B, V]. */
  const before = (w: Node): Node =>
    reduce(
      b,
      "reduce_sum",
      sel(precedes, b.add("broadcast", [b.add("reshape", [w], { shape: [B, 1, V] })], { shape: cube }), zeroF),
      [2],
    );

  const index = b.add("iota", [], { shape: [B, V], axis: 1, dtype: "i32" });
  const none = b.add("full", [], { value: V, dtype: "i32", shape: [] });
  /** The index of the (one) token of each row where `hit`: [B]. */
  const pick = (hit: Node): Node => reduce(b, "reduce_min", sel(hit, index, none), [1]);
  const greedy = pick(b.add("eq", [rank, b.add("full", [], { value: 0, dtype: "i32", shape: [B, V] })]));

  const max = reduce(b, "reduce_max", x, [1], true);
  const w = b.add("exp", [binary(b, "div", binary(b, "sub", x, max), temperature)]);
  const inK = binary(b, "lt", rank, topK);
  const wk = sel(inK, w, zeroF);
  const zk = reduce(b, "reduce_sum", wk, [1], true);
  const kept = b.add("and", [inK, binary(b, "lt", binary(b, "div", before(wk), zk), topP)]);
  const wp = sel(kept, w, zeroF);
  const z = reduce(b, "reduce_sum", wp, [1], true);
  const u = binary(
    b,
    "mul",
    b.add("reshape", [b.add("random_uniform", [seed], { shape: [B], stream: SAMPLE_STREAM })], { shape: [B, 1] }),
    z,
  );
  const eligible = b.add("and", [b.add("and", [kept, binary(b, "gt", wp, zeroF)]), binary(b, "le", before(wp), u)]);
  const last = reduce(
    b,
    "reduce_max",
    sel(eligible, rank, b.add("full", [], { value: -1, dtype: "i32", shape: [] })),
    [1],
    true,
  );
  const sampled = pick(binary(b, "eq", rank, last));

  const token = b.add("select", [broadcastTo(b, binary(b, "gt", temperature, zeroF), [B]), sampled, greedy]);
  b.output(SAMPLE.token, token);
  return token;
}
