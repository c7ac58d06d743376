// onnx-ops.ts: each IR op as ONNX (opset 17) nodes — the per-op table of the ONNX exporter, keyed by
// every op name so that tsc rejects an op the table forgets. Sizes that follow the batch dims are
// computed from the inputs' shapes (onnx-dims.ts), the others are constants, as are masks whose sizes
// are fixed. An op marked `noMapping` (with the reason) has no ONNX mapping: exporting a graph that
// uses it fails naming the op and its line.
// Where ONNX differs from the IR, the rule keeps the IR's meaning (gather reads 0 out of range; masked
// attention scores are the reference's finite MASKED_SCORE, so a fully masked row averages the values).
import type { Node } from "../ir.js";
import { MASKED_SCORE, attentionMaskAllows } from "../ops/composite.js";
import type { OpName } from "../ops/index.js";
import type { OnnxDims } from "./onnx-dims.js";
import { type AttrValue, ONNX_TYPE, type OnnxGraph, encodeValues, onnxTypeOf } from "./onnx-graph.js";
import { type NoMapping, noMapping, unmappedOps } from "./source.js";
import { type Sym, isConstant } from "./symbolic.js";

export interface OnnxContext {
  readonly g: OnnxGraph;
  readonly node: Node;
  readonly inputs: readonly Node[];
  /** the ONNX value names of the inputs */
  readonly args: readonly string[];
  /** the node's numeric attribute and any node's shape, as sizes of the batch dims */
  attr(key: string): readonly Sym[];
  shape(n: Node): readonly Sym[];
  readonly dims: OnnxDims;
}

/** Emits the nodes of one IR op; returns the name of the value holding its result. */
export type OnnxRule = (c: OnnxContext) => string;

const int = (v: number): AttrValue => ({ kind: "int", v });
const ints = (v: readonly number[]): AttrValue => ({ kind: "ints", v });

const same =
  (op: string): OnnxRule =>
  (c) =>
    c.g.node(op, c.args);
const scalarOf = (c: OnnxContext, v: number): string => c.g.scalar(onnxTypeOf(c.node.dtype), v);
const swapLast = (c: OnnxContext, x: string, rank: number): string => {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return c.g.node("Transpose", [x], { perm: ints(perm) });
};

function reduce(op: string, axesAsInput: boolean): OnnxRule {
  return (c) => {
    const axes = c.node.attrs.axes ?? [];
    if (axes.length === 0) return c.g.node("Identity", c.args);
    const keepdims = int(c.node.attrs.keepDims ? 1 : 0);
    // opset 13 moved ReduceSum's axes to an input; the other reductions follow only in opset 18.
    return axesAsInput
      ? c.g.node(op, [c.args[0], c.g.i64(axes)], { keepdims })
      : c.g.node(op, c.args, { axes: ints(axes), keepdims });
  };
}

function gelu(c: OnnxContext, approximate: boolean): string {
  const { g } = c;
  const x = c.args[0];
  const k = (v: number): string => scalarOf(c, v);
  let inner: string;
  if (approximate) {
    const cube = g.node("Mul", [g.node("Mul", [x, x]), x]);
    inner = g.node("Tanh", [
      g.node("Mul", [k(Math.sqrt(2 / Math.PI)), g.node("Add", [x, g.node("Mul", [k(0.044715), cube])])]),
    ]);
  } else {
    inner = g.node("Erf", [g.node("Mul", [x, k(Math.SQRT1_2)])]);
  }
  return g.node("Mul", [g.node("Mul", [x, k(0.5)]), g.node("Add", [k(1), inner])]);
}

function gather(c: OnnxContext): string {
  const { g, node } = c;
  const [table, idx] = c.inputs;
  const axis = node.attrs.axis ?? 0;
  const tableShape = c.shape(table);
  const i64 = g.node("Cast", [c.args[1]], { to: int(ONNX_TYPE.i64) });
  const zero = g.scalar("i64", 0);
  const valid = g.node("And", [
    g.node("GreaterOrEqual", [i64, zero]),
    g.node("Less", [i64, c.dims.scalar(tableShape[axis])]),
  ]);
  const got = g.node("Gather", [c.args[0], g.node("Where", [valid, i64, zero])], { axis: int(axis) });
  const maskShape = [
    ...tableShape.slice(0, axis).map(() => 1),
    ...c.shape(idx),
    ...tableShape.slice(axis + 1).map(() => 1),
  ];
  const mask = g.node("Reshape", [valid, c.dims.vector(maskShape)]);
  return g.node("Where", [mask, got, scalarOf(c, 0)]);
}

/** 0 … n − 1 as int64 (n a size of the batch dims). */
const range = (c: OnnxContext, n: Sym): string =>
  c.g.node("Range", [c.g.scalar("i64", 0), c.dims.scalar(n), c.g.scalar("i64", 1)]);

/** Which keys each query may see under a causal or block-causal mask, as bool [tq, tk]: a constant when
 *  the lengths are fixed, else computed as the reference defines it (query i sits at key i + tk − tq). */
function positionMask(
  c: OnnxContext,
  mask: { kind: "causal" } | { kind: "block_causal"; block: number },
  tq: Sym,
  tk: Sym,
): string {
  const { g } = c;
  if (isConstant(tq) && isConstant(tk)) {
    const table: number[] = [];
    for (let i = 0; i < tq; i++)
      for (let j = 0; j < tk; j++) table.push(attentionMaskAllows(mask, i, j, tq, tk) ? 1 : 0);
    return g.constant("bool", [tq, tk], table);
  }
  const pos = g.node("Add", [
    g.node("Reshape", [range(c, tq), g.i64([-1, 1])]),
    g.node("Sub", [c.dims.scalar(tk), c.dims.scalar(tq)]),
  ]);
  const col = g.node("Reshape", [range(c, tk), g.i64([1, -1])]);
  if (mask.kind === "causal") return g.node("LessOrEqual", [col, pos]);
  // floor(x / block) in floats: integer Div truncates toward zero, and pos < 0 when tq > tk.
  const block = (x: string): string =>
    g.node("Floor", [g.node("Div", [g.node("Cast", [x], { to: int(ONNX_TYPE.f32) }), g.scalar("f32", mask.block)])]);
  return g.node("LessOrEqual", [block(col), block(pos)]);
}

function attention(c: OnnxContext): string {
  const { g, node } = c;
  const [q, k] = c.inputs;
  const r = q.shape.length;
  const d = q.shape[r - 1];
  const tq = c.shape(q)[r - 2];
  const tk = c.shape(k)[r - 2];
  const mask = node.attrs.mask ?? { kind: "none" };
  const scale = node.attrs.scale ?? 1 / Math.sqrt(d);
  let scores = g.node("Mul", [g.node("MatMul", [c.args[0], swapLast(c, c.args[1], r)]), scalarOf(c, scale)]);
  let allowed: string | undefined;
  if (mask.kind === "causal" || mask.kind === "block_causal") {
    allowed = positionMask(c, mask, tq, tk);
  } else if (mask.kind === "padding") {
    const len = g.node("Cast", [c.args[3]], { to: int(ONNX_TYPE.i64) });
    const limit = g.node("Unsqueeze", [len, g.i64(Array.from({ length: r - 1 }, (_, i) => i + 1))]);
    allowed = g.node("Less", [range(c, tk), limit]);
  }
  if (allowed) scores = g.node("Where", [allowed, scores, scalarOf(c, MASKED_SCORE)]);
  return g.node("MatMul", [g.node("Softmax", [scores], { axis: int(-1) }), c.args[2]]);
}

const NOT_INFERENCE = noMapping("used by gradients and decoding caches, never in an inference graph");

export const ONNX_OPS = {
  ...unmappedOps({
    fed: "a graph input: an input or initializer of the ONNX graph",
    random: "mira's counter-based random stream, which ONNX's generators do not reproduce",
    gradient: "a gradient op of attention, never in an inference graph",
    step: "an optimizer step, never in an inference graph",
  }),
  // elementwise
  neg: same("Neg"),
  abs: same("Abs"),
  exp: same("Exp"),
  log: same("Log"),
  sqrt: same("Sqrt"),
  rsqrt: (c) => c.g.node("Reciprocal", [c.g.node("Sqrt", c.args)]),
  recip: same("Reciprocal"),
  square: (c) => c.g.node("Mul", [c.args[0], c.args[0]]),
  tanh: same("Tanh"),
  sigmoid: same("Sigmoid"),
  relu: same("Relu"),
  gelu: (c) => gelu(c, false),
  gelu_tanh: (c) => gelu(c, true),
  erf: same("Erf"),
  sin: same("Sin"),
  cos: same("Cos"),
  floor: same("Floor"),
  ceil: same("Ceil"),
  sign: same("Sign"),
  stop_gradient: same("Identity"),
  add: same("Add"),
  sub: same("Sub"),
  mul: same("Mul"),
  div: same("Div"), // integer Div truncates, as the IR's does
  max: same("Max"),
  min: same("Min"),
  pow: same("Pow"),
  eq: same("Equal"),
  ne: (c) => c.g.node("Not", [c.g.node("Equal", c.args)]),
  lt: same("Less"),
  le: same("LessOrEqual"),
  gt: same("Greater"),
  ge: same("GreaterOrEqual"),
  is_finite: (c) => c.g.node("Not", [c.g.node("Or", [c.g.node("IsInf", c.args), c.g.node("IsNaN", c.args)])]),
  and: same("And"),
  or: same("Or"),
  not: same("Not"),
  select: same("Where"),
  cast: (c) =>
    c.inputs[0].dtype === c.node.dtype
      ? c.g.node("Identity", c.args)
      : c.g.node("Cast", c.args, { to: int(ONNX_TYPE[onnxTypeOf(c.node.dtype)]) }),
  full: (c) => {
    const type = onnxTypeOf(c.node.dtype);
    const value = c.node.attrs.value ?? 0;
    if (c.node.shape.length === 0) return c.g.scalar(type, value);
    return c.g.node("ConstantOfShape", [c.dims.vector(c.attr("shape"))], {
      value: { kind: "tensor", v: { type, dims: [1], raw: encodeValues(type, [value]) } },
    });
  },
  iota: (c) => {
    const shape = c.attr("shape");
    const axis = c.node.attrs.axis ?? 0;
    const line = c.g.node("Cast", [range(c, shape[axis])], { to: int(ONNX_TYPE[onnxTypeOf(c.node.dtype)]) });
    const view = c.g.node("Reshape", [line, c.g.i64(shape.map((_, k) => (k === axis ? -1 : 1)))]);
    return c.g.node("Expand", [view, c.dims.vector(shape)]);
  },
  // reductions
  reduce_sum: reduce("ReduceSum", true),
  reduce_max: reduce("ReduceMax", false),
  reduce_min: reduce("ReduceMin", false),
  reduce_mean: reduce("ReduceMean", false),
  // movement
  reshape: (c) => c.g.node("Reshape", [c.args[0], c.dims.vector(c.attr("shape"))]),
  permute: (c) => c.g.node("Transpose", c.args, { perm: ints(c.node.attrs.perm ?? []) }),
  broadcast: (c) => c.g.node("Expand", [c.args[0], c.dims.vector(c.attr("shape"))]),
  slice: (c) => {
    const starts = c.attr("starts");
    const steps = c.node.attrs.steps ?? starts.map(() => 1);
    return c.g.node("Slice", [
      c.args[0],
      c.dims.vector(starts),
      c.dims.vector(c.attr("ends")),
      c.g.i64(starts.map((_, k) => k)),
      c.g.i64(steps),
    ]);
  },
  pad: (c) =>
    c.g.node("Pad", [
      c.args[0],
      c.dims.vector([...c.attr("lo"), ...c.attr("hi")]),
      scalarOf(c, c.node.attrs.value ?? 0),
    ]),
  concat: (c) => c.g.node("Concat", c.args, { axis: int(c.node.attrs.axis ?? 0) }),
  // linear algebra, indexing
  matmul: (c) => {
    const [a, b] = c.inputs;
    const x = c.node.attrs.transA ? swapLast(c, c.args[0], a.shape.length) : c.args[0];
    const y = c.node.attrs.transB ? swapLast(c, c.args[1], b.shape.length) : c.args[1];
    return c.g.node("MatMul", [x, y]);
  },
  gather,
  scatter_add: NOT_INFERENCE,
  write_rows: NOT_INFERENCE,
  // composites
  softmax: (c) => c.g.node("Softmax", c.args, { axis: int(c.node.attrs.axis ?? -1) }),
  log_softmax: (c) => c.g.node("LogSoftmax", c.args, { axis: int(c.node.attrs.axis ?? -1) }),
  layer_norm: (c) =>
    c.g.node("LayerNormalization", c.args, { axis: int(-1), epsilon: { kind: "float", v: c.node.attrs.eps ?? 1e-5 } }),
  attention,
  flash_attention: attention,
} satisfies { readonly [K in OpName]: OnnxRule | NoMapping };
