// analyze.ts: the locality analysis the incremental decoder and the streaming encoder share. A model is
// elaborated at three lengths 2, 3, 4 of one axis (the sequence length T, the chunk count C); a
// dimension that changes with the length is a value's axis. checkOp reads each op's fact (facts.ts) to
// check that it keeps the axis's elements apart; what a fact leaves to the derivation (which slices,
// pads, joins, reshapes and attention masks its rewrite can follow) its Derivation judges.
import type { Node } from "../ir.js";
import { normAxis } from "../shape.js";
import { type Combining, localityOf } from "./facts.js";

/** A value's axis along the sequence or the chunks. */
export interface Axis {
  readonly axis: number;
}

/** What an op check found besides "keeps them apart": a positional source, or attention to cache. */
export type Found = "source" | "cache" | undefined;

export type Mixes = (why?: string) => never;

/** Judges op `n` whose result has axis `a` (if any) and whose inputs have axes `ai`. */
export type Judge<A extends Axis> = (
  n: Node,
  ins: readonly Node[],
  a: A | undefined,
  ai: readonly (A | undefined)[],
  mixes: Mixes,
) => Found | void;

/** A derivation's words, and its judgement of the ops whose locality depends on its rewrite. */
export interface Derivation<A extends Axis> {
  /** what the axis holds ("positions") and what it is called ("the sequence") */
  readonly items: string;
  readonly along: string;
  /** the length the model is elaborated at, and the program that must follow it */
  readonly length: string;
  readonly program: string;
  /** why a random op along the axis cannot be followed */
  readonly random: string;
  /** whether pad's bounds along the axis may change with the length */
  readonly padBounds: boolean;
  /** an iota along the axis */
  readonly coordinate: Judge<A>;
  readonly reshapes: Judge<A>;
  readonly slices: Judge<A>;
  readonly pads: Judge<A>;
  readonly joins: Judge<A>;
  readonly attends: Judge<A>;
}

/** Checks that op `n` keeps the elements along the axis apart (else throws `fail`'s error). */
export function checkOp<A extends Axis>(
  d: Derivation<A>,
  n: Node,
  ins: readonly Node[],
  a: A | undefined,
  ai: readonly (A | undefined)[],
  fail: (what: string) => Error,
): Found {
  const mixes: Mixes = (why = "") => {
    throw fail(`mixes ${d.items}${why}`);
  };
  const judge = (j: Judge<A>): Found => j(n, ins, a, ai, mixes) ?? undefined;
  const fact = localityOf(n.op);
  switch (fact.kind) {
    case "fed":
    case "pointwise":
    case "constant":
    case "relabels":
      return undefined;
    case "coordinate":
      return a && normAxis(n.attrs.axis ?? 0, n.shape.length) === a.axis ? judge(d.coordinate) : undefined;
    case "random":
      if (a) throw fail(d.random);
      return undefined;
    case "combines": {
      const along = fact.along(n, ins);
      const mixed = ai.some((x, i) => x !== undefined && (along[i] ?? []).includes(x.axis));
      if (mixed) mixes(` (${combining(d, fact.how)})`);
      return undefined;
    }
    case "reshapes":
      return judge(d.reshapes);
    case "slices":
      return judge(d.slices);
    case "pads":
      return judge(d.pads);
    case "joins":
      return judge(d.joins);
    case "attends":
      return judge(d.attends);
    case "opaque":
      throw fail(`is not known to keep ${d.items} apart`);
  }
}

function combining(d: { readonly items: string; readonly along: string }, how: Combining): string {
  return how === "picks" ? `it picks ${d.items} by value` : `it ${how} over ${d.along}`;
}

/** The one axis whose size changes across the graphs at lengths 2, 3, 4, with its three sizes. */
export function varyingAxis(
  n2: Node,
  n3: Node,
  n4: Node,
  items: string,
  fail: (what: string) => Error,
): { readonly axis: number; readonly sizes: readonly [number, number, number] } | undefined {
  const axes = n2.shape.map((_, a) => a).filter((a) => n2.shape[a] !== n3.shape[a] || n3.shape[a] !== n4.shape[a]);
  if (axes.length === 0) return undefined;
  if (axes.length > 1) throw fail(`mixes ${items} (its result pairs ${items} with ${items})`);
  const a = axes[0];
  return { axis: a, sizes: [n2.shape[a], n3.shape[a], n4.shape[a]] };
}

/** The nodes the roots depend on, themselves included. */
export function cone(byId: ReadonlyMap<number, Node>, roots: readonly number[]): Set<number> {
  const live = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    live.add(id);
    stack.push(...byId.get(id)!.inputs);
  }
  return live;
}

/** Attribute entries that change with the length must be the sizes or bounds of the axis itself (the
 *  rewrites handle those), and must grow linearly, so the graph at any length is known from 2, 3, 4. */
export function checkAttrs<A extends Axis>(
  d: Derivation<A>,
  [n, n3, n4]: readonly [Node, Node, Node],
  a: A | undefined,
  a0: A | undefined,
  fail: (what: string) => Error,
): void {
  const allowed = new Set<string>();
  if (a && n.attrs.shape) allowed.add(`shape.${a.axis}`);
  const sliced = a ?? a0;
  if (n.op === "slice" && sliced) ["starts", "ends"].forEach((k) => allowed.add(`${k}.${sliced.axis}`));
  if (d.padBounds && n.op === "pad" && a0) ["lo", "hi"].forEach((k) => allowed.add(`${k}.${a0.axis}`));
  const changing = changingAttrs(n, n3);
  const odd = changing.find((p) => !allowed.has(p));
  if (odd) throw fail(`has an attribute (${odd}) that depends on ${d.length} in a way ${d.program} cannot follow`);
  const step = (p: string, x: Node, y: Node): number => attrAt(y, p) - attrAt(x, p);
  const nonlinear = changing.some((p) => step(p, n, n3) !== step(p, n3, n4));
  if (changingAttrs(n3, n4).some((p) => !changing.includes(p)) || nonlinear) {
    throw fail(`has attributes that do not grow linearly with ${d.length}`);
  }
}

/** Paths of numeric attribute entries that differ between two nodes ("shape.1", "ends.0", "value"). */
export function changingAttrs(n2: Node, n3: Node): string[] {
  const paths: string[] = [];
  const walk = (x: unknown, y: unknown, path: string): void => {
    if (typeof x === "number" || typeof y === "number") {
      if (x !== y) paths.push(path);
    } else if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) paths.push(path);
      else x.forEach((v, i) => walk(v, y[i], `${path}.${i}`));
    } else if (x && y && typeof x === "object" && typeof y === "object") {
      const xs = x as Record<string, unknown>;
      const ys = y as Record<string, unknown>;
      const keys = new Set([...Object.keys(xs), ...Object.keys(ys)]);
      for (const key of keys) walk(xs[key], ys[key], path ? `${path}.${key}` : key);
    } else if (x !== y) paths.push(path);
  };
  walk(n2.attrs, n3.attrs, "");
  return paths;
}

function attrAt(n: Node, path: string): number {
  let x: unknown = n.attrs;
  for (const k of path.split(".")) x = (x as Record<string, unknown>)[k];
  return x as number;
}
