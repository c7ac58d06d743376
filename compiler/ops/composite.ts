// composite.ts: softmax, log-softmax, layer norm and masked attention. Each has an independent float64
// reference (the oracle) and a lowering to primitives, which is what kernels run until the fusion issue
// gives them hand-written kernels.
import { isFloat, isInt } from "../dtype.js";
import type { Attrs, MaskSpec, Node, TensorType } from "../ir.js";
import { type Shape, fmtShape, normAxis, prod, sameShape } from "../shape.js";
import { binary, broadcastTo, reduce, scalar, unary } from "./helpers.js";
import { fail, req } from "./rules.js";
import type { CompositeOp, NodeBuilder, RefTensor } from "./spec.js";

/** Score given to masked-out keys: finite, so a fully masked row averages all values uniformly. */
export const MASKED_SCORE = -1e30;

/** Whether query row i may attend to key column j (tq queries, tk keys; causal masks align ends). */
export function attentionMaskAllows(mask: MaskSpec, i: number, j: number, tq: number, tk: number): boolean {
  const pos = i + (tk - tq);
  switch (mask.kind) {
    case "causal":
      return j <= pos;
    case "block_causal":
      return Math.floor(j / mask.block) <= Math.floor(pos / mask.block);
    default:
      return true;
  }
}

/** Iterate rows of length `n` along `axis`: calls f(indices of that row). */
function forRows(shape: Shape, axis: number, f: (idx: number[]) => void): void {
  const n = shape[axis];
  const inner = prod(shape.slice(axis + 1));
  const outer = prod(shape.slice(0, axis));
  const idx = new Array<number>(n);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      for (let k = 0; k < n; k++) idx[k] = (o * n + k) * inner + i;
      f(idx);
    }
}

function softmaxRef(x: RefTensor, axis: number, log: boolean): Float64Array {
  const out = new Float64Array(x.data.length);
  forRows(x.shape, axis, (idx) => {
    let m = -Infinity;
    for (const i of idx) m = Math.max(m, x.data[i]);
    let s = 0;
    for (const i of idx) s += Math.exp(x.data[i] - m);
    for (const i of idx) out[i] = log ? x.data[i] - m - Math.log(s) : Math.exp(x.data[i] - m) / s;
  });
  return out;
}

function lowerSoftmax(b: NodeBuilder, x: Node, axis: number, log: boolean): Node {
  const m = b.add("stop_gradient", [reduce(b, "reduce_max", x, [axis], true)]); // shift only; cancels in the gradient
  const shifted = binary(b, "sub", x, m);
  const e = unary(b, "exp", shifted);
  const s = reduce(b, "reduce_sum", e, [axis], true);
  return log ? binary(b, "sub", shifted, unary(b, "log", s)) : binary(b, "div", e, s);
}

const floatSame =
  (op: string) =>
  ([x]: readonly TensorType[], a: Attrs): TensorType => {
    if (!isFloat(x.dtype)) fail(`${op}: needs a float tensor, got ${x.dtype}`);
    const axis = normAxis(req(op, a, "axis"), x.shape.length);
    if (axis < 0 || axis >= x.shape.length) fail(`${op}: axis ${a.axis} out of range for ${fmtShape(x.shape)}`);
    return x;
  };

export function attentionInfer(ins: readonly TensorType[], a: Attrs): TensorType {
  const [q, k, v] = ins;
  const mask = req("attention", a, "mask");
  const r = q.shape.length;
  if (r < 3 || k.shape.length !== r || v.shape.length !== r) {
    const got = [q, k, v].map((t) => fmtShape(t.shape)).join(", ");
    fail(`attention: q, k, v need one rank ≥ 3, got ${got}`);
  }
  if (!isFloat(q.dtype) || k.dtype !== q.dtype || v.dtype !== q.dtype) fail("attention: q, k, v need one float dtype");
  const lead = q.shape.slice(0, -2);
  if (!sameShape(lead, k.shape.slice(0, -2)) || !sameShape(lead, v.shape.slice(0, -2)))
    fail(`attention: batch dims differ: ${fmtShape(q.shape)}, ${fmtShape(k.shape)}, ${fmtShape(v.shape)}`);
  if (q.shape[r - 1] !== k.shape[r - 1])
    fail(`attention: q and k widths differ: ${fmtShape(q.shape)} vs ${fmtShape(k.shape)}`);
  if (k.shape[r - 2] !== v.shape[r - 2])
    fail(`attention: k and v lengths differ: ${fmtShape(k.shape)} vs ${fmtShape(v.shape)}`);
  if (mask.kind === "padding") {
    const len = ins[3];
    if (!len || !isInt(len.dtype) || len.shape.length !== 1 || len.shape[0] !== q.shape[0])
      fail(`attention: a padding mask needs lengths i32[${q.shape[0]}] as the fourth input`);
  } else if (ins.length !== 3) fail(`attention: only a padding mask takes a fourth input`);
  if (mask.kind === "block_causal" && !(mask.block >= 1)) fail("attention: block_causal needs a block size ≥ 1");
  return { dtype: q.dtype, shape: [...lead, q.shape[r - 2], v.shape[r - 1]] };
}

export function attentionRef(ins: readonly RefTensor[], a: Attrs, out: TensorType): Float64Array {
  const [q, k, v, len] = ins;
  const mask = req("attention", a, "mask");
  const r = q.shape.length;
  const [tq, d] = q.shape.slice(-2);
  const tk = k.shape[r - 2];
  const dv = v.shape[r - 1];
  const scale = a.scale ?? 1 / Math.sqrt(d);
  const batches = prod(q.shape.slice(0, -2));
  const perFirst = batches / q.shape[0];
  const res = new Float64Array(prod(out.shape));
  const s = new Float64Array(tk);
  for (let bh = 0; bh < batches; bh++) {
    const limit = mask.kind === "padding" ? len.data[Math.floor(bh / perFirst)] : tk;
    for (let i = 0; i < tq; i++) {
      let m = -Infinity;
      for (let j = 0; j < tk; j++) {
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q.data[(bh * tq + i) * d + c] * k.data[(bh * tk + j) * d + c];
        s[j] = attentionMaskAllows(mask, i, j, tq, tk) && j < limit ? dot * scale : MASKED_SCORE;
        m = Math.max(m, s[j]);
      }
      let z = 0;
      for (let j = 0; j < tk; j++) z += s[j] = Math.exp(s[j] - m);
      for (let c = 0; c < dv; c++) {
        let acc = 0;
        for (let j = 0; j < tk; j++) acc += s[j] * v.data[(bh * tk + j) * dv + c];
        res[(bh * tq + i) * dv + c] = acc / z;
      }
    }
  }
  return res;
}

/** Lowered attention: scores by matmul, mask by iota comparisons and select, softmax, matmul. */
function lowerAttention(b: NodeBuilder, ins: readonly Node[], a: Attrs): Node {
  const [q, k, v, len] = ins;
  const mask = req("attention", a, "mask");
  const r = q.shape.length;
  const [tq, d] = q.shape.slice(-2);
  const tk = k.shape[r - 2];
  const scores = binary(
    b,
    "mul",
    b.add("matmul", [q, k], { transB: true }),
    scalar(b, a.scale ?? 1 / Math.sqrt(d), q.dtype),
  );
  let allowed: Node | undefined;
  const rows = b.add("iota", [], { shape: [tq, tk], axis: 0, dtype: "i32" });
  const cols = b.add("iota", [], { shape: [tq, tk], axis: 1, dtype: "i32" });
  const pos = binary(b, "add", rows, scalar(b, tk - tq, "i32"));
  if (mask.kind === "causal") allowed = binary(b, "le", cols, pos);
  if (mask.kind === "block_causal") {
    // floor(x / m) for non-negative x is integer division; pos may be negative only when tq > tk.
    const blk = scalar(b, mask.block, "i32");
    const shiftedPos = binary(
      b,
      "add",
      pos,
      scalar(b, mask.block * Math.ceil(Math.max(0, tq - tk) / mask.block), "i32"),
    );
    const shiftedCol = binary(
      b,
      "add",
      cols,
      scalar(b, mask.block * Math.ceil(Math.max(0, tq - tk) / mask.block), "i32"),
    );
    allowed = binary(b, "le", binary(b, "div", shiftedCol, blk), binary(b, "div", shiftedPos, blk));
  }
  let allowedFull = allowed ? broadcastTo(b, allowed, scores.shape) : undefined;
  if (mask.kind === "padding") {
    const lead = q.shape.slice(0, -2);
    const lenShape = [q.shape[0], ...lead.slice(1).map(() => 1), 1, 1];
    const limit = broadcastTo(
      b,
      b.add("reshape", [b.add("cast", [len], { dtype: "i32" })], { shape: lenShape }),
      scores.shape,
    );
    const col = b.add("iota", [], { shape: scores.shape, axis: r - 1, dtype: "i32" });
    allowedFull = b.add("lt", [col, limit]);
  }
  const masked = allowedFull
    ? b.add("select", [allowedFull, scores, broadcastTo(b, scalar(b, MASKED_SCORE, q.dtype), scores.shape)])
    : scores;
  const p = b.add("softmax", [masked], { axis: r - 1 });
  return b.add("matmul", [p, v]);
}

function layerNormRef([x, gamma, beta]: readonly RefTensor[], a: Attrs): Float64Array {
  const eps = a.eps ?? 1e-5;
  const out = new Float64Array(x.data.length);
  forRows(x.shape, x.shape.length - 1, (idx) => {
    let mean = 0;
    for (const i of idx) mean += x.data[i];
    mean /= idx.length;
    let vr = 0;
    for (const i of idx) vr += (x.data[i] - mean) ** 2;
    vr /= idx.length;
    const inv = 1 / Math.sqrt(vr + eps);
    idx.forEach((i, c) => (out[i] = (x.data[i] - mean) * inv * gamma.data[c] + beta.data[c]));
  });
  return out;
}

function lowerLayerNorm(b: NodeBuilder, [x, gamma, beta]: readonly Node[], a: Attrs): Node {
  const last = x.shape.length - 1;
  const centered = binary(b, "sub", x, reduce(b, "reduce_mean", x, [last], true));
  const variance = reduce(b, "reduce_mean", unary(b, "square", centered), [last], true);
  const inv = unary(b, "rsqrt", binary(b, "add", variance, scalar(b, a.eps ?? 1e-5, x.dtype)));
  return binary(b, "add", binary(b, "mul", binary(b, "mul", centered, inv), gamma), beta);
}

export const COMPOSITE_OPS = {
  softmax: {
    kind: "composite",
    arity: 1,
    doc: "exp(x − max) / Σ exp(x − max) along axis",
    tol: { atol: 1e-6, rtol: 1e-5 },
    infer: floatSame("softmax"),
    ref: ([x], a) => softmaxRef(x, normAxis(req("softmax", a, "axis"), x.shape.length), false),
    lower: (b, [x], a) => lowerSoftmax(b, x, normAxis(req("softmax", a, "axis"), x.shape.length), false),
  },
  log_softmax: {
    kind: "composite",
    arity: 1,
    doc: "x − max − log Σ exp(x − max) along axis",
    tol: { atol: 1e-5, rtol: 1e-5 },
    infer: floatSame("log_softmax"),
    ref: ([x], a) => softmaxRef(x, normAxis(req("log_softmax", a, "axis"), x.shape.length), true),
    lower: (b, [x], a) => lowerSoftmax(b, x, normAxis(req("log_softmax", a, "axis"), x.shape.length), true),
  },
  layer_norm: {
    kind: "composite",
    arity: 3,
    doc: "(x − mean)/sqrt(var + eps)·γ + β over the last axis",
    tol: { atol: 1e-5, rtol: 1e-4 },
    infer: ([x, g, bt]) => {
      const dlast = x.shape[x.shape.length - 1];
      if (!isFloat(x.dtype) || x.shape.length < 1)
        fail(`layer_norm: needs a float tensor of rank ≥ 1, got ${x.dtype}${fmtShape(x.shape)}`);
      if (!sameShape(g.shape, [dlast]) || !sameShape(bt.shape, [dlast]) || g.dtype !== x.dtype || bt.dtype !== x.dtype)
        fail(
          `layer_norm: γ and β must be ${x.dtype}[${dlast}], ` +
            `got ${g.dtype}${fmtShape(g.shape)} and ${bt.dtype}${fmtShape(bt.shape)}`,
        );
      return x;
    },
    ref: layerNormRef,
    lower: lowerLayerNorm,
  },
  attention: {
    kind: "composite",
    arity: "variadic",
    doc: "softmax(q·kᵀ·scale + mask)·v with none/causal/block_causal/padding/cross masks",
    tol: { atol: 2e-5, rtol: 1e-4 },
    infer: attentionInfer,
    ref: attentionRef,
    lower: lowerAttention,
  },
} satisfies Record<string, CompositeOp>;
