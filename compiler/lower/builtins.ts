// builtins.ts: the IR lowering of each .mira builtin. Arguments arrive bound to slots and evaluated.
// The language's list of builtins is dsl/check/builtins.ts (the checker's signatures): the language
// surface belongs to dsl/, which may not import compiler/. This table is typed by that list's names
// (`{ [K in BuiltinName]: … }`), so a builtin without a lowering, or a lowering of no builtin, fails
// tsc. A unary builtin is named as the IR op it lowers to, and on a number it folds by that op entry's
// own scalar function (compiler/ops/), so each formula is written once.
import { type BuiltinName, type BuiltinValueName, UNARY_ANY, UNARY_FLOAT } from "../../dsl/check/builtins.js";
import type { DType } from "../dtype.js";
import type { Node } from "../ir.js";
import { binary, broadcastTo, reduce, scalar } from "../ops/helpers.js";
import { OPS, type OpName } from "../ops/index.js";
import type { ElementwiseOp, NodeBuilder, ScalarContext } from "../ops/spec.js";
import type { Val } from "./values.js";

export interface LowerCtx {
  readonly b: NodeBuilder;
  fail(message: string, hint?: string): never;
  tensor(v: Val | undefined, what: string): Node;
  int(v: Val | undefined, what: string): number;
  num(v: Val | undefined, what: string): number;
}

type Lowering = (c: LowerCtx, args: readonly (Val | undefined)[]) => Val;

const t = (node: Node): Val => ({ k: "tensor", node });
const dtypeOr = (v: Val | undefined, d: DType): DType => (v?.k === "dtype" ? v.dtype : d);
const axisIn = (c: LowerCtx, v: Val | undefined, rank: number, dflt: number): number => {
  const a = v === undefined ? dflt : c.int(v, "axis");
  const n = a < 0 ? a + rank : a;
  if (n < 0 || n >= rank) c.fail(`axis ${a} is out of range for rank ${rank}`);
  return n;
};
const ints = (c: LowerCtx, v: Val | undefined, what: string): number[] =>
  v?.k === "list" ? v.items.map((x) => c.int(x, what)) : [c.int(v, what)];

type UnaryName = (typeof UNARY_FLOAT)[number] | (typeof UNARY_ANY)[number];

/** A number as the op sees one element: a float64 scalar (rounded later, as a constant's value). */
const NUMBER: ScalarContext = {
  index: 0,
  coords: [],
  attrs: {},
  inputs: [{ dtype: "f32", shape: [] }],
  out: { dtype: "f32", shape: [] },
};

/** A unary builtin: its op on a tensor; on a number, folded by the op's scalar function. The
 *  `UnaryName & OpName` parameter makes a unary builtin that names no elementwise op fail tsc. */
function unaryOp<N extends UnaryName & OpName>(op: N): Lowering {
  const spec: ElementwiseOp = OPS[op];
  return (c, [x]) => {
    if (x?.k === "int" || x?.k === "float") return { k: "float", v: spec.scalar([x.v], NUMBER) };
    return t(c.b.add(op, [c.tensor(x, `the argument of ${op}`)]));
  };
}

function eachUnary<N extends UnaryName>(names: readonly N[]): Record<N, Lowering> {
  return Object.fromEntries(names.map((n) => [n, unaryOp(n)])) as Record<N, Lowering>;
}

function asTensorLike(c: LowerCtx, v: Val | undefined, like: Node, what: string): Node {
  if (v?.k === "int" || v?.k === "float") return scalar(c.b, v.v, like.dtype);
  return c.tensor(v, what);
}

const binaryOp =
  (op: OpName): Lowering =>
  (c, [a, b]) => {
    const x = c.tensor(a, `the first argument of ${op}`);
    return t(binary(c.b, op, x, asTensorLike(c, b, x, `the second argument of ${op}`)));
  };

const reduction =
  (op: "reduce_sum" | "reduce_mean" | "reduce_max" | "reduce_min"): Lowering =>
  (c, [x, axis, keep]) => {
    const n = c.tensor(x, "the input");
    const rank = n.shape.length;
    const axes =
      axis === undefined
        ? n.shape.map((_, i) => i)
        : ints(c, axis, "axis").map((a) => axisIn(c, { k: "int", v: a }, rank, 0));
    return t(reduce(c.b, op, n, axes, keep?.k === "bool" && keep.v));
  };

function oneHot(c: LowerCtx, idx: Node, n: number, dtype: DType): Node {
  const shape = [...idx.shape, n];
  const classes = c.b.add("iota", [], { shape, axis: shape.length - 1, dtype: "i32" });
  const ids = idx.dtype === "i32" ? idx : c.b.add("cast", [idx], { dtype: "i32" });
  const col = broadcastTo(c.b, c.b.add("reshape", [ids], { shape: [...idx.shape, 1] }), shape);
  return c.b.add("cast", [c.b.add("eq", [classes, col])], { dtype });
}

const fill =
  (value: number | undefined): Lowering =>
  (c, args) => {
    const shape = ints(c, args[0], "the shape");
    const v = value ?? c.num(args[1], "the value");
    return t(c.b.add("full", [], { value: v, dtype: dtypeOr(args[value === undefined ? 2 : 1], "f32"), shape }));
  };

const LOWERING_TABLE = {
  ...eachUnary(UNARY_FLOAT),
  ...eachUnary(UNARY_ANY),
  maximum: binaryOp("max"),
  minimum: binaryOp("min"),
  pow: binaryOp("pow"),
  where: (c, [cond, a, b]) => {
    const x = c.tensor(a, "the second argument of where");
    const y = asTensorLike(c, b, x, "the third argument of where");
    const k = c.tensor(cond, "the condition of where");
    const shape = [k, x, y].reduce((s, n) => (n.shape.length > s.length ? n.shape : s), [] as readonly number[]);
    return t(c.b.add("select", [broadcastTo(c.b, k, shape), broadcastTo(c.b, x, shape), broadcastTo(c.b, y, shape)]));
  },
  sum: reduction("reduce_sum"),
  mean: reduction("reduce_mean"),
  amax: reduction("reduce_max"),
  amin: reduction("reduce_min"),
  softmax: (c, [x, axis]) => {
    const n = c.tensor(x, "the input");
    return t(c.b.add("softmax", [n], { axis: axisIn(c, axis, n.shape.length, -1) }));
  },
  log_softmax: (c, [x, axis]) => {
    const n = c.tensor(x, "the input");
    return t(c.b.add("log_softmax", [n], { axis: axisIn(c, axis, n.shape.length, -1) }));
  },
  layer_norm: (c, [x, g, b, eps]) =>
    t(
      c.b.add("layer_norm", [c.tensor(x, "x"), c.tensor(g, "gamma"), c.tensor(b, "beta")], {
        eps: eps === undefined ? 1e-5 : c.num(eps, "eps"),
      }),
    ),
  attention: (c, [q, k, v, m, scale]) => {
    const ins = [c.tensor(q, "q"), c.tensor(k, "k"), c.tensor(v, "v")];
    const mask = m?.k === "mask" ? m : undefined;
    if (mask?.lengths) ins.push(mask.lengths);
    return t(
      c.b.add("attention", ins, {
        mask: mask?.spec ?? { kind: "none" },
        ...(scale === undefined ? {} : { scale: c.num(scale, "scale") }),
      }),
    );
  },
  reshape: (c, [x, s]) => t(c.b.add("reshape", [c.tensor(x, "the input")], { shape: ints(c, s, "the shape") })),
  permute: (c, [x, p]) => t(c.b.add("permute", [c.tensor(x, "the input")], { perm: ints(c, p, "the permutation") })),
  concat: (c, [xs, axis]) => {
    const items = xs?.k === "list" ? xs.items.map((v) => c.tensor(v, "each item")) : [c.tensor(xs, "the items")];
    return t(c.b.add("concat", items, { axis: axisIn(c, axis, items[0]?.shape.length ?? 0, 0) }));
  },
  broadcast: (c, [x, s]) => t(broadcastTo(c.b, c.tensor(x, "the input"), ints(c, s, "the shape"))),
  gather: (c, [tb, ix, axis]) => {
    const table = c.tensor(tb, "the table");
    return t(c.b.add("gather", [table, c.tensor(ix, "the indices")], { axis: axisIn(c, axis, table.shape.length, 0) }));
  },
  one_hot: (c, [ix, n, dt]) =>
    t(oneHot(c, c.tensor(ix, "the indices"), c.int(n, "the class count"), dtypeOr(dt, "f32"))),
  cast: (c, [x, dt]) => t(c.b.add("cast", [c.tensor(x, "the input")], { dtype: dtypeOr(dt, "f32") })),
  zeros: fill(0),
  ones: fill(1),
  full: fill(undefined),
  iota: (c, [s, axis, dt]) => {
    const shape = ints(c, s, "the shape");
    return t(c.b.add("iota", [], { shape, axis: axisIn(c, axis, shape.length, 0), dtype: dtypeOr(dt, "i32") }));
  },
  dim: (c, [x, axis]) => {
    const n = c.tensor(x, "the input");
    return { k: "int", v: n.shape[axisIn(c, axis, n.shape.length, 0)] };
  },
  // mean over positions of −log softmax(logits)[target]
  cross_entropy: (c, [l, tg]) => {
    const logits = c.tensor(l, "the logits");
    const targets = c.tensor(tg, "the targets");
    const last = logits.shape.length - 1;
    const lsm = c.b.add("log_softmax", [logits], { axis: last });
    const picked = reduce(
      c.b,
      "reduce_sum",
      c.b.add("mul", [lsm, oneHot(c, targets, logits.shape[last], logits.dtype)]),
      [last],
    );
    return t(
      c.b.add("neg", [
        reduce(
          c.b,
          "reduce_mean",
          picked,
          picked.shape.map((_, i) => i),
        ),
      ]),
    );
  },
  mse: (c, [a, b]) => {
    const x = c.tensor(a, "the first argument");
    const d = c.b.add("square", [binary(c.b, "sub", x, asTensorLike(c, b, x, "the second argument"))]);
    return t(
      reduce(
        c.b,
        "reduce_mean",
        d,
        d.shape.map((_, i) => i),
      ),
    );
  },
  normal: (c, [s]) => ({ k: "init", init: { kind: "normal", std: c.num(s, "std") } }),
  uniform: (c, [lo, hi]) => ({ k: "init", init: { kind: "uniform", lo: c.num(lo, "lo"), hi: c.num(hi, "hi") } }),
  constant: (c, [v]) => ({ k: "init", init: { kind: "constant", value: c.num(v, "value") } }),
  block_causal: (c, [m]) => {
    const block = c.int(m, "the block size");
    if (block < 1) c.fail(`block_causal needs a block size ≥ 1, got ${block}`);
    return { k: "mask", spec: { kind: "block_causal", block } };
  },
  padding: (c, [len]) => {
    const n = c.tensor(len, "the lengths");
    return {
      k: "mask",
      spec: { kind: "padding" },
      lengths: n.dtype === "i32" ? n : c.b.add("cast", [n], { dtype: "i32" }),
    };
  },
} satisfies { readonly [K in BuiltinName]: Lowering };

export const LOWERINGS: Readonly<Record<string, Lowering>> = LOWERING_TABLE;

const VALUE_TABLE = {
  none: { k: "mask", spec: { kind: "none" } },
  causal: { k: "mask", spec: { kind: "causal" } },
  cross: { k: "mask", spec: { kind: "cross" } },
  xavier: { k: "init", init: { kind: "xavier" } },
  glorot: { k: "init", init: { kind: "xavier" } },
  true: { k: "bool", v: true },
  false: { k: "bool", v: false },
  f32: { k: "dtype", dtype: "f32" },
  f16: { k: "dtype", dtype: "f16" },
  i32: { k: "dtype", dtype: "i32" },
  u32: { k: "dtype", dtype: "u32" },
  bool: { k: "dtype", dtype: "bool" },
} satisfies { readonly [K in BuiltinValueName]: Val };

export const VALUE_BUILTINS: Readonly<Record<string, Val>> = VALUE_TABLE;
