// builtin-layout.ts: type rules of the builtins that rearrange, index, convert or measure tensors.
import { type Dim, dimEq, dimOp, evalDim, num, printDim } from "../dims.js";
import { type TensorTy, UNKNOWN, fmtTensor, fmtTy } from "../types.js";
import { type BuiltinRule, axisOf, dtypeArg, intArg, intList, tensorArg } from "./builtin-args.js";
import { broadcastTy } from "./shapes.js";

const sizeFor = (ds: readonly Dim[]): Dim => ds.reduce((acc, d) => dimOp("*", acc, d), num(1));

export const LAYOUT_RULES = {
  reshape: {
    slots: [{ name: "x" }, { name: "shape" }],
    doc: "reshape(x, [dims]): same elements, new shape",
    check(ctx, [x, s], span) {
      const t = tensorArg(ctx, x, "the input of reshape");
      const dims = intList(ctx, s, "the shape");
      if (!t || !dims) return UNKNOWN;
      if (t.rest === undefined && !dimEq(sizeFor(t.dims), sizeFor(dims), ctx.known)) {
        ctx.report(
          "M2110",
          span,
          `reshape changes the element count: ${fmtTensor(t)} to [${dims.map(printDim).join(", ")}]`,
          `${printDim(sizeFor(t.dims))} elements cannot become ${printDim(sizeFor(dims))}`,
        );
        return UNKNOWN;
      }
      return { k: "tensor", dtype: t.dtype, dims };
    },
  },
  permute: {
    slots: [{ name: "x" }, { name: "perm" }],
    doc: "permute(x, [axes]): reorder axes",
    check(ctx, [x, p]) {
      const t = tensorArg(ctx, x, "the input of permute");
      const perm = intList(ctx, p, "the permutation")?.map((d) => evalDim(d, ctx.known));
      if (!t || !perm || t.rest !== undefined) return UNKNOWN;
      const r = t.dims.length;
      if (perm.length !== r || perm.some((a) => a === undefined || a < 0 || a >= r) || new Set(perm).size !== r) {
        ctx.report(
          "M2109",
          p!.span,
          `[${perm.join(", ")}] is not a permutation of the ${r} axes of ${fmtTensor(t)}`,
          `list each of 0..${r - 1} once`,
        );
        return UNKNOWN;
      }
      return { ...t, dims: perm.map((a) => t.dims[a as number]) };
    },
  },
  concat: {
    slots: [{ name: "xs" }, { name: "axis" }],
    doc: "concat([a, b, …], axis: k): join along an axis",
    check(ctx, [xs, ax], span) {
      if (!xs || xs.ty.k === "unknown") return UNKNOWN;
      if (xs.ty.k !== "list" || xs.ty.items.length === 0) {
        ctx.report(
          "M2103",
          xs.span,
          `concat takes a list of tensors like [a, b], not ${fmtTy(xs.ty)}`,
          "wrap the tensors in brackets: concat([a, b], axis: 1)",
        );
        return UNKNOWN;
      }
      const ts = xs.ty.items.map((ty) => tensorArg(ctx, { ty, span: xs.span }, "each item of concat"));
      if (ts.some((t) => !t)) return UNKNOWN;
      const first = ts[0]!;
      const axis = axisOf(ctx, ax, first, 0);
      if (axis === undefined || first.rest !== undefined) return UNKNOWN;
      let total: Dim = num(0);
      for (const t of ts as TensorTy[]) {
        if (
          t.dtype !== first.dtype ||
          t.dims.length !== first.dims.length ||
          t.dims.some((d, i) => i !== axis && !dimEq(d, first.dims[i], ctx.known))
        ) {
          ctx.report(
            "M2106",
            span,
            `concat items differ off axis ${axis}: ${(ts as TensorTy[]).map(fmtTensor).join(", ")}`,
            "all items need the same dtype and the same dims except along the axis",
          );
          return UNKNOWN;
        }
        total = dimOp("+", total, t.dims[axis]);
      }
      return { ...first, dims: first.dims.map((d, i) => (i === axis ? total : d)) };
    },
  },
  broadcast: {
    slots: [{ name: "x" }, { name: "shape" }],
    doc: "broadcast(x, [dims]): repeat along size-1 and new leading axes",
    check(ctx, [x, s], span) {
      const t = tensorArg(ctx, x, "the input of broadcast");
      const dims = intList(ctx, s, "the shape");
      if (!t || !dims) return UNKNOWN;
      const target: TensorTy = { k: "tensor", dtype: t.dtype, dims };
      return broadcastTy(ctx, target, t, span, "broadcast") ? target : UNKNOWN;
    },
  },
  gather: {
    slots: [{ name: "table" }, { name: "idx" }, { name: "axis", optional: true }],
    doc: "gather(table, idx, axis: 0): rows of table picked by integer indices",
    check(ctx, [tb, ix, ax]) {
      const t = tensorArg(ctx, tb, "the table of gather");
      const i = tensorArg(ctx, ix, "the indices of gather");
      if (!t || !i) return UNKNOWN;
      if (i.dtype !== "i32" && i.dtype !== "u32")
        ctx.report(
          "M2111",
          ix!.span,
          `gather indices must be i32 or u32, got ${fmtTensor(i)}`,
          "convert them with cast(idx, i32)",
        );
      const axis = axisOf(ctx, ax, t, 0);
      if (axis === undefined || t.rest !== undefined) return UNKNOWN;
      return {
        k: "tensor",
        dtype: t.dtype,
        rest: i.rest,
        dims: [...t.dims.slice(0, axis), ...i.dims, ...t.dims.slice(axis + 1)],
      };
    },
  },
  one_hot: {
    slots: [{ name: "idx" }, { name: "n" }, { name: "dtype", optional: true }],
    doc: "one_hot(idx, n, dtype: f32): idx [...] → [..., n]",
    check(ctx, [ix, n, dt]) {
      const i = tensorArg(ctx, ix, "the indices of one_hot");
      const size = intArg(ctx, n, "the class count");
      return i && size ? { k: "tensor", dtype: dtypeArg(dt, "f32"), rest: i.rest, dims: [...i.dims, size] } : UNKNOWN;
    },
  },
  cast: {
    slots: [{ name: "x" }, { name: "dtype" }],
    doc: "cast(x, dtype): convert element type",
    check(ctx, [x, dt]) {
      const t = tensorArg(ctx, x, "the input of cast");
      if (dt && dt.ty.k !== "dtype" && dt.ty.k !== "unknown")
        ctx.report(
          "M2103",
          dt.span,
          `cast needs a dtype (f32, f16, i32, u32, bool), not ${fmtTy(dt.ty)}`,
          "write cast(x, f32)",
        );
      return t ? { ...t, dtype: dtypeArg(dt, t.dtype) } : UNKNOWN;
    },
  },
  iota: {
    slots: [{ name: "shape" }, { name: "axis" }, { name: "dtype", optional: true }],
    doc: "iota([dims], axis: k, dtype: i32): the coordinate along an axis",
    check(ctx, [s, ax, dt]) {
      const dims = intList(ctx, s, "the shape");
      if (!dims) return UNKNOWN;
      const t: TensorTy = { k: "tensor", dtype: dtypeArg(dt, "i32"), dims };
      axisOf(ctx, ax, t, 0);
      return t;
    },
  },
  dim: {
    slots: [{ name: "x" }, { name: "axis" }],
    doc: "dim(x, axis): the size of one axis, as an integer usable in shapes",
    check(ctx, [x, ax]) {
      const t = tensorArg(ctx, x, "the argument of dim");
      if (!t) return UNKNOWN;
      const axis = axisOf(ctx, ax, t, 0);
      if (axis === undefined) return UNKNOWN;
      const d = t.rest === undefined ? t.dims[axis] : t.dims[t.dims.length + axis];
      return d ? { k: "int", dim: d } : UNKNOWN;
    },
  },
} satisfies Record<string, BuiltinRule>;
