// elementwise.ts: ops computing each output element from the same element of their inputs.
// Kernels compute floats in f32 (f16 is a storage type), so WGSL expressions see f32, i32, u32, bool.
import { type DType, isFloat } from "../dtype.js";
import type { Attrs, TensorType } from "../ir.js";
import { literal } from "../wgsl/helpers.js";
import {
  checkShape,
  comparison,
  elementwiseShape,
  fail,
  floatUnary,
  logical,
  numericBinary,
  numericUnary,
  req,
} from "./rules.js";
import { erf, floatToInt, wgslIntDiv } from "./scalar-math.js";
import type { Domain, ElementwiseOp, ScalarContext, Tolerance, WgslContext } from "./spec.js";

const EXACT: Tolerance = { atol: 0, rtol: 0 };
const ROUNDED: Tolerance = { atol: 1e-6, rtol: 1e-6 }; // correctly rounded ops may differ by one f32 ulp
const TRANSCENDENTAL: Tolerance = { atol: 1e-5, rtol: 1e-5 };

type Scalar1 = (x: number) => number;

function unary(
  doc: string,
  f: Scalar1,
  wgsl: (x: string, ctx: WgslContext) => string,
  tol: Tolerance,
  domain: Domain = "any",
  numeric = false,
): ElementwiseOp {
  return {
    kind: "elementwise",
    arity: 1,
    doc,
    tol,
    domain,
    infer: (ins) => (numeric ? numericUnary(doc) : floatUnary(doc))(ins),
    scalar: ([x]) => f(x),
    wgsl: ([x], ctx) => wgsl(x, ctx),
  };
}

const dtypeOf = (ctx: ScalarContext | WgslContext): DType => ctx.out.dtype;

/** Integer-aware arithmetic: i32/u32 wrap like WGSL; floats are plain float64 then rounded. */
function arith(
  doc: string,
  f: (a: number, b: number, t: DType) => number,
  op: string,
  tol: Tolerance,
  domain: Domain = "any",
): ElementwiseOp {
  return {
    kind: "elementwise",
    arity: 2,
    doc,
    tol,
    domain,
    infer: numericBinary(doc),
    scalar: ([a, b], ctx) => f(a, b, dtypeOf(ctx)),
    wgsl: ([a, b]) => `(${a} ${op} ${b})`,
  };
}

function compare(doc: string, f: (a: number, b: number) => boolean, op: string): ElementwiseOp {
  return {
    kind: "elementwise",
    arity: 2,
    doc,
    tol: EXACT,
    infer: comparison(doc),
    scalar: ([a, b]) => (f(a, b) ? 1 : 0),
    // WGSL orders numbers only; bools compare as 0 and 1, as in the reference.
    wgsl: ([a, b], ctx) => (ctx.inputs[0].dtype === "bool" ? `(u32(${a}) ${op} u32(${b}))` : `(${a} ${op} ${b})`),
  };
}

const wrapInt = (x: number, t: DType): number => (t === "i32" ? x | 0 : t === "u32" ? x >>> 0 : x);

function castScalar(x: number, from: DType, to: DType): number {
  if (to === "bool") return x !== 0 ? 1 : 0;
  if (isFloat(to)) return x;
  if (isFloat(from)) return floatToInt(x, to === "i32");
  return to === "i32" ? x | 0 : x >>> 0;
}

function castWgsl(x: string, from: DType, to: DType): string {
  if (to === "bool") return `(${x} != ${literal(0, from)})`;
  const target = isFloat(to) ? "f32" : to;
  if (from === "bool") return `select(${literal(0, to)}, ${literal(1, to)}, ${x})`;
  if (isFloat(from) && isFloat(to)) return x;
  return `${target}(${x})`;
}

function source(
  doc: string,
  arity: number,
  infer: (ins: readonly TensorType[], a: Attrs) => TensorType,
  scalar: ElementwiseOp["scalar"],
  wgsl: ElementwiseOp["wgsl"],
  tol = EXACT,
): ElementwiseOp {
  return { kind: "elementwise", arity, doc, tol, infer, scalar, wgsl };
}

const shapedSource =
  (op: string) =>
  (_: readonly TensorType[], a: Attrs): TensorType => ({ dtype: req(op, a, "dtype"), shape: checkShape(op, a.shape) });

export const ELEMENTWISE_OPS = {
  neg: unary(
    "negation",
    (x) => -x,
    (x, ctx) => (ctx.out.dtype === "u32" ? `(0u - ${x})` : `(-${x})`),
    EXACT,
    "any",
    true,
  ), // WGSL has no unary minus on u32
  abs: unary("absolute value", Math.abs, (x) => `abs(${x})`, EXACT, "any", true),
  exp: unary("e^x", Math.exp, (x) => `exp(${x})`, TRANSCENDENTAL),
  log: unary("natural logarithm", Math.log, (x) => `log(${x})`, TRANSCENDENTAL, "positive"),
  sqrt: unary("square root", Math.sqrt, (x) => `sqrt(${x})`, ROUNDED, "positive"),
  rsqrt: unary(
    "1/sqrt(x)",
    (x) => 1 / Math.sqrt(x),
    (x) => `inverseSqrt(${x})`,
    TRANSCENDENTAL,
    "positive",
  ),
  recip: unary(
    "1/x",
    (x) => 1 / x,
    (x) => `(1.0 / ${x})`,
    ROUNDED,
    "nonzero",
  ),
  square: unary(
    "x²",
    (x) => x * x,
    (x) => `(${x} * ${x})`,
    ROUNDED,
  ),
  tanh: unary("hyperbolic tangent", Math.tanh, (x) => `tanh(clamp(${x}, -20.0, 20.0))`, TRANSCENDENTAL),
  sigmoid: unary(
    "logistic 1/(1+e^-x)",
    (x) => 1 / (1 + Math.exp(-x)),
    (x) => `(1.0 / (1.0 + exp(-${x})))`,
    TRANSCENDENTAL,
  ),
  relu: unary(
    "max(x, 0)",
    (x) => Math.max(x, 0),
    (x) => `max(${x}, 0.0)`,
    EXACT,
  ),
  gelu: unary(
    "x·Φ(x), exact (erf)",
    (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
    (x, ctx) => {
      ctx.use("erf_f32");
      return `(0.5 * ${x} * (1.0 + erf_f32(${x} * 0.70710678118654752)))`;
    },
    { atol: 2e-6, rtol: 1e-5 },
  ),
  gelu_tanh: unary(
    "x·Φ(x), tanh approximation",
    (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
    (x) =>
      `(0.5 * ${x} * (1.0 + tanh(clamp(0.7978845608028654 * (${x} + 0.044715 * ${x} * ${x} * ${x}), -20.0, 20.0))))`,
    TRANSCENDENTAL,
  ),
  erf: unary(
    "error function",
    erf,
    (x, ctx) => {
      ctx.use("erf_f32");
      return `erf_f32(${x})`;
    },
    { atol: 5e-7, rtol: 1e-6 },
  ), // the rational approximation is good to 1.5e-7, plus f32 rounding
  sin: unary("sine", Math.sin, (x) => `sin(${x})`, TRANSCENDENTAL, "unit"),
  cos: unary("cosine", Math.cos, (x) => `cos(${x})`, TRANSCENDENTAL, "unit"),
  floor: unary("round down", Math.floor, (x) => `floor(${x})`, EXACT),
  ceil: unary("round up", Math.ceil, (x) => `ceil(${x})`, EXACT),
  sign: unary("sign (-1, 0, 1)", Math.sign, (x) => `sign(${x})`, EXACT),
  stop_gradient: {
    ...unary(
      "identity whose gradient is zero",
      (x) => x,
      (x) => x,
      EXACT,
      "any",
      true,
    ),
    infer: (ins: readonly TensorType[]) => ins[0],
  },

  add: arith("a + b", (a, b, t) => wrapInt(a + b, t), "+", ROUNDED),
  sub: arith("a − b", (a, b, t) => wrapInt(a - b, t), "-", ROUNDED),
  mul: arith(
    "a · b",
    (a, b, t) => (t === "i32" ? Math.imul(a, b) : t === "u32" ? Math.imul(a, b) >>> 0 : a * b),
    "*",
    ROUNDED,
  ),
  div: arith(
    "a / b (integers: truncating, x/0 = x as in WGSL)",
    (a, b, t) => (isFloat(t) ? a / b : wgslIntDiv(a, b, t === "i32")),
    "/",
    ROUNDED,
    "nonzero",
  ),
  max: { ...arith("larger of a and b", (a, b) => Math.max(a, b), "", EXACT), wgsl: ([a, b]) => `max(${a}, ${b})` },
  min: { ...arith("smaller of a and b", (a, b) => Math.min(a, b), "", EXACT), wgsl: ([a, b]) => `min(${a}, ${b})` },
  pow: {
    ...arith("a^b (a > 0)", (a, b) => a ** b, "", { atol: 1e-5, rtol: 2e-5 }, "positive"),
    infer: numericBinary("pow", true),
    wgsl: ([a, b]) => `pow(${a}, ${b})`,
  },

  eq: compare("a == b", (a, b) => a === b, "=="),
  ne: compare("a != b", (a, b) => a !== b, "!="),
  lt: compare("a < b", (a, b) => a < b, "<"),
  le: compare("a <= b", (a, b) => a <= b, "<="),
  gt: compare("a > b", (a, b) => a > b, ">"),
  ge: compare("a >= b", (a, b) => a >= b, ">="),
  is_finite: {
    kind: "elementwise",
    arity: 1,
    doc: "true unless ±inf or NaN",
    tol: EXACT,
    infer: (ins) => ({ dtype: "bool", shape: floatUnary("is_finite")(ins).shape }),
    scalar: ([x]) => (Number.isFinite(x) ? 1 : 0),
    // WGSL lets the compiler assume no NaNs, so x != x may fold away; test the exponent bits instead.
    wgsl: ([x]) => `((bitcast<u32>(${x}) & 0x7f800000u) != 0x7f800000u)`,
  },
  and: {
    kind: "elementwise",
    arity: 2,
    doc: "logical and",
    tol: EXACT,
    infer: logical("and"),
    scalar: ([a, b]) => (a && b ? 1 : 0),
    wgsl: ([a, b]) => `(${a} && ${b})`,
  },
  or: {
    kind: "elementwise",
    arity: 2,
    doc: "logical or",
    tol: EXACT,
    infer: logical("or"),
    scalar: ([a, b]) => (a || b ? 1 : 0),
    wgsl: ([a, b]) => `(${a} || ${b})`,
  },
  not: {
    kind: "elementwise",
    arity: 1,
    doc: "logical not",
    tol: EXACT,
    infer: logical("not"),
    scalar: ([a]) => (a ? 0 : 1),
    wgsl: ([a]) => `(!${a})`,
  },

  select: {
    kind: "elementwise",
    arity: 3,
    doc: "c ? a : b",
    tol: EXACT,
    infer: (ins) => {
      if (ins[0].dtype !== "bool") fail(`select: condition must be bool, got ${ins[0].dtype}`);
      if (ins[1].dtype !== ins[2].dtype) fail(`select: branches differ: ${ins[1].dtype} vs ${ins[2].dtype}`);
      return { dtype: ins[1].dtype, shape: elementwiseShape("select", ins) };
    },
    scalar: ([c, a, b]) => (c ? a : b),
    wgsl: ([c, a, b]) => `select(${b}, ${a}, ${c})`,
  },
  cast: {
    kind: "elementwise",
    arity: 1,
    doc: "convert dtype (float→int truncates and clamps)",
    tol: EXACT,
    infer: (ins, a) => ({ dtype: req("cast", a, "dtype"), shape: ins[0].shape }),
    scalar: ([x], ctx) => castScalar(x, ctx.inputs[0].dtype, ctx.out.dtype),
    wgsl: ([x], ctx) => castWgsl(x, ctx.inputs[0].dtype, ctx.out.dtype),
  },

  full: source(
    "a tensor filled with one value",
    0,
    shapedSource("full"),
    (_, ctx) => req("full", ctx.attrs, "value"),
    (_, ctx) => literal(req("full", ctx.attrs, "value"), ctx.out.dtype),
  ),
  iota: source(
    "coordinate along `axis` (0, 1, 2, …)",
    0,
    (ins, a) => {
      const t = shapedSource("iota")(ins, a);
      const axis = req("iota", a, "axis");
      if (axis < 0 || axis >= t.shape.length) fail(`iota: axis ${axis} out of range for rank ${t.shape.length}`);
      if (t.dtype === "bool") fail("iota: dtype must be numeric");
      return t;
    },
    (_, ctx) => ctx.coords[req("iota", ctx.attrs, "axis")],
    (_, ctx) => castWgsl(ctx.coord(req("iota", ctx.attrs, "axis")), "u32", ctx.out.dtype),
  ),
} satisfies Record<string, ElementwiseOp>;
