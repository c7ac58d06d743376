// gen.ts (tests): generators for the GPU-vs-reference properties — shapes, seeded values per dtype and
// domain, and one runner that compiles a graph for the test device, runs it, and compares every output
// with the reference at its op's stated tolerance. fast-check draws the shapes and a seed; the bulk
// values come from a small PRNG started at that seed, so a failure replays from fast-check's seed alone.
import type { MatmulVariant } from "../../compiler/wgsl/matmul.js";
import fc from "fast-check";
import { GraphBuilder } from "../../compiler/builder.js";
import { type DType, isFloat, roundTo } from "../../compiler/dtype.js";
import { type Graph, type Node, printGraph } from "../../compiler/ir.js";
import type { DeviceLimits } from "../../compiler/limits.js";
import { OPS, opSpec } from "../../compiler/ops/index.js";
import { type Domain, F16_TOLERANCE, type Tolerance } from "../../compiler/ops/spec.js";
import type { CompileOptions } from "../../compiler/program.js";
import type { Feeds } from "../../compiler/reference.js";
import { runReference } from "../../compiler/reference.js";
import { type Shape, prod } from "../../compiler/shape.js";
import { firstMismatch } from "../helpers/close.js";
import { runOnGpu } from "../helpers/gpu.js";

/** Dimensions the properties draw from: 1, primes, a tile-sized 64 and 257 (just past a tile). */
export const DIMS = [1, 2, 3, 5, 7, 13, 31, 64, 257] as const;

export const dimArb = fc.constantFrom(...DIMS);

/** Shapes of rank in [minRank, maxRank] with at most `cap` elements. */
export function shapeArb(minRank: number, maxRank: number, cap = 40_000): fc.Arbitrary<number[]> {
  return fc.array(dimArb, { minLength: minRank, maxLength: maxRank }).filter((s) => prod(s) <= cap);
}

/** numRuns for a property: `n`, times MIRA_FC_SCALE when set (a soak run: MIRA_FC_SCALE=20). */
export const runs = (n: number): number => Math.max(1, Math.round(n * Number(process.env.MIRA_FC_SCALE ?? 1)));

export const seedArb = fc.integer({ min: 0, max: 0x7fffffff });

export { prng } from "../helpers/prng.js";

export type Rand = () => number;

export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
export const intIn = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/** A random permutation of 0 … n − 1 (Fisher–Yates). */
export function shuffled(r: Rand, n: number): number[] {
  const p = [...Array(n).keys()];
  for (let k = n - 1; k > 0; k--) {
    const j = intIn(r, 0, k);
    [p[k], p[j]] = [p[j], p[k]];
  }
  return p;
}

/** Values a kernel must get exactly as the reference does, mixed into float inputs now and then. */
const SPECIAL = [0, -0, 1, -1, 0.5, 2, -2, 3];

/**
 * One value of `dtype` from an op's domain. Floats avoid subnormals (WGSL lets a GPU flush them to
 * zero) and stay within f16 range for f16; integers cover their whole range, with small values and
 * the extremes common so that equal values, zero divisors and wrap-around all occur.
 */
export function valueOf(r: Rand, dtype: DType, domain: Domain = "any"): number {
  if (dtype === "bool") return r() < 0.5 ? 1 : 0;
  if (dtype === "i32" || dtype === "u32") {
    const u = r();
    const signed = dtype === "i32";
    let v: number;
    if (u < 0.4) v = intIn(r, signed ? -8 : 0, 8);
    else if (u < 0.5) v = pick(r, signed ? [-2147483648, 2147483647, -1, 0] : [0, 4294967295, 2147483648, 1]);
    else if (u < 0.75) v = intIn(r, signed ? -100_000 : 0, 100_000);
    else v = signed ? intIn(r, -2147483648, 2147483647) : intIn(r, 0, 4294967295);
    if (domain === "positive" && v <= 0) v = signed ? 1 + (Math.abs(v) % 1000) : 1 + v;
    if (domain === "nonzero" && v === 0) v = 1;
    return v;
  }
  let x: number;
  switch (domain) {
    case "positive":
      x = r() < 0.1 ? pick(r, [1, 0.5, 2, 3]) : 2 ** (r() * 16 - 8); // [2^-8, 2^8)
      break;
    case "nonzero":
      x = (r() < 0.5 ? -1 : 1) * (r() < 0.1 ? pick(r, [1, 0.5, 2]) : 2 ** (r() * 14 - 7));
      break;
    case "unit":
      x = r() < 0.1 ? pick(r, [0, -1, 1, 0.5]) : r() * 2 - 1;
      break;
    case "any": {
      // Some values near 0, where a formula of the form 1 − (≈1) loses its relative accuracy.
      const u = r();
      x =
        u < 0.1
          ? pick(r, SPECIAL)
          : u < 0.2
            ? (r() * 2 - 1) * 2 ** intIn(r, -12, -4)
            : (r() * 2 - 1) * 2 ** intIn(r, -3, 3);
      break;
    }
  }
  return roundTo(dtype, x);
}

export function valuesOf(r: Rand, dtype: DType, n: number, domain: Domain = "any"): number[] {
  return Array.from({ length: n }, () => valueOf(r, dtype, domain));
}

/**
 * Values on a dyadic grid (multiples of 2^-bits within ±2^range): sums and products of a few thousand
 * of them are exact in f32, so an accumulating kernel (reduction, matmul, scatter-add) must match the
 * reference whatever its summation order, and a mismatch is an indexing bug, not rounding.
 */
export function gridValues(r: Rand, dtype: DType, n: number, bits = 6, range = 2): number[] {
  if (dtype === "bool") return valuesOf(r, dtype, n);
  const span = 2 ** (bits + range);
  return Array.from({ length: n }, () => {
    const k = intIn(r, dtype === "u32" ? 0 : -span, span);
    return isFloat(dtype) ? k / 2 ** bits : k;
  });
}

/** The tolerance an op's result is held to: its table entry for f32, F16_TOLERANCE for f16. */
export function tolFor(op: string, dtype: DType): Tolerance {
  const t = opSpec(op).tol;
  return dtype === "f16"
    ? { atol: Math.max(t.atol, F16_TOLERANCE.atol), rtol: Math.max(t.rtol, F16_TOLERANCE.rtol) }
    : t;
}

/** Feeds for every input of a graph, drawn by `values(node)`. */
export function feedsFor(g: Graph, values: (n: Node) => number[]): Record<string, number[]> {
  const feeds: Record<string, number[]> = {};
  for (const n of g.nodes) if (n.op === "input" || n.op === "param") feeds[n.attrs.name!] = values(n);
  return feeds;
}

export interface CheckOptions {
  readonly matmul?: MatmulVariant;
  readonly limits?: Partial<DeviceLimits>;
  /** Tolerance per output; by default that of the op computing it. */
  readonly tol?: Tolerance;
  /** further compile options (a pass turned off or on) */
  readonly compile?: CompileOptions;
}

/** Runs `g` on the GPU and on the reference; throws naming output, index, both values and the graph. */
export async function expectGpuMatchesReference(g: Graph, feeds: Feeds, opts: CheckOptions = {}): Promise<void> {
  const got = await runOnGpu(g, feeds, { ...opts.compile, matmul: opts.matmul, limits: opts.limits });
  const ref = runReference(g, feeds);
  for (const o of g.outputs) {
    const node = g.nodes[o.id];
    const tol = opts.tol ?? tolFor(node.op, node.dtype);
    const bad = firstMismatch(got[o.name], ref[o.name].data, tol);
    if (bad)
      throw new Error(`${o.name} (${node.op} ${node.dtype}[${node.shape.join(", ")}]): ${bad}\n${printGraph(g)}`);
  }
}

/** A graph of one op over fresh inputs: `inputs` are (dtype, shape) pairs, named x0, x1, …. */
export function singleOp(op: string, inputs: readonly { dtype: DType; shape: Shape }[], attrs = {}): Graph {
  const b = new GraphBuilder();
  const xs = inputs.map((t, i) => b.input(`x${i}`, t.dtype, t.shape));
  b.output("y", b.add(op, xs, attrs));
  return b.build();
}

/** Whether an op's dtype/shape rule accepts these input types (the table decides, not the test). */
export function accepts(op: string, inputs: readonly { dtype: DType; shape: Shape }[], attrs = {}): boolean {
  try {
    opSpec(op).infer(inputs, attrs);
    return true;
  } catch {
    return false;
  }
}

export const opNames = Object.keys(OPS);
