// reference.ts: the CPU interpreter of the IR — the oracle every kernel is tested against. Values are
// float64 and are rounded to their dtype after every op, as a kernel would; `exact: true` keeps float
// values unrounded (float64 throughout), which finite-difference gradient checks need; `jitter` moves
// every float value an op computes by up to `jitterUlps` units in the last place of its dtype, at random:
// evaluations apart by that much show how far another order of roundings (a GPU's) may land.
import { roundTo } from "./dtype.js";
import { type Graph, IrError, type Node, describe } from "./ir.js";
import { opSpec } from "./ops/index.js";
import type { RefTensor, ScalarContext } from "./ops/spec.js";
import { prod } from "./shape.js";

export interface EvalOptions {
  readonly exact?: boolean;
  /** uniform numbers in [0, 1): each float result of an op is scaled by 1 + (2u − 1)·ε (ε: its dtype's
   *  relative unit in the last place, 2⁻²³ for f32, 2⁻¹⁰ for f16) before it is rounded */
  readonly jitter?: () => number;
  /** how many units in the last place `jitter` moves a value by at most (default 1) */
  readonly jitterUlps?: number;
}

export type Feeds = Readonly<Record<string, ArrayLike<number>>>;

function rounded(node: Node, data: Float64Array, exact: boolean, jitter?: () => number, ulps = 1): RefTensor {
  const ulp = ulps * (node.dtype === "f32" ? 2 ** -23 : node.dtype === "f16" ? 2 ** -10 : 0);
  if (jitter && ulp > 0) for (let i = 0; i < data.length; i++) data[i] *= 1 + (2 * jitter() - 1) * ulp;
  if (!(exact && (node.dtype === "f32" || node.dtype === "f16")))
    for (let i = 0; i < data.length; i++) data[i] = roundTo(node.dtype, data[i]);
  return { dtype: node.dtype, shape: node.shape, data };
}

function evalElementwise(node: Node, ins: readonly RefTensor[]): Float64Array {
  const spec = opSpec(node.op);
  if (spec.kind !== "elementwise") throw new IrError(`${node.op} is not elementwise`);
  const n = prod(node.shape);
  const out = new Float64Array(n);
  const coords = new Array<number>(node.shape.length).fill(0);
  const xs = new Array<number>(ins.length);
  const ctx: ScalarContext = { index: 0, coords, attrs: node.attrs, inputs: ins, out: node };
  const scalarInput = ins.map((t) => t.shape.length === 0);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < ins.length; k++) xs[k] = ins[k].data[scalarInput[k] ? 0 : i];
    (ctx as { index: number }).index = i;
    out[i] = spec.scalar(xs, ctx);
    for (let k = coords.length - 1; k >= 0; k--) {
      if (++coords[k] < node.shape[k]) break;
      coords[k] = 0;
    }
  }
  return out;
}

/** Evaluates every node; returns values by node id. */
export function evaluate(g: Graph, feeds: Feeds, opts: EvalOptions = {}): Map<number, RefTensor> {
  const exact = opts.exact ?? false;
  const values = new Map<number, RefTensor>();
  for (const node of g.nodes) {
    const spec = opSpec(node.op);
    const ins = node.inputs.map((i) => values.get(i)!);
    let data: Float64Array;
    if (spec.kind === "source") {
      const name = node.attrs.name!;
      const fed = feeds[name];
      if (!fed) throw new IrError(`no value fed for ${node.op} '${name}' (${describe(node)})`);
      if (fed.length !== prod(node.shape))
        throw new IrError(
          `${node.op} '${name}' needs ${prod(node.shape)} values (${describe(node)}), got ${fed.length}`,
        );
      data = Float64Array.from(fed);
    } else if (spec.kind === "elementwise") {
      data = evalElementwise(node, ins);
    } else {
      data = spec.ref(ins, node.attrs, node);
    }
    const jitter = spec.kind === "source" ? undefined : opts.jitter;
    values.set(node.id, rounded(node, data, exact, jitter, opts.jitterUlps));
  }
  return values;
}

/** Evaluates a graph and returns its named outputs. */
export function runReference(g: Graph, feeds: Feeds, opts: EvalOptions = {}): Record<string, RefTensor> {
  const values = evaluate(g, feeds, opts);
  return Object.fromEntries(g.outputs.map((o) => [o.name, values.get(o.id)!]));
}
