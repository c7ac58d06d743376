// symbolic.ts: which sizes of an elaborated graph follow the batch dims (B, T, L …), and how. The IR is
// static: every shape and size attribute is a number. An exporter that wants code running at any batch
// size elaborates the model at a grid of sizes (each dim at its base size or one step off it), checks
// that the graphs have one structure, and fits every number of the graph as a multilinear polynomial
// of the dims with integer coefficients (B·T, T − 1, 2·B …), confirmed at one more elaboration. A graph
// whose structure or sizes follow the dims some other way (a loop unrolled T times, T / 2) is exported
// for the base sizes only, and the result says why.
import type { Graph, Node } from "../ir.js";

/** Σ coef · Π dims: a size as a polynomial of the batch dims (no dims: a constant). */
export interface Term {
  readonly coef: number;
  readonly dims: readonly string[];
}
export type Poly = readonly Term[];

/** A number of the graph: a plain number when it does not follow the batch dims. */
export type Sym = number | Poly;

export interface SymbolicGraph {
  /** the graph at the base sizes */
  readonly graph: Graph;
  readonly base: Readonly<Record<string, number>>;
  /** dims that the exported code reads from its inputs; the rest are fixed at their base size */
  readonly dynamic: readonly string[];
  /** why the dims are fixed, when they are */
  readonly fixedReason?: string;
  /** the node's shape, size by size */
  shape(node: Node): readonly Sym[];
  /** a numeric attribute (`shape`, `starts`, `ends`, `lo`, `hi`, `size` …), element by element */
  attr(node: Node, key: string): readonly Sym[];
}

/** Numbers of one elaboration keyed by where they sit ("12.shape.1", "12.attrs.ends.0"), and the
 *  structure (ops, inputs, everything that is not a number) as one string to compare. */
function flatten(g: Graph): { numbers: Map<string, number>; structure: string } {
  const numbers = new Map<string, number>();
  const parts: string[] = [];
  const walk = (prefix: string, v: unknown): string => {
    if (typeof v === "number") {
      numbers.set(prefix, v);
      return "#";
    }
    if (Array.isArray(v)) return `[${v.map((x, i) => walk(`${prefix}.${i}`, x)).join(",")}]`;
    if (v && typeof v === "object")
      return `{${Object.entries(v)
        .map(([k, x]) => `${k}:${walk(`${prefix}.${k}`, x)}`)
        .join(",")}}`;
    return JSON.stringify(v);
  };
  for (const n of g.nodes)
    parts.push(
      `${n.id}=${n.op}(${n.inputs.join(",")})${walk(`${n.id}.attrs`, n.attrs)}` +
        `:${n.dtype}${walk(`${n.id}.shape`, n.shape)}`,
    );
  parts.push(JSON.stringify(g.outputs));
  return { numbers, structure: parts.join(";") };
}

export const isConstant = (s: Sym): s is number => typeof s === "number";

/** The value of a polynomial at given sizes. */
export function evalPoly(p: Poly, at: Readonly<Record<string, number>>): number {
  return p.reduce((s, t) => s + t.coef * t.dims.reduce((m, d) => m * at[d], 1), 0);
}

/** Fits f over the 2^n grid (dim i at lo[i] or hi[i]) as Σ c_S Π_{i∈S} x_i, one dim at a time:
 *  along a dim, f = c0 + c1·x through its two points. Undefined when a coefficient is not an integer. */
function fitMultilinear(
  dims: readonly string[],
  lo: readonly number[],
  hi: readonly number[],
  values: readonly number[],
): Poly | undefined {
  // values[mask]: bit i of mask set when dim i is at hi[i]. After step i, bit i selects c0 or c1.
  let c = [...values];
  for (let i = 0; i < dims.length; i++) {
    const next = [...c];
    for (let mask = 0; mask < c.length; mask++) {
      if (mask & (1 << i)) continue;
      const fa = c[mask];
      const fb = c[mask | (1 << i)];
      const c1 = (fb - fa) / (hi[i] - lo[i]);
      next[mask] = fa - c1 * lo[i];
      next[mask | (1 << i)] = c1;
    }
    c = next;
  }
  const terms: Term[] = [];
  for (let mask = 0; mask < c.length; mask++) {
    const coef = c[mask];
    if (Math.abs(coef - Math.round(coef)) > 1e-9) return undefined;
    if (Math.round(coef) !== 0) terms.push({ coef: Math.round(coef), dims: dims.filter((_, i) => mask & (1 << i)) });
  }
  return terms;
}

/** Another size for a dim: one step off the base, downwards when the base is large (models bound
 *  some dims, e.g. T ≤ max_len, so the base the caller chose is known to be valid). */
const nearby = (base: number, step: number): number => (base > 2 * step ? base - step : base + step);

/**
 * Elaborates at the base sizes and around them and returns the symbolic view of the base graph.
 * `elab` may throw for sizes a model rejects; the dims are then fixed at the base, with the reason.
 */
export function symbolicGraph(
  elab: (batch: Readonly<Record<string, number>>) => Graph,
  base: Readonly<Record<string, number>>,
): SymbolicGraph {
  const dims = Object.keys(base).sort();
  const g0 = elab(base);
  const fixed = (fixedReason: string): SymbolicGraph => ({ ...staticGraph(g0, base), fixedReason });
  if (dims.length === 0) return staticGraph(g0, base);
  if (dims.length > 4) return fixed(`it has ${dims.length} batch dims (at most 4 are fitted)`);
  const lo = dims.map((d) => base[d]);
  const hi = dims.map((d) => nearby(base[d], 1));
  const check = Object.fromEntries(dims.map((d) => [d, nearby(base[d], 2)]));
  const f0 = flatten(g0);
  const grid: Map<string, number>[] = [];
  const at = (mask: number): Record<string, number> =>
    Object.fromEntries(dims.map((d, i) => [d, mask & (1 << i) ? hi[i] : lo[i]]));
  const probe = (sizes: Record<string, number>): Map<string, number> | string => {
    let g: Graph;
    try {
      g = elab(sizes);
    } catch (e) {
      return `the model does not elaborate at ${fmtSizes(sizes)} (${(e as Error).message.split("\n")[0]})`;
    }
    const f = flatten(g);
    return f.structure === f0.structure
      ? f.numbers
      : `its graph changes structure between ${fmtSizes(base)} and ${fmtSizes(sizes)} (an op repeated per position?)`;
  };
  for (let mask = 0; mask < 1 << dims.length; mask++) {
    const r = mask === 0 ? f0.numbers : probe(at(mask));
    if (typeof r === "string") return fixed(r);
    grid.push(r);
  }
  const verify = probe(check);
  if (typeof verify === "string") return fixed(verify);
  const polys = new Map<string, Poly>();
  for (const [key, v0] of f0.numbers) {
    const values = grid.map((m) => m.get(key)!);
    if (values.every((v) => v === v0) && verify.get(key) === v0) continue;
    const p = fitMultilinear(dims, lo, hi, values);
    if (!p || evalPoly(p, check) !== verify.get(key))
      return fixed(
        `a size (${describeKey(g0, key)}) follows the batch dims non-linearly (${values.join(", ")} on the probe grid)`,
      );
    polys.set(key, p);
  }
  const used = new Set([...polys.values()].flatMap((p) => p.flatMap((t) => t.dims)));
  const sym = (key: string, v: number): Sym => polys.get(key) ?? v;
  return {
    graph: g0,
    base,
    dynamic: dims.filter((d) => used.has(d)),
    shape: (n) => n.shape.map((v, i) => sym(`${n.id}.shape.${i}`, v)),
    attr: (n, key) =>
      numbersOf(n, key).map((v, i) =>
        sym(
          Array.isArray((n.attrs as Record<string, unknown>)[key])
            ? `${n.id}.attrs.${key}.${i}`
            : `${n.id}.attrs.${key}`,
          v,
        ),
      ),
  };
}

/** The graph as it is: every size fixed at the sizes it was elaborated for. */
export function staticGraph(graph: Graph, base: Readonly<Record<string, number>>): SymbolicGraph {
  return { graph, base, dynamic: [], shape: (n) => n.shape, attr: (n, key) => numbersOf(n, key) };
}

function numbersOf(n: Node, key: string): number[] {
  const v = (n.attrs as Record<string, unknown>)[key];
  if (typeof v === "number") return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === "number")) return v as number[];
  return [];
}

const fmtSizes = (s: Readonly<Record<string, number>>): string =>
  Object.entries(s)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

function describeKey(g: Graph, key: string): string {
  const [id, ...rest] = key.split(".");
  const n = g.nodes[Number(id)];
  return `${n?.op ?? "?"} %${id} ${rest.join(".")}`;
}

/** A polynomial or number as an expression over the dims' names, e.g. `B * T - 1`. */
export function symText(s: Sym): string {
  if (isConstant(s)) return String(s);
  if (s.length === 0) return "0";
  const parts = [...s]
    .sort((a, b) => b.dims.length - a.dims.length)
    .map((t, i) => {
      const mag = Math.abs(t.coef);
      const body =
        t.dims.length === 0 ? String(mag) : mag === 1 ? t.dims.join(" * ") : `${mag} * ${t.dims.join(" * ")}`;
      return i === 0 ? (t.coef < 0 ? `-${body}` : body) : `${t.coef < 0 ? "-" : "+"} ${body}`;
    });
  return parts.join(" ");
}

/** Two sizes known equal at every batch size (for printing `:` instead of `0:T`). */
export function symEqual(a: Sym, b: Sym): boolean {
  if (isConstant(a) && isConstant(b)) return a === b;
  const norm = (s: Sym): string =>
    isConstant(s)
      ? s === 0
        ? ""
        : `${s}|`
      : [...s]
          .map((t) => `${t.coef}|${[...t.dims].sort().join("*")}`)
          .sort()
          .join(";");
  return norm(a) === norm(b);
}
