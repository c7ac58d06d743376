// vjp.ts: the reverse-mode rule of every op — the cotangent of each input given the output's cotangent
// `g` — in a companion table of the op entries keyed by every op name (`VJP_RULES`), so that tsc rejects
// an op without one. compiler/grad.ts reads it. Rules emit IR through the builder, so backward passes
// are compiled, fused and planned like forward ones. Each op says how it is differentiated: a rule;
// `noGrad` (no gradient flows: integer and boolean inputs, indices, seeds, piecewise-constant ops);
// "via-lowering" (a composite differentiated through the primitives it lowers to); or a rule that
// throws naming why there is none (optimizer steps, second derivatives). Within a rule's result,
// `undefined` means no gradient flows to that input.
import type { Attrs, Node } from "../ir.js";
import { normAxis, prod } from "../shape.js";
import { binary, broadcastTo, reduce, scalar, sumTo, unary } from "./helpers.js";
import { reduceAxes } from "./reduce.js";
import { writeRowsVjp } from "./rows.js";
import type { OpName } from "./index.js";
import type { NodeBuilder, VjpRule } from "./spec.js";
import { isFloat } from "../dtype.js";
import { IrError } from "../ir.js";

type B = NodeBuilder;
const mul = (b: B, x: Node, y: Node) => binary(b, "mul", x, y);
const add = (b: B, x: Node, y: Node) => binary(b, "add", x, y);
const sub = (b: B, x: Node, y: Node) => binary(b, "sub", x, y);
const div = (b: B, x: Node, y: Node) => binary(b, "div", x, y);
const k = (b: B, v: number, like: Node) => scalar(b, v, like.dtype);
const zerosLike = (b: B, x: Node) => broadcastTo(b, scalar(b, 0, x.dtype), x.shape);

/** Cotangent for an elementwise input that may be rank 0 (broadcast inside the kernel). */
const toInput = (b: B, g: Node, x: Node): Node =>
  x.shape.length === 0 && g.shape.length > 0
    ? reduce(
        b,
        "reduce_sum",
        g,
        g.shape.map((_, i) => i),
      )
    : g;

const unaryRule =
  (f: (b: B, g: Node, x: Node, y: Node) => Node): VjpRule =>
  (b, g, [x], y) => [f(b, g, x, y)];
const noGrad: VjpRule = (_b, _g, inputs) => inputs.map(() => undefined);

/** The output cotangent broadcast back over the axes a reduction removed. */
function expandReduced(b: B, g: Node, x: Node, attrs: Attrs): Node {
  const axes = reduceAxes(attrs, x.shape.length);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return broadcastTo(b, b.add("reshape", [g], { shape: kept }), x.shape);
}

function extremum(op: "ge" | "le"): VjpRule {
  return (b, g, [x, y], out) => {
    const pick = b.add(op, [x, y]);
    const other = b.add("not", [pick]);
    return [
      toInput(b, b.add("select", [pick, g, zerosLike(b, g)]), x),
      toInput(b, b.add("select", [other, g, zerosLike(b, g)]), y),
    ].map((v, i) => (isFloat([x, y][i].dtype) ? v : undefined));
  };
}

/** Gradient of a strided slice: put g at every step-th position of each axis, zeros between, then pad. */
function sliceVjp(b: B, g: Node, x: Node, attrs: Attrs): Node {
  const starts = attrs.starts!;
  const steps = attrs.steps ?? starts.map(() => 1);
  let cur = g;
  for (let ax = 0; ax < x.shape.length; ax++) {
    const s = steps[ax];
    if (s === 1) continue;
    const n = cur.shape[ax];
    // [.., n, ..] → [.., n, 1, ..] ++ zeros [.., n, s-1, ..] along the new axis → [.., n·s, ..]
    const withUnit = [...cur.shape.slice(0, ax + 1), 1, ...cur.shape.slice(ax + 1)];
    // A full-shape `full`, not broadcastTo(scalar): broadcastTo keeps a scalar rank 0, which concat rejects.
    const zeros = b.add("full", [], {
      value: 0,
      dtype: g.dtype,
      shape: [...cur.shape.slice(0, ax + 1), s - 1, ...cur.shape.slice(ax + 1)],
    });
    const spread = b.add("concat", [b.add("reshape", [cur], { shape: withUnit }), zeros], { axis: ax + 1 });
    cur = b.add("reshape", [spread], { shape: cur.shape.map((d, i) => (i === ax ? n * s : d)) });
  }
  // cur now spans start .. start + n·step along each axis; trim or pad it into x's extent.
  const lo = starts.map((st) => st);
  const hi = x.shape.map((d, ax) => d - starts[ax] - cur.shape[ax]);
  const trimmed = hi.some((h) => h < 0)
    ? b.add("slice", [cur], {
        starts: cur.shape.map(() => 0),
        ends: cur.shape.map((d, ax) => Math.min(d, x.shape[ax] - starts[ax])),
      })
    : cur;
  return b.add("pad", [trimmed], { lo, hi: x.shape.map((d, ax) => d - starts[ax] - trimmed.shape[ax]), value: 0 });
}

function matmulVjp(b: B, g: Node, [a, bm]: readonly Node[], out: Node, attrs: Attrs): Node[] {
  const ta = !!attrs.transA;
  const tb = !!attrs.transB;
  // C = op(A)·op(B): d op(A) = g·op(B)ᵀ, d op(B) = op(A)ᵀ·g, transposed back when stored transposed.
  const da = ta ? b.add("matmul", [bm, g], { transA: tb, transB: true }) : b.add("matmul", [g, bm], { transB: !tb });
  void out;
  if (bm.shape.length === 2 && a.shape.length > 2 && !ta) {
    // A weight shared across batch dims: fold the batch into the contraction, one matmul with
    // K = rows instead of a batched matmul and a reduction over its batch.
    const k = a.shape[a.shape.length - 1];
    const rows = prod(a.shape.slice(0, -1));
    const a2 = b.add("reshape", [a], { shape: [rows, k] });
    const g2 = b.add("reshape", [g], { shape: [rows, g.shape[g.shape.length - 1]] });
    const db2 = tb ? b.add("matmul", [g2, a2], { transA: true }) : b.add("matmul", [a2, g2], { transA: true });
    return [sumTo(b, da, a.shape), db2];
  }
  const db = tb ? b.add("matmul", [g, a], { transA: true, transB: ta }) : b.add("matmul", [a, g], { transA: !ta });
  return [sumTo(b, da, a.shape), sumTo(b, db, bm.shape)];
}

function layerNormVjp(b: B, g: Node, [x, gamma]: readonly Node[], attrs: Attrs): Node[] {
  const last = x.shape.length - 1;
  const rows = x.shape.slice(0, -1).map((_, i) => i);
  const centered = sub(b, x, reduce(b, "reduce_mean", x, [last], true));
  const inv = unary(
    b,
    "rsqrt",
    add(b, reduce(b, "reduce_mean", unary(b, "square", centered), [last], true), k(b, attrs.eps ?? 1e-5, x)),
  );
  const xhat = mul(b, centered, inv);
  const dxhat = mul(b, g, gamma);
  const meanD = reduce(b, "reduce_mean", dxhat, [last], true);
  const meanDX = reduce(b, "reduce_mean", mul(b, dxhat, xhat), [last], true);
  const dx = mul(b, inv, sub(b, sub(b, dxhat, meanD), mul(b, xhat, meanDX)));
  return [dx, reduce(b, "reduce_sum", mul(b, g, xhat), rows), reduce(b, "reduce_sum", g, rows)];
}

/** How each op is differentiated. */
export type Differentiation = VjpRule | "via-lowering";

/** Rules keyed by op; the mapped type in `satisfies` below makes a missing op a type error. */
export const VJP_RULES = {
  input: noGrad,
  param: noGrad,
  neg: unaryRule((b, g) => unary(b, "neg", g)),
  abs: unaryRule((b, g, x) => mul(b, g, unary(b, "sign", x))),
  exp: unaryRule((b, g, _x, y) => mul(b, g, y)),
  log: unaryRule((b, g, x) => div(b, g, x)),
  sqrt: unaryRule((b, g, _x, y) => div(b, g, mul(b, y, k(b, 2, y)))),
  rsqrt: unaryRule((b, g, x, y) => mul(b, g, div(b, mul(b, y, k(b, -0.5, y)), x))),
  recip: unaryRule((b, g, _x, y) => unary(b, "neg", mul(b, g, unary(b, "square", y)))),
  square: unaryRule((b, g, x) => mul(b, g, mul(b, x, k(b, 2, x)))),
  tanh: unaryRule((b, g, _x, y) => mul(b, g, sub(b, k(b, 1, y), unary(b, "square", y)))),
  sigmoid: unaryRule((b, g, _x, y) => mul(b, g, mul(b, y, sub(b, k(b, 1, y), y)))),
  relu: unaryRule((b, g, x) =>
    b.add("select", [b.add("gt", [x, broadcastTo(b, k(b, 0, x), x.shape)]), g, zerosLike(b, g)]),
  ),
  gelu: unaryRule((b, g, x) => {
    // d/dx x·Φ(x) = Φ(x) + x·φ(x)
    const cdf = mul(b, add(b, k(b, 1, x), unary(b, "erf", mul(b, x, k(b, Math.SQRT1_2, x)))), k(b, 0.5, x));
    const pdf = mul(
      b,
      unary(b, "exp", mul(b, unary(b, "square", x), k(b, -0.5, x))),
      k(b, 1 / Math.sqrt(2 * Math.PI), x),
    );
    return mul(b, g, add(b, cdf, mul(b, x, pdf)));
  }),
  gelu_tanh: unaryRule((b, g, x) => {
    const c = Math.sqrt(2 / Math.PI);
    const x2 = unary(b, "square", x);
    const t = unary(b, "tanh", mul(b, mul(b, x, add(b, k(b, 1, x), mul(b, x2, k(b, 0.044715, x)))), k(b, c, x)));
    const dt = mul(
      b,
      sub(b, k(b, 1, x), unary(b, "square", t)),
      mul(b, add(b, k(b, 1, x), mul(b, x2, k(b, 3 * 0.044715, x))), k(b, c, x)),
    );
    return mul(b, g, mul(b, add(b, add(b, k(b, 1, x), t), mul(b, x, dt)), k(b, 0.5, x)));
  }),
  erf: unaryRule((b, g, x) =>
    mul(b, g, mul(b, unary(b, "exp", unary(b, "neg", unary(b, "square", x))), k(b, 2 / Math.sqrt(Math.PI), x))),
  ),
  sin: unaryRule((b, g, x) => mul(b, g, unary(b, "cos", x))),
  cos: unaryRule((b, g, x) => unary(b, "neg", mul(b, g, unary(b, "sin", x)))),
  floor: noGrad,
  ceil: noGrad,
  sign: noGrad,
  stop_gradient: noGrad,
  add: (b, g, [x, y]) => [toInput(b, g, x), toInput(b, g, y)],
  sub: (b, g, [x, y]) => [toInput(b, g, x), toInput(b, unary(b, "neg", g), y)],
  mul: (b, g, [x, y]) => [toInput(b, mul(b, g, y), x), toInput(b, mul(b, g, x), y)],
  div: (b, g, [x, y], out) => [toInput(b, div(b, g, y), x), toInput(b, unary(b, "neg", div(b, mul(b, g, out), y)), y)],
  max: extremum("ge"),
  min: extremum("le"),
  pow: (b, g, [x, y], out) => [
    toInput(b, mul(b, g, div(b, mul(b, y, out), x)), x),
    toInput(b, mul(b, g, mul(b, out, unary(b, "log", x))), y),
  ],
  eq: noGrad,
  ne: noGrad,
  lt: noGrad,
  le: noGrad,
  gt: noGrad,
  ge: noGrad,
  is_finite: noGrad,
  and: noGrad,
  or: noGrad,
  not: noGrad,
  select: (b, g, [c, x, y]) => [
    undefined,
    toInput(b, b.add("select", [c, g, zerosLike(b, g)]), x),
    toInput(b, b.add("select", [c, zerosLike(b, g), g]), y),
  ],
  cast: (b, g, [x]) => [isFloat(x.dtype) && isFloat(g.dtype) ? b.add("cast", [g], { dtype: x.dtype }) : undefined],
  full: noGrad,
  iota: noGrad,
  random_uniform: noGrad,
  random_normal: noGrad,
  reduce_sum: (b, g, [x], out) => [expandReduced(b, g, x, outAttrs(out))],
  reduce_mean: (b, g, [x], out) => [
    div(b, expandReduced(b, g, x, outAttrs(out)), k(b, prod(x.shape) / Math.max(1, prod(out.shape)), x)),
  ],
  reduce_max: (b, g, [x], out) => [extremeVjp(b, g, x, out)],
  reduce_min: (b, g, [x], out) => [extremeVjp(b, g, x, out)],
  reshape: (b, g, [x]) => [b.add("reshape", [g], { shape: x.shape })],
  permute: (b, g, [x], out) => {
    const perm = outAttrs(out).perm!;
    const inverse = perm.map((_, i) => perm.indexOf(i));
    void x;
    return [b.add("permute", [g], { perm: inverse })];
  },
  broadcast: (b, g, [x]) => [sumTo(b, g, x.shape)],
  slice: (b, g, [x], out) => [sliceVjp(b, g, x, outAttrs(out))],
  pad: (b, g, [x], out) => {
    const lo = outAttrs(out).lo!;
    return [b.add("slice", [g], { starts: lo, ends: lo.map((l, i) => l + x.shape[i]) })];
  },
  concat: (b, g, inputs, out) => {
    const axis = normAxis(outAttrs(out).axis!, out.shape.length);
    let start = 0;
    return inputs.map((x) => {
      const starts = out.shape.map((_, i) => (i === axis ? start : 0));
      const ends = out.shape.map((d, i) => (i === axis ? start + x.shape[axis] : d));
      start += x.shape[axis];
      return b.add("slice", [g], { starts, ends });
    });
  },
  matmul: (b, g, inputs, out) => matmulVjp(b, g, inputs, out, outAttrs(out)),
  gather: (b, g, [table, idx], out) => {
    const axis = normAxis(outAttrs(out).axis!, table.shape.length);
    return [b.add("scatter_add", [idx, g], { axis, size: table.shape[axis] }), undefined];
  },
  scatter_add: (b, g, [idx], out) => [undefined, b.add("gather", [g, idx], { axis: outAttrs(out).axis! })],
  write_rows: writeRowsVjp,
  softmax: (b, g, _inputs, y) => {
    const axis = normAxis(outAttrs(y).axis!, y.shape.length);
    return [mul(b, y, sub(b, g, reduce(b, "reduce_sum", mul(b, g, y), [axis], true)))];
  },
  log_softmax: (b, g, _inputs, y) => {
    const axis = normAxis(outAttrs(y).axis!, y.shape.length);
    return [sub(b, g, mul(b, unary(b, "exp", y), reduce(b, "reduce_sum", g, [axis], true)))];
  },
  layer_norm: (b, g, inputs, out) => layerNormVjp(b, g, inputs, outAttrs(out)),
  // Through its lowering unless the node chose the flash kernels (see vjpRuleFor).
  attention: "via-lowering",
  flash_attention: (b, g, inputs, out) => flashAttentionVjp(b, g, inputs, out),
  attention_lse: (b, g, inputs, out) => lseVjp(b, g, inputs, out),
  attention_dq: secondOrder,
  attention_dkv: secondOrder,
  sum_squares: endsAStep,
  adamw: endsAStep,
} satisfies { readonly [K in OpName]: Differentiation };

/** The rule differentiating node `n`: attention that chose the flash kernels gets the flash backward
 *  ops, so that neither pass stores the scores. */
export function vjpRuleFor(n: Node): Differentiation | undefined {
  if (n.op === "attention" && n.attrs.impl === "flash") return flashAttentionVjp;
  return differentiationOf(n.op);
}

/** The table's entry for `op`, or undefined for a name that is no op. */
export const differentiationOf = (op: string): Differentiation | undefined =>
  Object.hasOwn(VJP_RULES, op) ? VJP_RULES[op as OpName] : undefined;

/** The optimizer's ops end a training step; nothing differentiates through them. */
function endsAStep(_b: B, _g: Node, _inputs: readonly Node[], out: Node): never {
  throw new IrError(`${out.op} is an optimizer op (it ends a training step) and has no gradient`);
}

/** The gradient ops are not differentiated again: attention has no second-derivative rule. */
function secondOrder(_b: B, _g: Node, _inputs: readonly Node[], out: Node): never {
  throw new IrError(`${out.op} is itself a gradient; second derivatives of attention are not supported`);
}

/** mask and scale of an attention node, as the flash ops take them (no impl). */
const flashAttrs = (a: Attrs): Attrs => ({ mask: a.mask, ...(a.scale === undefined ? {} : { scale: a.scale }) });

/** dK and dV from attention_dkv's [..., Tk, D + Dv]. */
function splitDkv(b: B, dkv: Node, d: number): [Node, Node] {
  const last = dkv.shape.length - 1;
  const at = (x: number) => dkv.shape.map((n, i) => (i === last ? x : 0));
  const ends = (x: number) => dkv.shape.map((n, i) => (i === last ? x : n));
  return [
    b.add("slice", [dkv], { starts: at(0), ends: ends(d) }),
    b.add("slice", [dkv], { starts: at(d), ends: ends(dkv.shape[last]) }),
  ];
}

/**
 * Attention's gradient by the flash ops: the row log-sum-exp of the scores, delta_i = dO_i·O_i (in f32),
 * then dQ and dK|dV, each recomputing the scores blockwise; nothing of size Tq×Tk is stored.
 */
function flashAttentionVjp(b: B, g: Node, inputs: readonly Node[], out: Node): (Node | undefined)[] {
  const [q, k, v, ...len] = inputs;
  const a = flashAttrs(out.attrs);
  const lse = b.add("attention_lse", [q, k, ...len], a);
  const wide = (x: Node) => (x.dtype === "f32" ? x : b.add("cast", [x], { dtype: "f32" }));
  const delta = reduce(b, "reduce_sum", mul(b, wide(g), wide(out)), [out.shape.length - 1]);
  const dq = b.add("attention_dq", [q, k, v, g, lse, delta, ...len], a);
  const [dk, dv] = splitDkv(
    b,
    b.add("attention_dkv", [q, k, v, g, lse, delta, ...len], a),
    q.shape[q.shape.length - 1],
  );
  return inputs.map((_, i) => [dq, dk, dv][i]);
}

/**
 * d lse_i = Σ_j P_ij·ds_ij: the flash gradient ops with v = 1 (one column), dO = the lse cotangent and
 * delta = 0 give dS_ij = P_ij·g_i, hence dQ and dK of the lse.
 */
function lseVjp(b: B, g: Node, inputs: readonly Node[], out: Node): (Node | undefined)[] {
  const [q, k, ...len] = inputs;
  const a = flashAttrs(out.attrs);
  const lead = q.shape.slice(0, -2);
  const ones = b.add("full", [], { value: 1, dtype: q.dtype, shape: [...lead, k.shape[k.shape.length - 2], 1] });
  const dO = b.add("reshape", [g], { shape: [...g.shape, 1] });
  const zeros = b.add("full", [], { value: 0, dtype: "f32", shape: g.shape });
  const dq = b.add("attention_dq", [q, k, ones, dO, out, zeros, ...len], a);
  const [dk] = splitDkv(
    b,
    b.add("attention_dkv", [q, k, ones, dO, out, zeros, ...len], a),
    q.shape[q.shape.length - 1],
  );
  return inputs.map((_, i) => [dq, dk][i]);
}

/** Attributes of the node a rule is differentiating (rules receive the output node). */
function outAttrs(out: Node): Attrs {
  return out.attrs;
}

function extremeVjp(b: B, g: Node, x: Node, out: Node): Node {
  // Ties share the cotangent equally.
  const y = expandReduced(b, out, x, out.attrs);
  const hit = b.add("cast", [b.add("eq", [x, y])], { dtype: x.dtype });
  const count = expandReduced(
    b,
    reduce(b, "reduce_sum", hit, reduceAxes(out.attrs, x.shape.length), out.attrs.keepDims ?? false),
    x,
    out.attrs,
  );
  return div(b, mul(b, expandReduced(b, g, x, out.attrs), hit), count);
}
