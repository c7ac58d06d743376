// flops.ts: the floating-point operations of one node of each op, for `mira compile --emit report` and
// the benchmarks (compiler/report.ts). A companion table of the op entries, keyed by every op name so
// that tsc rejects an op without a count. Multiply-add = 2; elementwise ops and reductions 1 per element;
// ops that only move, copy or feed values 0.
import type { Node } from "../ir.js";
import { prod } from "../shape.js";
import type { OpName } from "./index.js";
import { matmulDims } from "./linalg.js";

/** FLOPs of node `n`, whose inputs are `ins`. */
export type FlopRule = (n: Node, ins: readonly Node[]) => number;

const none: FlopRule = () => 0;
const perElement: FlopRule = (n) => prod(n.shape);
const perInput: FlopRule = (_n, [x]) => prod(x.shape);

/** Every (query, key) pair, masks ignored, times `per(d, dv)` multiply-adds: q·k, then p·v (forward),
 *  dO·v and dS·k (dQ), dS·q and p·dO (dK|dV). */
function attentionPairs(per: (d: number, dv: number) => number): FlopRule {
  return (_n, [q, k, v]) => {
    const d = q.shape[q.shape.length - 1];
    const dv = v === undefined ? 0 : v.shape[v.shape.length - 1];
    const pairs = prod(q.shape.slice(0, -1)) * k.shape[k.shape.length - 2];
    return 2 * pairs * per(d, dv);
  };
}

export const FLOPS = {
  input: none,
  param: none,
  neg: perElement,
  abs: perElement,
  exp: perElement,
  log: perElement,
  sqrt: perElement,
  rsqrt: perElement,
  recip: perElement,
  square: perElement,
  tanh: perElement,
  sigmoid: perElement,
  relu: perElement,
  gelu: perElement,
  gelu_tanh: perElement,
  erf: perElement,
  sin: perElement,
  cos: perElement,
  floor: perElement,
  ceil: perElement,
  sign: perElement,
  stop_gradient: none,
  add: perElement,
  sub: perElement,
  mul: perElement,
  div: perElement,
  max: perElement,
  min: perElement,
  pow: perElement,
  eq: perElement,
  ne: perElement,
  lt: perElement,
  le: perElement,
  gt: perElement,
  ge: perElement,
  is_finite: perElement,
  and: perElement,
  or: perElement,
  not: perElement,
  select: perElement,
  cast: perElement,
  full: none,
  iota: none,
  random_uniform: perElement,
  random_normal: perElement,
  reduce_sum: perInput,
  reduce_max: perInput,
  reduce_min: perInput,
  reduce_mean: perInput,
  reshape: none,
  permute: none,
  broadcast: none,
  slice: none,
  pad: none,
  concat: none,
  matmul: (n, [a, b]) => {
    const { batch, m, n: cols, k } = matmulDims(a, b, n.attrs);
    return 2 * prod(batch) * m * cols * k;
  },
  gather: none,
  scatter_add: (n, [idx]) => prod(n.shape) * prod(idx.shape),
  // a K/V cache's write: copies rows, no arithmetic
  write_rows: none,
  // composites are counted by the primitives they lower to (a compiled program holds no composite)
  softmax: none,
  log_softmax: none,
  layer_norm: none,
  attention: none,
  flash_attention: attentionPairs((d, dv) => d + dv),
  attention_lse: attentionPairs((d) => d),
  attention_dq: attentionPairs((d, dv) => 2 * d + dv),
  attention_dkv: attentionPairs((d, dv) => 2 * d + 2 * dv),
  // as the elementwise ops they stand for: square and add per element
  sum_squares: (_n, ins) => 2 * ins.reduce((s, x) => s + prod(x.shape), 0),
  // AdamW's 13 (15 with weight decay) arithmetic ops and 3 selects per element
  adamw: (n, [p]) => prod(p.shape) * (n.attrs.adamw?.decays ? 18 : 16),
} satisfies { readonly [K in OpName]: FlopRule };
