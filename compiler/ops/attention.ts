// attention.ts: the flash-attention ops — attention computed without materialising the Tq×Tk score
// matrix (flash_attention), the row log-sum-exp of the masked scores (attention_lse), and the two halves
// of attention's gradient (attention_dq, attention_dkv), which recompute the scores from q, k and the lse.
// passes/lower-composites.ts runs `attention` as flash_attention when passes/choose-attention.ts says
// so, and grad.ts then emits the backward ops instead of differentiating the lowering. The float64
// references here follow attentionMaskAllows and MASKED_SCORE exactly (a fully masked row averages all
// values), independently of the prefix form of the masks (keyEnd) that the kernels loop over.
import { isFloat } from "../dtype.js";
import type { Attrs, MaskSpec, TensorType } from "../ir.js";
import { type Shape, fmtShape, prod, sameShape } from "../shape.js";
import { MASKED_SCORE, attentionInfer, attentionMaskAllows, attentionRef } from "./composite.js";
import { fail, req } from "./rules.js";
import type { RefTensor, TensorOp } from "./spec.js";

/** Sizes of one attention: q [...lead, tq, d], k [...lead, tk, d], v [...lead, tk, dv]. */
export interface AttentionDims {
  readonly lead: Shape;
  readonly bh: number; // prod(lead): independent (batch, head) problems
  readonly perFirst: number; // problems per entry of lead[0], which padding lengths index
  readonly tq: number;
  readonly tk: number;
  readonly d: number;
  readonly dv: number;
  readonly scale: number;
  readonly mask: MaskSpec;
}

export function attentionDims(q: Shape, k: Shape, dv: number, attrs: Attrs): AttentionDims {
  const r = q.length;
  const lead = q.slice(0, -2);
  const bh = prod(lead);
  const d = q[r - 1];
  return {
    lead,
    bh,
    perFirst: lead[0] === 0 ? 0 : bh / lead[0],
    tq: q[r - 2],
    tk: k[r - 2],
    d,
    dv,
    scale: attrs.scale ?? 1 / Math.sqrt(d),
    mask: req("attention", attrs, "mask"),
  };
}

/**
 * Every mask lets query row i see a prefix of the keys: allowed(i, j) ⟺ j < keyEnd(i), where `limit` is
 * the padding length (≥ tk for other masks). Kernels loop over that prefix instead of testing each key;
 * test/compiler/flash-attention.test.ts checks it against attentionMaskAllows. 0 means a fully masked row.
 */
export function keyEnd(mask: MaskSpec, i: number, tq: number, tk: number, limit: number): number {
  const pos = i + (tk - tq);
  let end = tk;
  if (mask.kind === "causal") end = pos + 1;
  if (mask.kind === "block_causal") end = pos < 0 ? 0 : (Math.floor(pos / mask.block) + 1) * mask.block;
  return Math.max(0, Math.min(end, tk, limit));
}

/** Padding length of problem bh (tk when the mask is not padding): keys at or past it are masked. */
function limitOf(dims: AttentionDims, len: RefTensor | undefined, bh: number): number {
  return dims.mask.kind === "padding" ? len!.data[Math.floor(bh / dims.perFirst)] : dims.tk;
}

/** Scaled scores of query row i of problem bh into `s`, MASKED_SCORE where the mask forbids; `allowed`
 *  marks the keys the mask allows. Returns whether any key is allowed. */
function scoresOf(
  q: RefTensor,
  k: RefTensor,
  dims: AttentionDims,
  bh: number,
  i: number,
  limit: number,
  s: Float64Array,
  allowed: Uint8Array,
): boolean {
  const { tq, tk, d } = dims;
  let any = false;
  for (let j = 0; j < tk; j++) {
    allowed[j] = attentionMaskAllows(dims.mask, i, j, tq, tk) && j < limit ? 1 : 0;
    if (!allowed[j]) {
      s[j] = MASKED_SCORE;
      continue;
    }
    any = true;
    let dot = 0;
    for (let c = 0; c < d; c++) dot += q.data[(bh * tq + i) * d + c] * k.data[(bh * tk + j) * d + c];
    s[j] = dot * dims.scale;
  }
  return any;
}

/** log Σ_j exp(s_ij) per query row, masked scores included. A fully masked row, whose probabilities are
 *  uniform, gets log tk (its scores taken as 0): MASKED_SCORE + log tk would be MASKED_SCORE at any float
 *  precision, and a value of −1e30 swamps every finite difference of a loss that reads it. */
function lseRef([q, k, len]: readonly RefTensor[], a: Attrs): Float64Array {
  const dims = attentionDims(q.shape, k.shape, 0, a);
  const out = new Float64Array(dims.bh * dims.tq);
  const s = new Float64Array(dims.tk);
  const allowed = new Uint8Array(dims.tk);
  for (let bh = 0; bh < dims.bh; bh++) {
    const limit = limitOf(dims, len, bh);
    for (let i = 0; i < dims.tq; i++) {
      if (!scoresOf(q, k, dims, bh, i, limit, s, allowed)) {
        out[bh * dims.tq + i] = Math.log(dims.tk);
        continue;
      }
      let m = -Infinity;
      for (const x of s) m = Math.max(m, x);
      let z = 0;
      for (const x of s) z += Math.exp(x - m);
      out[bh * dims.tq + i] = m + Math.log(z);
    }
  }
  return out;
}

/**
 * Gradients of attention from the output cotangent dO, the row lse (attention_lse) and delta_i = dO_i·O_i:
 * with P_ij = exp(s_ij − lse_i) where allowed (1/tk across a fully masked row, 0 elsewhere),
 * dS_ij = P_ij·(dO_i·v_j − delta_i) where allowed (masked scores are constants), dQ = scale·dS·K,
 * dK = scale·dSᵀ·Q, dV = Pᵀ·dO. `which` selects dQ, or dK and dV side by side ([..., tk, d + dv]).
 */
function gradRef(which: "dq" | "dkv") {
  return (ins: readonly RefTensor[], a: Attrs): Float64Array => {
    const [q, k, v, dO, lse, delta, len] = ins;
    const dims = attentionDims(q.shape, k.shape, v.shape[v.shape.length - 1], a);
    const { tq, tk, d, dv, scale } = dims;
    const w = d + dv;
    const out = new Float64Array(which === "dq" ? dims.bh * tq * d : dims.bh * tk * w);
    const s = new Float64Array(tk);
    const allowed = new Uint8Array(tk);
    for (let bh = 0; bh < dims.bh; bh++) {
      const limit = limitOf(dims, len, bh);
      for (let i = 0; i < tq; i++) {
        const any = scoresOf(q, k, dims, bh, i, limit, s, allowed);
        const row = bh * tq + i;
        for (let j = 0; j < tk; j++) {
          const p = !any ? 1 / tk : allowed[j] ? Math.exp(s[j] - lse.data[row]) : 0;
          let dp = 0;
          for (let c = 0; c < dv; c++) dp += dO.data[row * dv + c] * v.data[(bh * tk + j) * dv + c];
          const ds = allowed[j] ? p * (dp - delta.data[row]) * scale : 0;
          if (which === "dq") {
            for (let c = 0; c < d; c++) out[row * d + c] += ds * k.data[(bh * tk + j) * d + c];
          } else {
            const o = (bh * tk + j) * w;
            for (let c = 0; c < d; c++) out[o + c] += ds * q.data[row * d + c];
            for (let c = 0; c < dv; c++) out[o + d + c] += p * dO.data[row * dv + c];
          }
        }
      }
    }
    return out;
  };
}

/** q, k, v (+ lengths) as attention takes them, then dO, lse and delta. */
function gradInfer(which: "dq" | "dkv") {
  const op = which === "dq" ? "attention_dq" : "attention_dkv";
  return (ins: readonly TensorType[], a: Attrs): TensorType => {
    if (ins.length !== 6 && ins.length !== 7)
      fail(`${op}: takes q, k, v, dO, lse, delta (and lengths for a padding mask), got ${ins.length} inputs`);
    const [q, k, v, dO, lse, delta, len] = ins;
    const o = attentionInfer(len ? [q, k, v, len] : [q, k, v], a);
    if (!isFloat(dO.dtype) || !sameShape(dO.shape, o.shape))
      fail(`${op}: dO must be a float ${fmtShape(o.shape)}, got ${dO.dtype}${fmtShape(dO.shape)}`);
    const rows = o.shape.slice(0, -1);
    for (const [name, t] of [
      ["lse", lse],
      ["delta", delta],
    ] as const) {
      if (t.dtype !== "f32" || !sameShape(t.shape, rows))
        fail(`${op}: ${name} must be f32${fmtShape(rows)}, got ${t.dtype}${fmtShape(t.shape)}`);
    }
    if (which === "dq") return q;
    const r = q.shape.length;
    return { dtype: q.dtype, shape: [...q.shape.slice(0, -2), k.shape[r - 2], q.shape[r - 1] + v.shape[r - 1]] };
  };
}

export const ATTENTION_OPS = {
  flash_attention: {
    kind: "attention",
    arity: "variadic",
    doc: "attention (as the composite) by online softmax over key blocks, never storing the scores",
    tol: { atol: 2e-5, rtol: 1e-4 },
    infer: attentionInfer,
    ref: attentionRef,
  },
  attention_lse: {
    kind: "attention",
    arity: "variadic",
    doc:
      "log Σ_j exp(masked scaled q·kᵀ) per query row (f32; log Tk for a fully masked row), " +
      "for attention's gradient",
    tol: { atol: 2e-5, rtol: 1e-5 },
    infer: (ins, a) => {
      if (ins.length !== 2 && ins.length !== 3)
        fail(`attention_lse: takes q, k (and lengths for a padding mask), got ${ins.length} inputs`);
      const [q, k, len] = ins;
      const o = attentionInfer(len ? [q, k, k, len] : [q, k, k], a);
      return { dtype: "f32", shape: o.shape.slice(0, -1) };
    },
    ref: lseRef,
  },
  attention_dq: {
    kind: "attention",
    arity: "variadic",
    doc: "dQ of attention from q, k, v, dO, lse and delta = Σ dO·O, scores recomputed per key",
    tol: { atol: 5e-5, rtol: 1e-4 },
    infer: gradInfer("dq"),
    ref: gradRef("dq"),
  },
  attention_dkv: {
    kind: "attention",
    arity: "variadic",
    doc: "dK and dV of attention side by side [..., Tk, D + Dv], scores recomputed per query",
    tol: { atol: 5e-5, rtol: 1e-4 },
    infer: gradInfer("dkv"),
    ref: gradRef("dkv"),
  },
} satisfies Record<string, TensorOp>;
