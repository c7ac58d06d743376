// builtin-nn.ts: type rules of where, layer_norm, attention and the losses (cross_entropy, mse).
import { dimEq, printDim } from "../dims.js";
import { type TensorTy, UNKNOWN, fmtTensor, fmtTy } from "../types.js";
import { type BuiltinRule, tensorArg } from "./builtin-args.js";
import { broadcastTy, scalarTy } from "./shapes.js";

export const NN_RULES = {
  where: {
    slots: [{ name: "cond" }, { name: "a" }, { name: "b" }],
    doc: "where(cond, a, b): a where cond is true, else b",
    check(ctx, [c, a, b], span) {
      const ct = tensorArg(ctx, c, "the condition of where");
      const x = tensorArg(ctx, a, "the second argument of where");
      const y = tensorArg(ctx, b, "the third argument of where");
      if (ct && ct.dtype !== "bool")
        ctx.report(
          "M2111",
          c!.span,
          `the condition of where must be bool, got ${fmtTensor(ct)}`,
          "compare values, e.g. x > 0",
        );
      return x && y ? (broadcastTy(ctx, x, y, span, "where") ?? UNKNOWN) : UNKNOWN;
    },
  },
  layer_norm: {
    slots: [{ name: "x" }, { name: "gamma" }, { name: "beta" }, { name: "eps", optional: true }],
    doc: "layer_norm(x, gamma, beta, eps: 1e-5) over the last axis",
    check(ctx, [x, g, b]) {
      const t = tensorArg(ctx, x, "the input of layer_norm");
      for (const [p, what] of [
        [g, "gamma"],
        [b, "beta"],
      ] as const) {
        const pt = tensorArg(ctx, p, what);
        if (
          t &&
          pt &&
          t.dims.length > 0 &&
          (pt.dims.length !== 1 || !dimEq(pt.dims[0], t.dims[t.dims.length - 1], ctx.known))
        )
          ctx.report(
            "M2106",
            p!.span,
            `${what} is ${fmtTensor(pt)} but must be ${t.dtype}[${printDim(t.dims[t.dims.length - 1])}] ` +
              `to match ${fmtTensor(t)}`,
            "γ and β have the size of the last axis",
          );
      }
      return t ?? UNKNOWN;
    },
  },
  attention: {
    slots: [
      { name: "q" },
      { name: "k" },
      { name: "v" },
      { name: "mask", optional: true },
      { name: "scale", optional: true },
    ],
    doc:
      "attention(q, k, v, mask: causal, scale: 1/sqrt(d)): " +
      "q [..., Tq, dk], k [..., Tk, dk], v [..., Tk, dv] → [..., Tq, dv]",
    check(ctx, [q, k, v, m], span) {
      const [qt, kt, vt] = [tensorArg(ctx, q, "q"), tensorArg(ctx, k, "k"), tensorArg(ctx, v, "v")];
      if (m && m.ty.k !== "mask" && m.ty.k !== "unknown")
        ctx.report(
          "M2103",
          m.span,
          `mask must be a mask (none, causal, cross, block_causal(m), padding(lengths)), not ${fmtTy(m.ty)}`,
          "write mask: causal (or none, cross, block_causal(m), padding(lengths))",
        );
      if (!qt || !kt || !vt) return UNKNOWN;
      const last = (t: TensorTy, i: number) => t.dims[t.dims.length - i];
      if (qt.dims.length < 2 || kt.dims.length < 2 || vt.dims.length < 2) {
        ctx.report(
          "M2107",
          span,
          `attention needs q, k, v of rank ≥ 2: ${fmtTensor(qt)}, ${fmtTensor(kt)}, ${fmtTensor(vt)}`,
          "split heads first: [B, heads, T, d_head]",
        );
        return UNKNOWN;
      }
      if (!dimEq(last(qt, 1), last(kt, 1), ctx.known))
        ctx.report(
          "M2106",
          span,
          `q and k widths differ: ${fmtTensor(qt)} and ${fmtTensor(kt)}`,
          "project q and k to the same width",
        );
      else if (!dimEq(last(kt, 2), last(vt, 2), ctx.known))
        ctx.report(
          "M2106",
          span,
          `k and v lengths differ: ${fmtTensor(kt)} and ${fmtTensor(vt)}`,
          "k and v come from the same tokens",
        );
      else return { ...qt, dims: [...qt.dims.slice(0, -1), last(vt, 1)] };
      return UNKNOWN;
    },
  },
  cross_entropy: {
    slots: [{ name: "logits" }, { name: "targets" }],
    doc: "cross_entropy(logits [..., V], targets [...] of i32): mean negative log-likelihood, a scalar",
    check(ctx, [l, tg], span) {
      const lt = tensorArg(ctx, l, "the logits");
      const tt = tensorArg(ctx, tg, "the targets");
      if (!lt || !tt) return scalarTy();
      if (tt.dtype !== "i32" && tt.dtype !== "u32")
        ctx.report(
          "M2111",
          tg!.span,
          `targets must be i32 class indices, got ${fmtTensor(tt)}`,
          "convert them with cast(t, i32)",
        );
      else if (
        lt.rest === undefined &&
        tt.rest === undefined &&
        (lt.dims.length !== tt.dims.length + 1 || tt.dims.some((d, i) => !dimEq(d, lt.dims[i], ctx.known)))
      )
        ctx.report(
          "M2106",
          span,
          `targets ${fmtTensor(tt)} do not match logits ${fmtTensor(lt)}`,
          "targets have the logits' shape without the last (class) axis",
        );
      return scalarTy(lt.dtype);
    },
  },
  mse: {
    slots: [{ name: "a" }, { name: "b" }],
    doc: "mse(a, b): mean squared difference of two tensors of one shape, a scalar",
    check(ctx, [a, b], span) {
      const x = tensorArg(ctx, a, "the first argument of mse");
      const y = tensorArg(ctx, b, "the second argument of mse");
      // Equal shapes, not broadcasting: a [B, 3, n] prediction against a [B, 1, n] target is a bug
      // that broadcasting would hide.
      if (
        x &&
        y &&
        (x.dtype !== y.dtype ||
          x.rest !== y.rest ||
          x.dims.length !== y.dims.length ||
          x.dims.some((d, i) => !dimEq(d, y.dims[i], ctx.known)))
      )
        ctx.report(
          "M2106",
          span,
          `mse compares tensors of one shape, not ${fmtTensor(x)} and ${fmtTensor(y)}`,
          "make the shapes equal; broadcast(x, [dims]) first if repeating one is meant",
        );
      return scalarTy(x?.dtype ?? "f32");
    },
  },
} satisfies Record<string, BuiltinRule>;
