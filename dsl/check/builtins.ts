// builtins.ts: the built-in functions and values of .mira as the checker sees them — argument slots
// and a type rule each. This is the language's list of builtins: compiler/lower/builtins.ts gives each
// an IR lowering in a table typed by `BuiltinName` and `BuiltinValueName`, so a builtin added here
// without a lowering fails tsc (dsl/ may not import compiler/, so the list lives on this side).
import type * as A from "../ast.js";
import { type Dim, dimEq, dimOp, evalDim, num, printDim } from "../dims.js";
import { type DType, type TensorTy, type Ty, UNKNOWN, fmtTensor, fmtTy } from "../types.js";
import type { Slot } from "./args.js";
import type { Ctx } from "./env.js";
import { broadcastTy, scalarTy } from "./shapes.js";

export interface CheckedArg {
  readonly ty: Ty;
  readonly span: A.Span;
}

export interface BuiltinRule {
  readonly slots: readonly Slot[];
  readonly doc: string;
  check(ctx: Ctx, args: readonly (CheckedArg | undefined)[], span: A.Span): Ty;
}

/** Unary elementwise builtins, each named as the IR op it lowers to. */
export const UNARY_FLOAT = [
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "tanh",
  "sigmoid",
  "relu",
  "gelu",
  "gelu_tanh",
  "sin",
  "cos",
  "square",
  "recip",
  "floor",
  "ceil",
] as const;
export const UNARY_ANY = ["abs", "sign", "stop_gradient"] as const;
export const INIT_NAMES = ["zeros", "ones", "xavier", "glorot"] as const;
export const INIT_FUNCS = ["normal", "uniform", "constant"] as const;
export const MASK_VALUES = ["none", "causal", "cross"] as const;

export function tensorArg(ctx: Ctx, a: CheckedArg | undefined, what: string): TensorTy | undefined {
  if (!a || a.ty.k === "unknown") return undefined;
  if (a.ty.k === "tensor") return a.ty;
  ctx.report("M2103", a.span, `${what} must be a tensor, not ${fmtTy(a.ty)}`, "pass a tensor value here");
  return undefined;
}

/** A compile-time integer (axis, size); symbolic dims are fine where `symbolic` is set. */
export function intArg(ctx: Ctx, a: CheckedArg | undefined, what: string): Dim | undefined {
  if (!a || a.ty.k === "unknown") return undefined;
  if (a.ty.k === "int") return a.ty.dim;
  ctx.report(
    "M2103",
    a.span,
    `${what} must be an integer, not ${fmtTy(a.ty)}`,
    "use an integer literal, a dim or integer config value",
  );
  return undefined;
}

export function constInt(ctx: Ctx, a: CheckedArg | undefined, what: string): number | undefined {
  const d = intArg(ctx, a, what);
  if (!d || !a) return undefined;
  const v = evalDim(d, ctx.known);
  if (v === undefined)
    ctx.report("M2103", a.span, `${what} must be a constant, not '${printDim(d)}'`, "use a literal such as -1");
  return v;
}

function intList(ctx: Ctx, a: CheckedArg | undefined, what: string): Dim[] | undefined {
  if (!a || a.ty.k === "unknown") return undefined;
  if (a.ty.k === "int") return [a.ty.dim];
  if (a.ty.k !== "list" || a.ty.items.some((t) => t.k !== "int" && t.k !== "unknown")) {
    ctx.report(
      "M2103",
      a.span,
      `${what} must be a list of integers like [B, T, d], not ${fmtTy(a.ty)}`,
      "write the dims as a list, e.g. [B, T * m, d]",
    );
    return undefined;
  }
  return a.ty.items.map((t) => (t.k === "int" ? t.dim : num(1)));
}

function axisOf(ctx: Ctx, a: CheckedArg | undefined, t: TensorTy, fallback: number): number | undefined {
  const v = a ? constInt(ctx, a, "axis") : fallback;
  if (v === undefined) return undefined;
  // with unknown leading dims only end-relative axes are checkable
  if (t.rest !== undefined) return v < 0 ? v : undefined;
  const r = t.dims.length;
  if (v < -r || v >= r) {
    ctx.report(
      "M2109",
      a?.span ?? { file: "", start: 0, end: 0 },
      `axis ${v} is out of range for ${fmtTensor(t)}`,
      `use an axis in ${-r}..${r - 1}`,
    );
    return undefined;
  }
  return v < 0 ? v + r : v;
}

const dtypeArg = (a: CheckedArg | undefined, fallback: DType): DType => (a?.ty.k === "dtype" ? a.ty.dtype : fallback);

const sizeFor = (ds: readonly Dim[]): Dim => ds.reduce((acc, d) => dimOp("*", acc, d), num(1));

function elementwise(name: string, anyDtype: boolean): BuiltinRule {
  return {
    slots: [{ name: "x" }],
    doc: `${name}(x), elementwise`,
    check(ctx, [x]) {
      if (x?.ty.k === "float" || x?.ty.k === "int") return { k: "float" };
      const t = tensorArg(ctx, x, `the argument of ${name}`);
      if (!t) return UNKNOWN;
      if (!anyDtype && t.dtype !== "f32" && t.dtype !== "f16")
        ctx.report(
          "M2111",
          x!.span,
          `${name} needs a float tensor, got ${fmtTensor(t)}`,
          "convert it with cast(x, f32)",
        );
      return t;
    },
  };
}

function binaryRule(name: string): BuiltinRule {
  return {
    slots: [{ name: "a" }, { name: "b" }],
    doc: `${name}(a, b), elementwise with broadcasting`,
    check(ctx, [a, b], span) {
      const x = tensorArg(ctx, a, `the first argument of ${name}`);
      const y = b?.ty.k === "int" || b?.ty.k === "float" ? x : tensorArg(ctx, b, `the second argument of ${name}`);
      return x && y ? (broadcastTy(ctx, x, y, span, name) ?? UNKNOWN) : UNKNOWN;
    },
  };
}

function reduction(name: string): BuiltinRule {
  return {
    slots: [{ name: "x" }, { name: "axis", optional: true }, { name: "keep", optional: true }],
    doc: `${name}(x, axis: a | [a, b], keep: false)`,
    check(ctx, [x, axis, keep]) {
      const t = tensorArg(ctx, x, `the argument of ${name}`);
      if (!t) return UNKNOWN;
      if (!axis) return scalarTy(t.dtype);
      const list = axis.ty.k === "list" ? axis.ty.items.map((ty) => ({ ty, span: axis.span })) : [axis];
      const axes = list.map((a) => axisOf(ctx, a, t, 0));
      if (axes.some((a) => a === undefined) || t.rest !== undefined)
        return t.rest !== undefined ? { ...t, dims: t.dims.slice(0, -1) } : UNKNOWN;
      const kept = keep?.ty.k === "bool";
      return { ...t, dims: t.dims.flatMap((d, i) => (axes.includes(i) ? (kept ? [num(1)] : []) : [d])) };
    },
  };
}

const softmaxRule = (name: string): BuiltinRule => ({
  slots: [{ name: "x" }, { name: "axis", optional: true }],
  doc: `${name}(x, axis: -1)`,
  check(ctx, [x, axis]) {
    const t = tensorArg(ctx, x, `the argument of ${name}`);
    if (t && axis) axisOf(ctx, axis, t, -1);
    return t ?? UNKNOWN;
  },
});

const fill = (name: string, withValue: boolean): BuiltinRule => ({
  slots: withValue
    ? [{ name: "shape" }, { name: "value" }, { name: "dtype", optional: true }]
    : [{ name: "shape" }, { name: "dtype", optional: true }],
  doc: `${name}([dims]${withValue ? ", value" : ""}, dtype: f32)`,
  check(ctx, args) {
    const dims = intList(ctx, args[0], "the shape");
    return dims ? { k: "tensor", dtype: dtypeArg(args[withValue ? 2 : 1], "f32"), dims } : UNKNOWN;
  },
});

const init = (slots: Slot[], doc: string): BuiltinRule => ({ slots, doc, check: () => ({ k: "init" }) });
const mask = (slots: Slot[], doc: string): BuiltinRule => ({ slots, doc, check: () => ({ k: "mask" }) });

/** One rule per name, keeping the names in the type (Object.fromEntries would widen them to string). */
function each<N extends string>(names: readonly N[], rule: (name: N) => BuiltinRule): Record<N, BuiltinRule> {
  return Object.fromEntries(names.map((n) => [n, rule(n)])) as Record<N, BuiltinRule>;
}

const BUILTIN_TABLE = {
  ...each(UNARY_FLOAT, (n) => elementwise(n, false)),
  ...each(UNARY_ANY, (n) => elementwise(n, true)),
  maximum: binaryRule("maximum"),
  minimum: binaryRule("minimum"),
  pow: binaryRule("pow"),
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
  sum: reduction("sum"),
  mean: reduction("mean"),
  amax: reduction("amax"),
  amin: reduction("amin"),
  softmax: softmaxRule("softmax"),
  log_softmax: softmaxRule("log_softmax"),
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
  zeros: fill("zeros", false),
  ones: fill("ones", false),
  full: fill("full", true),
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
  normal: init([{ name: "std" }], "normal(std): N(0, std²) initialiser"),
  uniform: init([{ name: "lo" }, { name: "hi" }], "uniform(lo, hi) initialiser"),
  constant: init([{ name: "value" }], "constant(v) initialiser"),
  block_causal: mask([{ name: "block" }], "block_causal(m): token i sees tokens of blocks ≤ its own (blocks of m)"),
  padding: mask([{ name: "lengths" }], "padding(lengths): keys at positions ≥ lengths[b] are hidden"),
} satisfies Record<string, BuiltinRule>;

export type BuiltinName = keyof typeof BUILTIN_TABLE;
export const BUILTINS: Readonly<Record<string, BuiltinRule>> = BUILTIN_TABLE;

const VALUE_TABLE = {
  none: { k: "mask" },
  causal: { k: "mask" },
  cross: { k: "mask" },
  xavier: { k: "init" },
  glorot: { k: "init" },
  true: { k: "bool" },
  false: { k: "bool" },
  f32: { k: "dtype", dtype: "f32" },
  f16: { k: "dtype", dtype: "f16" },
  i32: { k: "dtype", dtype: "i32" },
  u32: { k: "dtype", dtype: "u32" },
  bool: { k: "dtype", dtype: "bool" },
} satisfies Record<string, Ty>;

export type BuiltinValueName = keyof typeof VALUE_TABLE;
/** Names that are values, not functions. */
export const BUILTIN_VALUES: Readonly<Record<string, Ty>> = VALUE_TABLE;
