// grad-cases.ts (tests): one case builder per op (or per kind) for the gradient checks. A case is a small
// graph y = op(...) whose float inputs are params and whose indices, masks, conditions and lengths are
// inputs, with values for all of them. Structure (shapes, axes, attrs) is drawn through fast-check's
// `gen`, bulk values from a PRNG seeded by it, so a failure replays from fast-check's seed alone.
// Values stay inside each op's domain and away from its kinks and ties, where a derivative is not
// defined and central differences would straddle two pieces.
import fc from "fast-check";
import { GraphBuilder } from "../../compiler/builder.js";
import type { DType } from "../../compiler/dtype.js";
import type { MaskSpec, Node } from "../../compiler/ir.js";
import { OPS, type OpName } from "../../compiler/ops/index.js";
import { binary, reduce } from "../../compiler/ops/helpers.js";
import type { Domain } from "../../compiler/ops/spec.js";
import { type Shape, prod } from "../../compiler/shape.js";
import { type Rand, accepts, prng } from "./gen.js";

/** Dimensions for gradient cases: 1, primes and odd sizes, kept small because every case is evaluated
 *  several times in float64 on the reference (and compiled for the GPU in the GPU suite). */
export const GRAD_DIMS = [1, 2, 3, 5, 7, 11] as const;

/** Draws a case's structure through fast-check (so it shrinks) and its bulk values from a seeded PRNG. */
export class Draw {
  constructor(
    private readonly g: fc.GeneratorValue,
    /** The case will run on the GPU: no f16 (the adapter may lack shader-f16), fewer distinct sizes. */
    readonly forGpu = false,
  ) {}

  int(min: number, max: number): number {
    return this.g(fc.integer, { min, max });
  }
  bool(): boolean {
    return this.g(fc.boolean);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)];
  }
  dim(): number {
    return this.pick(GRAD_DIMS);
  }
  /** A shape of rank in [minRank, maxRank] with at most `cap` elements. */
  shape(minRank: number, maxRank: number, cap = 400): number[] {
    return this.g(() =>
      fc.array(fc.constantFrom(...GRAD_DIMS), { minLength: minRank, maxLength: maxRank }).filter((s) => prod(s) <= cap),
    );
  }
  /** A permutation of 0..n-1. */
  perm(n: number): number[] {
    const xs = Array.from({ length: n }, (_, i) => i);
    return this.g(() => fc.shuffledSubarray(xs, { minLength: n, maxLength: n }));
  }
  /** A subset of 0..n-1, in increasing order. */
  subset(n: number): number[] {
    return this.g(() => fc.subarray(Array.from({ length: n }, (_, i) => i)));
  }
  /** An axis of a rank-r tensor, sometimes spelled negatively (rules must normalise it). */
  axis(rank: number): number {
    const a = this.int(0, rank - 1);
    return this.bool() ? a - rank : a;
  }
  /** A PRNG for bulk values, seeded from fast-check. */
  rand(): Rand {
    return prng(this.int(0, 0x7fffffff));
  }
}

export interface GradCase {
  readonly b: GraphBuilder;
  readonly y: Node;
  readonly feeds: Record<string, number[]>;
  /** y is the identity of param `x` but blocks the gradient (stop_gradient): the analytic gradient
   *  must be zero while the loss moves with x. */
  readonly blocked?: boolean;
}

export type CaseBuilder = (d: Draw) => GradCase;

/** Collects params and inputs with their values while a case is built. */
class Scope {
  readonly b = new GraphBuilder();
  readonly feeds: Record<string, number[]> = {};
  constructor(readonly r: Rand) {}
  param(name: string, shape: Shape, values: number[], dtype: DType = "f32"): Node {
    this.feeds[name] = values;
    return this.b.param(name, dtype, shape);
  }
  input(name: string, dtype: DType, shape: Shape, values: number[]): Node {
    this.feeds[name] = values;
    return this.b.input(name, dtype, shape);
  }
  done(y: Node, blocked = false): GradCase {
    return { b: this.b, y, feeds: this.feeds, blocked };
  }
}

// ---- values -------------------------------------------------------------------------------------

const uniform = (r: Rand, lo: number, hi: number): number => lo + (hi - lo) * r();

/** A value from an op's domain. Magnitudes stay ≥ 0.3 where the op has a pole or a branch point at 0
 *  (log, rsqrt, recip, div), so higher derivatives — the finite-difference error — stay small. */
export function domainValue(r: Rand, domain: Domain): number {
  switch (domain) {
    case "positive":
      return uniform(r, 0.3, 3);
    case "nonzero":
      return (r() < 0.5 ? -1 : 1) * uniform(r, 0.3, 3);
    case "unit":
      return uniform(r, -1, 1);
    case "any":
      return uniform(r, -3, 3);
  }
}

export const values = (r: Rand, n: number, domain: Domain = "any"): number[] =>
  Array.from({ length: n }, () => domainValue(r, domain));

/** Pairwise distinct values at least 0.055 apart (no ties for max/min): a shuffled ladder, jittered. */
export function distinct(r: Rand, n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.map((k) => (k - n / 2) * 0.075 + uniform(r, 0, 0.02));
}

/** Moves a value off a kink: at least `margin` from 0 ("zero") or from every integer ("integer"). */
function offKink(x: number, kink: "zero" | "integer", margin = 0.05): number {
  if (kink === "zero") return Math.abs(x) >= margin ? x : x < 0 ? -margin - Math.abs(x) : margin + x;
  const f = x - Math.floor(x);
  return f < margin ? Math.floor(x) + margin + f : f > 1 - margin ? Math.floor(x) + 1 - margin - (1 - f) : x;
}

// ---- elementwise --------------------------------------------------------------------------------

/** Where an elementwise op is not differentiable: at 0, at integers, or where its two operands tie. */
const KINKS: Partial<Record<OpName, "zero" | "integer" | "tie">> = {
  abs: "zero",
  relu: "zero",
  sign: "zero",
  floor: "integer",
  ceil: "integer",
  max: "tie",
  min: "tie",
  eq: "tie",
  ne: "tie",
  lt: "tie",
  le: "tie",
  gt: "tie",
  ge: "tie",
};

/** The dtypes an elementwise op is differentiated under: all f32, or a bool condition then f32s. */
export function floatSignature(op: OpName): DType[] | undefined {
  const n = OPS[op].arity;
  if (typeof n !== "number" || n === 0) return undefined;
  const same = Array<DType>(n).fill("f32");
  const cond: DType[] = ["bool", ...Array<DType>(n - 1).fill("f32")];
  const typed = (ds: DType[]) => ds.map((dtype) => ({ dtype, shape: [3] }));
  return accepts(op, typed(same)) ? same : n > 1 && accepts(op, typed(cond)) ? cond : undefined;
}

/** Any elementwise op taking floats: each operand full-shape or rank 0 (broadcast in the kernel). */
function elementwiseCase(op: OpName, sig: readonly DType[]): CaseBuilder {
  const spec = OPS[op];
  const domain = ("domain" in spec ? spec.domain : undefined) ?? "any";
  const kink = KINKS[op];
  return (d) => {
    const s = new Scope(d.rand());
    const shape = d.shape(0, 3);
    const shapes = sig.map(() => (d.int(0, 3) === 0 ? [] : shape));
    const vals = shapes.map((sh, k) =>
      sig[k] === "bool" ? Array.from({ length: prod(sh) }, () => (s.r() < 0.5 ? 1 : 0)) : values(s.r, prod(sh), domain),
    );
    if (kink === "zero" || kink === "integer")
      vals.forEach((v, k) => sig[k] !== "bool" && v.forEach((x, i) => (v[i] = offKink(x, kink))));
    if (kink === "tie") {
      // The full-shape operand is placed 0.05..1 either side of the other one, element by element.
      const [a, b] = shapes[1].length === 0 ? [1, 0] : [0, 1];
      vals[b] = vals[b].map(
        (_, i) => vals[a][shapes[a].length === 0 ? 0 : i] + (s.r() < 0.5 ? -1 : 1) * uniform(s.r, 0.05, 1),
      );
    }
    const ins = sig.map((dtype, k) =>
      dtype === "f32" ? s.param(`x${k}`, shapes[k], vals[k]) : s.input(`c${k}`, dtype, shapes[k], vals[k]),
    );
    return s.done(s.b.add(op, ins));
  };
}

// ---- per-op builders ----------------------------------------------------------------------------

/** cast from a float to every dtype: float targets pass the gradient, int/bool targets are constant
 *  between integers (values are kept off them). */
const castCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const to = d.pick<DType>(d.forGpu ? ["f32", "i32", "u32", "bool"] : ["f32", "f16", "i32", "u32", "bool"]);
  const from = d.forGpu ? "f32" : d.pick<DType>(["f32", "f16"]);
  const shape = d.shape(0, 3);
  const x = s.param(
    "x",
    shape,
    values(s.r, prod(shape)).map((v) => offKink(v, "integer")),
    from,
  );
  return s.done(s.b.add("cast", [x], { dtype: to }));
};

/** stop_gradient is the identity forward, so its finite difference is not zero, but its gradient is. */
const stopGradientCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const shape = d.shape(0, 3);
  return s.done(s.b.add("stop_gradient", [s.param("x", shape, values(s.r, prod(shape)))]), true);
};

/** Reductions over a random subset of axes (possibly none, sometimes spelled negatively), keepDims or
 *  not; max/min get distinct values so the extremum is unique. */
function reduceCase(op: OpName): CaseBuilder {
  return (d) => {
    const s = new Scope(d.rand());
    const shape = d.shape(0, 4);
    const axes = d.subset(shape.length).map((a) => (d.bool() ? a - shape.length : a));
    const keepDims = d.bool();
    const vals = op === "reduce_max" || op === "reduce_min" ? distinct(s.r, prod(shape)) : values(s.r, prod(shape));
    return s.done(s.b.add(op, [s.param("x", shape, vals)], { axes, keepDims }));
  };
}

/** Prime factors of n (n ≥ 1), for drawing a reshape target with the same element count. */
function factors(n: number): number[] {
  const out: number[] = [];
  for (let p = 2; n > 1; p++) while (n % p === 0) out.push(p), (n /= p);
  return out;
}

const reshapeCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const shape = d.shape(0, 4);
  const fs = [...factors(prod(shape)), ...Array<number>(d.int(0, 2)).fill(1)];
  const order = d.perm(fs.length);
  const rank = fs.length === 0 ? 0 : d.int(1, Math.min(4, fs.length));
  const target = Array<number>(rank).fill(1);
  order.forEach((o, i) => (target[i % rank] *= fs[o]));
  return s.done(s.b.add("reshape", [s.param("x", shape, values(s.r, prod(shape)))], { shape: target }));
};

const permuteCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const shape = d.shape(0, 4);
  return s.done(s.b.add("permute", [s.param("x", shape, values(s.r, prod(shape)))], { perm: d.perm(shape.length) }));
};

/** broadcast: new leading axes and size-1 axes stretched (each element is read many times). */
const broadcastCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const target = d.shape(0, 4);
  const lead = d.int(0, target.length);
  const from = target.slice(lead).map((dim) => (d.int(0, 2) === 0 ? 1 : dim));
  return s.done(s.b.add("broadcast", [s.param("x", from, values(s.r, prod(from)))], { shape: target }));
};

/** slice with starts, ends and steps ≥ 1 per axis (never empty: the GPU has no zero-size buffers). */
const sliceCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const shape = d.shape(1, 4);
  const starts = shape.map((n) => d.int(0, n - 1));
  const ends = shape.map((n, k) => d.int(starts[k] + 1, n));
  const steps = shape.map(() => d.int(1, 3));
  return s.done(
    s.b.add(
      "slice",
      [s.param("x", shape, values(s.r, prod(shape)))],
      d.bool() ? { starts, ends, steps } : { starts, ends },
    ),
  );
};

const padCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const shape = d.shape(0, 3);
  const lo = shape.map(() => d.int(0, 2));
  const hi = shape.map(() => d.int(0, 2));
  return s.done(
    s.b.add("pad", [s.param("x", shape, values(s.r, prod(shape)))], { lo, hi, value: d.pick([0, 1.5, -2]) }),
  );
};

const concatCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const shape = d.shape(1, 3, 150);
  const axis = d.axis(shape.length);
  const k = ((axis % shape.length) + shape.length) % shape.length;
  const parts = Array.from({ length: d.int(1, 3) }, (_, i) => {
    const sh = shape.map((n, j) => (j === k ? d.dim() : n));
    return s.param(`x${i}`, sh, values(s.r, prod(sh)));
  });
  return s.done(s.b.add("concat", parts, { axis }));
};

/** matmul with transpose flags and batch dims that broadcast (missing leading axes, size-1 axes). */
const matmulCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const batch = d.shape(0, 2, 15);
  const operandBatch = () => batch.slice(d.int(0, batch.length)).map((n) => (d.int(0, 2) === 0 ? 1 : n));
  const [m, k, n] = [d.dim(), d.dim(), d.dim()];
  const transA = d.bool();
  const transB = d.bool();
  const aShape = [...operandBatch(), ...(transA ? [k, m] : [m, k])];
  const bShape = [...operandBatch(), ...(transB ? [n, k] : [k, n])];
  const a = s.param("a", aShape, values(s.r, prod(aShape)));
  const b = s.param("b", bShape, values(s.r, prod(bShape)));
  return s.done(s.b.add("matmul", [a, b], { transA, transB }));
};

/** Indices with repeats (drawn from few values) and, now and then, one out of range (reads 0 and
 *  receives no gradient). */
function indices(r: Rand, n: number, size: number, dtype: DType): number[] {
  const few = Math.max(1, Math.ceil(size / 2));
  const idx = Array.from({ length: n }, () => Math.floor(r() * (r() < 0.5 ? few : size)));
  if (n > 1 && r() < 0.3) idx[Math.floor(r() * n)] = dtype === "i32" && r() < 0.5 ? -1 : size;
  return idx;
}

const gatherCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const table = d.shape(1, 3, 200);
  const axis = d.axis(table.length);
  const dtype = d.pick<DType>(["i32", "u32"]);
  const idxShape = d.shape(0, 2, 30);
  const size = table[((axis % table.length) + table.length) % table.length];
  const idx = s.input("idx", dtype, idxShape, indices(s.r, prod(idxShape), size, dtype));
  return s.done(s.b.add("gather", [s.param("table", table, values(s.r, prod(table))), idx], { axis }));
};

const scatterAddCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const pre = d.shape(0, 1);
  const idxShape = d.shape(1, 2, 30);
  const post = d.shape(0, 1);
  const size = d.dim();
  const upd = [...pre, ...idxShape, ...post];
  const idx = s.input("idx", "i32", idxShape, indices(s.r, prod(idxShape), size, "i32"));
  return s.done(s.b.add("scatter_add", [idx, s.param("upd", upd, values(s.r, prod(upd)))], { axis: pre.length, size }));
};

/** write_rows: the cotangent reaches the cache outside the written rows and the rows that land in it
 *  (the offset may put some rows past either end, where they are dropped). */
const writeRowsCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const cache = d.shape(1, 3);
  const axis = d.int(0, cache.length - 1);
  const count = d.int(1, cache[axis]);
  const rows = cache.map((n, k) => (k === axis ? count : n));
  const at = s.input("at", "i32", [1], [d.int(-count, cache[axis])]);
  return s.done(
    s.b.add(
      "write_rows",
      [s.param("cache", cache, values(s.r, prod(cache))), s.param("rows", rows, values(s.r, prod(rows))), at],
      { axis },
    ),
  );
};

const softmaxCase =
  (op: "softmax" | "log_softmax"): CaseBuilder =>
  (d) => {
    const s = new Scope(d.rand());
    const shape = d.shape(1, 4);
    return s.done(s.b.add(op, [s.param("x", shape, values(s.r, prod(shape)))], { axis: d.axis(shape.length) }));
  };

/** layer_norm over the last axis; each row is spread out (std ≳ 0.25), because near-constant rows
 *  make xhat's derivatives ~1/σ³ and central differences meaningless. */
const layerNormCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const shape = d.shape(1, 3);
  const width = shape[shape.length - 1];
  const x = Array.from({ length: prod(shape) / width }, () => {
    const offset = uniform(s.r, -2, 2);
    return distinct(s.r, width).map((v) => offset + v * 5);
  }).flat();
  const eps = d.pick([undefined, 1e-5, 1e-2]);
  const ins = [
    s.param("x", shape, x),
    s.param("gamma", [width], values(s.r, width)),
    s.param("beta", [width], values(s.r, width)),
  ];
  return s.done(s.b.add("layer_norm", ins, eps === undefined ? {} : { eps }));
};

export const MASK_KINDS = ["none", "causal", "block_causal", "padding", "cross"] as const;

/** Masked attention over [B, (H,) T, d]; sequence lengths include 1; cross attention has Tq ≠ Tk;
 *  padding lengths run from 0 (a fully masked row averages all values) to Tk. `op` may be one of the
 *  flash-attention ops taking the same inputs (attention_lse takes no v). */
export function attentionCase(
  kind?: (typeof MASK_KINDS)[number],
  op: "attention" | "flash_attention" | "attention_lse" = "attention",
): CaseBuilder {
  return (d) => {
    const s = new Scope(d.rand());
    const k = kind ?? d.pick(MASK_KINDS);
    // On the GPU, few distinct sizes, so the mask kinds share kernels (each new one is JIT-compiled).
    const lead = d.forGpu ? [2] : d.bool() ? [d.pick([1, 2, 3])] : [d.pick([1, 2]), d.pick([1, 3])];
    const small = d.forGpu ? [1, 3] : [1, 2, 3, 5, 7];
    const tq = d.pick(small);
    let tk = d.pick(small);
    if (k === "cross" && tk === tq) tk = tq + 1;
    const [dk, dv] = [d.pick(small), d.pick(small)];
    const mask: MaskSpec = k === "block_causal" ? { kind: k, block: d.int(1, 4) } : { kind: k };
    const qkv = [
      s.param(
        "q",
        [...lead, tq, dk],
        values(s.r, prod(lead) * tq * dk).map((v) => v / 2),
      ),
      s.param(
        "k",
        [...lead, tk, dk],
        values(s.r, prod(lead) * tk * dk).map((v) => v / 2),
      ),
    ];
    if (op !== "attention_lse") qkv.push(s.param("v", [...lead, tk, dv], values(s.r, prod(lead) * tk * dv)));
    if (k === "padding")
      qkv.push(
        s.input(
          "lengths",
          "i32",
          [lead[0]],
          Array.from({ length: lead[0] }, () => d.int(0, tk)),
        ),
      );
    const scale = d.pick([undefined, 0.5]);
    return s.done(s.b.add(op, qkv, scale === undefined ? { mask } : { mask, scale }));
  };
}

// ---- the table ----------------------------------------------------------------------------------

/** Case builders by op; ops of a kind with a shared shape of case (elementwise, reduce) are derived
 *  from the table, the rest are listed. */
const BY_OP: Partial<Record<OpName, CaseBuilder>> = {
  cast: castCase,
  stop_gradient: stopGradientCase,
  reshape: reshapeCase,
  permute: permuteCase,
  broadcast: broadcastCase,
  slice: sliceCase,
  pad: padCase,
  concat: concatCase,
  matmul: matmulCase,
  gather: gatherCase,
  scatter_add: scatterAddCase,
  write_rows: writeRowsCase,
  softmax: softmaxCase("softmax"),
  log_softmax: softmaxCase("log_softmax"),
  layer_norm: layerNormCase,
  attention: attentionCase(),
  flash_attention: attentionCase(undefined, "flash_attention"),
  attention_lse: attentionCase(undefined, "attention_lse"),
};

/** Ops with no float input at all (sources, random seeds, logic): nothing to differentiate. The test
 *  checks each of these really rejects float inputs, so the list cannot hide an op. */
export const NO_FLOAT_INPUT: readonly OpName[] = [
  "input",
  "param",
  "full",
  "iota",
  "random_uniform",
  "random_normal",
  "and",
  "or",
  "not",
];

/** Ops that are themselves gradients (attention's backward halves): not differentiated again. The test
 *  checks that differentiating them fails with a clear error rather than a wrong gradient. */
export const GRADIENT_ONLY: readonly OpName[] = ["attention_dq", "attention_dkv"];

/** The optimizer's ops end a training step and have no gradient; optim.test.ts checks that
 *  differentiating through them fails with a clear error. */
export const STEP_ONLY: readonly OpName[] = ["sum_squares", "adamw"];

/** The case builder for an op, or undefined when there is none (a test fails on that). */
export function caseBuilder(op: OpName): CaseBuilder | undefined {
  const own = BY_OP[op];
  if (own) return own;
  if (OPS[op].kind === "reduce") return reduceCase(op);
  if (OPS[op].kind === "elementwise") {
    const sig = floatSignature(op);
    return sig && elementwiseCase(op, sig);
  }
  return undefined;
}

// ---- a small model ------------------------------------------------------------------------------

/** A one-block char LM: embedding (gather), pre-norm causal attention, a gelu MLP with biases, and the
 *  per-token negative log-likelihood of a log_softmax head, y: [B, T]. */
export const modelCase: CaseBuilder = (d) => {
  const s = new Scope(d.rand());
  const [bsz, t, dm, hid, vocab] = [
    d.pick([1, 2]),
    d.pick([1, 3, 5]),
    d.pick([2, 3, 4]),
    d.pick([3, 5]),
    d.pick([3, 5, 7]),
  ];
  const b = s.b;
  const w = (name: string, shape: number[], scale = 1) =>
    s.param(
      name,
      shape,
      values(s.r, prod(shape)).map((v) => (v * scale) / Math.sqrt(shape[0])),
    );
  const tokens = Array.from({ length: bsz * t }, () => Math.floor(s.r() * vocab));
  const ids = s.input("tokens", "i32", [bsz, t], tokens);
  const targets = s.input(
    "targets",
    "f32",
    [bsz, t, vocab],
    tokens.flatMap(() => {
      const one = Array<number>(vocab).fill(0);
      one[Math.floor(s.r() * vocab)] = 1;
      return one;
    }),
  );
  const ln = (x: Node, name: string) =>
    b.add("layer_norm", [
      x,
      s.param(
        `${name}.g`,
        [dm],
        values(s.r, dm).map((v) => 1 + v / 6),
      ),
      s.param(
        `${name}.b`,
        [dm],
        values(s.r, dm).map((v) => v / 6),
      ),
    ]);
  const mm = (x: Node, wt: Node) => b.add("matmul", [x, wt]);
  const x = b.add("gather", [w("emb", [vocab, dm], Math.sqrt(vocab)), ids], { axis: 0 }); // [B, T, dm]
  const h = ln(x, "ln1");
  const att = b.add("attention", [mm(h, w("wq", [dm, dm])), mm(h, w("wk", [dm, dm])), mm(h, w("wv", [dm, dm]))], {
    mask: { kind: "causal" },
  });
  const x2 = binary(b, "add", x, mm(att, w("wo", [dm, dm])));
  const hidden = b.add("gelu", [binary(b, "add", mm(ln(x2, "ln2"), w("w1", [dm, hid])), w("b1", [hid], 0.3))]);
  const x3 = binary(b, "add", x2, mm(hidden, w("w2", [hid, dm])));
  const logp = b.add("log_softmax", [mm(x3, w("head", [dm, vocab]))], { axis: -1 }); // [B, T, V]
  return s.done(b.add("neg", [reduce(b, "reduce_sum", binary(b, "mul", logp, targets), [2])]));
};
