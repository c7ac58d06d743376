// analyze.ts: which values of a model's forward graph are rows of the generated sequence. The model is
// elaborated at three sequence lengths T = 2, 3, 4 (same graph, other sizes); a dimension that changes
// with T is the value's sequence axis S, of size k·(T + off): k rows per position (k > 1 when S was
// folded into another axis, [B·T, d]) and `off` rows before position 0 (a start token prepended). Each
// value of the generated output's cone is then tagged
//   row        — has S and depends on the generated input: its row t depends on positions ≤ t only
//   positional — has S but not that dependence: a function of the position (table[:T], iota over S)
//   free       — no S, no dependence: weights, constants, encoder outputs, cross-attention K/V
// and every op is checked to keep rows apart: the only op that mixes positions and is allowed is
// attention with a causal mask over S, which the decoder replaces by a KV cache. Anything else that
// mixes positions (a mean over S, softmax over S, a slice picking positions, non-causal attention) is
// a DecodeError naming the op and its source line.
import type { Elaborated } from "../lower.js";
import type { Graph, Node } from "../ir.js";
import { nodeById } from "../ir.js";
import { opSpec } from "../ops/index.js";
import { reduceAxes } from "../ops/reduce.js";
import { normAxis, prod } from "../shape.js";
import { DecodeError, type Located } from "./error.js";

/** A value's sequence axis: index j along `axis` (within each of k groups) is position j − off. */
export interface SeqAxis {
  readonly axis: number;
  readonly k: number;
  readonly off: number;
}

export type Role = "row" | "positional" | "free";

export interface Analysis {
  /** the forward graph at T = 2, pruned to the generated output (node ids are shared with g3, g4) */
  readonly g2: Graph;
  readonly g3: Graph;
  readonly g4: Graph;
  readonly byId: ReadonlyMap<number, Node>;
  readonly seq: ReadonlyMap<number, SeqAxis>;
  readonly role: ReadonlyMap<number, Role>;
  /** the generated input (tokens) and output (logits) */
  readonly input: Node;
  readonly output: Node;
  /** causal self-attention nodes, in graph order: each gets a K and a V cache */
  readonly causal: readonly number[];
  /** free values a row or positional value reads that depend on another input (an encoder's output,
   *  cross-attention K/V): computed once by the prefill and kept for the steps */
  readonly memo: readonly number[];
  /** positional sources: slices of free tables along S (learned positions) and iotas along S */
  readonly sources: ReadonlySet<number>;
}

/** The sequence lengths the model is elaborated at for the analysis. */
export const ANALYSIS_LENGTHS = [2, 3, 4] as const;

/** Tags the cone of `generate`'s output in the model elaborated at T = 2, 3, 4 (see the file comment). */
export function analyze([e2, e3, e4]: readonly [Elaborated, Elaborated, Elaborated], loc: Located): Analysis {
  const gen = e2.generate;
  if (!gen) throw new DecodeError("the model has no 'generate' declaration (generate <input> from <output>)");
  const out = e2.graph.outputs.find((o) => o.name === gen.from);
  if (!out) throw new DecodeError(`'generate' reads '${gen.from}', which is not an output of the model`);
  const prune = (e: Elaborated): Graph => cone(e.graph, gen.from, out.id);
  const [g2, g3, g4] = [e2, e3, e4].map(prune);
  if (g2.nodes.length !== g3.nodes.length || g2.nodes.length !== g4.nodes.length) throw new DecodeError("the graph's structure changes with the sequence length, so one step program cannot stand for it");
  const by2 = nodeById(g2);
  const by3 = nodeById(g3);
  const by4 = nodeById(g4);
  const where = (n: Node, what: string): DecodeError => loc.error(n, what);

  const seq = new Map<number, SeqAxis>();
  const role = new Map<number, Role>();
  const dep = new Set<number>(); // depends on the generated input
  const other = new Set<number>(); // depends on another input
  const causal: number[] = [];
  const sources = new Set<number>();
  let input: Node | undefined;

  for (const n of g2.nodes) {
    const n3 = by3.get(n.id);
    const n4 = by4.get(n.id);
    if (!n3 || !n4 || n3.op !== n.op || n4.op !== n.op || n3.shape.length !== n.shape.length || n4.shape.length !== n.shape.length) {
      throw where(n, "changes with the sequence length, so one step program cannot stand for it");
    }
    const s = seqAxisOf(n, n3, n4, where);
    if (s) seq.set(n.id, s);
    const ins = n.inputs.map((i) => by2.get(i)!);
    if (n.op === "input") {
      if (n.attrs.name === gen.input) {
        if (!s || s.axis !== 1 || s.k !== 1 || s.off !== 0 || n.shape.length !== 2) throw new DecodeError(`the generated input '${gen.input}' must be [batch, sequence], got ${n.dtype}[${n.shape.join(", ")}] at T = 2`);
        dep.add(n.id);
        input = n;
      } else {
        if (s) throw new DecodeError(`input '${n.attrs.name}' has a sequence axis but is not the generated input '${gen.input}': a step would need its next row, which only the caller knows`);
        other.add(n.id);
      }
    }
    if (ins.some((i) => dep.has(i.id))) dep.add(n.id);
    if (ins.some((i) => other.has(i.id))) other.add(n.id);
    role.set(n.id, s ? (dep.has(n.id) ? "row" : "positional") : "free");
    checkAttrs(n, n3, n4, s, ins.map((i) => seq.get(i.id)), where);
    if (s || ins.some((i) => seq.has(i.id))) checkOp(n, ins, seq, where, causal, sources);
    // What no rule above caught: a value of the generated input that lost the sequence axis.
    if (!s && dep.has(n.id)) throw where(n, "mixes positions");
    if (s && s.off < 0) throw where(n, "drops the first positions");
  }

  if (!input) throw new DecodeError(`the generated input '${gen.input}' does not reach '${gen.from}'`);
  const output = by2.get(out.id)!;
  const os = seq.get(output.id);
  if (!os || os.k !== 1 || role.get(output.id) !== "row") throw new DecodeError(`'${gen.from}' must have the sequence axis of '${gen.input}' (one row per position)`);

  // Free values read by row or positional ones, that another input feeds: the prefill keeps them.
  const memo = new Set<number>();
  for (const n of g2.nodes) {
    if (role.get(n.id) === "free") continue;
    for (const i of n.inputs) if (role.get(i) === "free" && other.has(i) && !isDroppedPrefix(n, i, seq)) memo.add(i);
  }
  return { g2, g3, g4, byId: by2, seq, role, input, output, causal, memo: [...memo].sort((a, b) => a - b), sources };
}

/** The nodes `id` depends on, and nothing else (pruneGraph keeps every input and param; an input only
 *  a loss reads, such as a loss mask over the sequence, is not the decoder's business). */
function cone(g: Graph, name: string, id: number): Graph {
  const byId = nodeById(g);
  const live = new Set<number>();
  const stack = [id];
  while (stack.length) {
    const i = stack.pop()!;
    if (live.has(i)) continue;
    live.add(i);
    stack.push(...byId.get(i)!.inputs);
  }
  return { nodes: g.nodes.filter((n) => live.has(n.id)), outputs: [{ name, id }] };
}

/** A free input of a concat along S is a prefix (a start token): steps never read it. */
function isDroppedPrefix(n: Node, input: number, seq: ReadonlyMap<number, SeqAxis>): boolean {
  const s = seq.get(n.id);
  return n.op === "concat" && s !== undefined && normAxis(n.attrs.axis ?? 0, n.shape.length) === s.axis && !seq.has(input);
}

/** The axis whose size changes with T, as k·(T + off); none for a value without one. */
function seqAxisOf(n2: Node, n3: Node, n4: Node, where: (n: Node, what: string) => DecodeError): SeqAxis | undefined {
  const axes = n2.shape.map((_, a) => a).filter((a) => n2.shape[a] !== n3.shape[a] || n3.shape[a] !== n4.shape[a]);
  if (axes.length === 0) return undefined;
  if (axes.length > 1) throw where(n2, "mixes positions (its result pairs positions with positions)");
  const a = axes[0];
  const [s2, s3, s4] = [n2.shape[a], n3.shape[a], n4.shape[a]];
  const k = s3 - s2;
  const off = s2 / k - 2;
  if (k <= 0 || s4 - s3 !== k || !Number.isInteger(off)) throw where(n2, `has a size along the sequence that is not k·(T + c) (${s2}, ${s3}, ${s4} at T = 2, 3, 4)`);
  return { axis: a, k, off };
}

/** Paths of numeric attribute entries that change with T ("shape.1", "ends.0", "value"). */
export function changingAttrs(n2: Node, n3: Node): string[] {
  const paths: string[] = [];
  const walk = (x: unknown, y: unknown, path: string): void => {
    if (typeof x === "number" || typeof y === "number") {
      if (x !== y) paths.push(path);
    } else if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) paths.push(path);
      else x.forEach((v, i) => walk(v, y[i], `${path}.${i}`));
    } else if (x && y && typeof x === "object" && typeof y === "object") {
      for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) walk((x as Record<string, unknown>)[key], (y as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
    } else if (x !== y) paths.push(path);
  };
  walk(n2.attrs, n3.attrs, "");
  return paths;
}

/** Attribute entries that change with T must be the sizes or bounds of S itself (the rewrites handle
 *  those), and must grow linearly, so the graph at any T is known from T = 2, 3, 4. */
function checkAttrs(n: Node, n3: Node, n4: Node, s: SeqAxis | undefined, si: readonly (SeqAxis | undefined)[], where: (n: Node, what: string) => DecodeError): void {
  const allowed = new Set<string>();
  if (s && n.attrs.shape) allowed.add(`shape.${s.axis}`);
  const sliced = s ?? si[0];
  if (n.op === "slice" && sliced) ["starts", "ends"].forEach((k) => allowed.add(`${k}.${sliced.axis}`));
  if (n.op === "pad" && si[0]) ["lo", "hi"].forEach((k) => allowed.add(`${k}.${si[0]!.axis}`));
  checkLinearAttrs(n, n3, n4, allowed, (what) => where(n, what), { length: "the sequence length", program: "a step" });
}

/** Attribute entries that change with the length (`allowed` are those the rewrite handles) must grow
 *  linearly, so the graph at any length is known from lengths 2, 3 and 4. Shared by decoding (sequence
 *  length) and streaming (chunk count). */
export function checkLinearAttrs(n: Node, n3: Node, n4: Node, allowed: ReadonlySet<string>, fail: (what: string) => Error, words: { readonly length: string; readonly program: string }): void {
  const changing = changingAttrs(n, n3);
  const odd = changing.find((p) => !allowed.has(p));
  if (odd) throw fail(`has an attribute (${odd}) that depends on ${words.length} in a way ${words.program} cannot follow`);
  if (changingAttrs(n3, n4).some((p) => !changing.includes(p)) || changing.some((p) => attrAt(n3, p) - attrAt(n, p) !== attrAt(n4, p) - attrAt(n3, p))) {
    throw fail(`has attributes that do not grow linearly with ${words.length}`);
  }
}

/** Why a reduce, matmul or gather mixes elements along its input's axis `ai` (the sequence or the
 *  chunks), or undefined when it keeps them apart. */
export function mixesAlong(n: Node, ins: readonly Node[], ai: readonly ({ readonly axis: number } | undefined)[], words: { readonly along: string; readonly items: string }): string | undefined {
  switch (opSpec(n.op).kind) {
    case "reduce":
      return ai[0] && reduceAxes(n.attrs, ins[0].shape.length).includes(ai[0].axis) ? ` (it reduces over ${words.along})` : undefined;
    case "matmul": {
      const [a, b] = ins;
      const ka = n.attrs.transA ? a.shape.length - 2 : a.shape.length - 1;
      const kb = n.attrs.transB ? b.shape.length - 1 : b.shape.length - 2;
      return ai[0]?.axis === ka || ai[1]?.axis === kb ? ` (it sums over ${words.along})` : undefined;
    }
    case "gather":
      return ai[0] && ai[0].axis === normAxis(n.attrs.axis ?? 0, ins[0].shape.length) ? ` (it picks ${words.items} by value)` : undefined;
    default:
      return undefined;
  }
}

/** Checks that op `n` keeps positions apart, and records causal attention and positional sources. */
function checkOp(n: Node, ins: readonly Node[], seq: ReadonlyMap<number, SeqAxis>, where: (n: Node, what: string) => DecodeError, causal: number[], sources: Set<number>): void {
  const s = seq.get(n.id);
  const si = ins.map((i) => seq.get(i.id));
  const mixes = (why = ""): never => {
    throw where(n, `mixes positions${why}`);
  };
  const kind = opSpec(n.op).kind;
  switch (kind) {
    case "source":
      return; // the generated input (other inputs with S were refused above)
    case "elementwise":
      if (n.inputs.length === 0 && s) {
        if (n.op.startsWith("random_")) throw where(n, "draws different values for each position and sequence length");
        if (n.op === "iota" && normAxis(n.attrs.axis ?? 0, n.shape.length) === s.axis) {
          if (s.k !== 1) mixes(" (an iota along a folded sequence axis)");
          sources.add(n.id);
        }
      }
      return; // same-shape inputs share the sequence axis; rank-0 inputs are free
    case "reduce":
    case "matmul":
    case "gather": {
      const why = mixesAlong(n, ins, si, { along: "the sequence", items: "positions" });
      if (why) mixes(why);
      return;
    }
    case "movement":
      return checkMovement(n, ins, s, si, mixes, sources);
    case "composite":
      return checkComposite(n, ins, si, mixes, causal);
    default:
      throw where(n, "is not known to keep positions apart");
  }
}

function attrAt(n: Node, path: string): number {
  let x: unknown = n.attrs;
  for (const k of path.split(".")) x = (x as Record<string, unknown>)[k];
  return x as number;
}

function checkMovement(n: Node, ins: readonly Node[], s: SeqAxis | undefined, si: readonly (SeqAxis | undefined)[], mixes: (why?: string) => never, sources: Set<number>): void {
  const x = ins[0];
  const sx = si[0];
  switch (n.op) {
    case "permute":
    case "broadcast":
      return;
    case "reshape": {
      // Row-major order must keep whole rows together: equal elements after S on both sides.
      if (!s || !sx || s.off !== sx.off || prod(x.shape.slice(sx.axis + 1)) !== prod(n.shape.slice(s.axis + 1))) mixes(" (the reshape interleaves positions with other elements)");
      return;
    }
    case "slice": {
      const a = (s ?? sx)!.axis;
      const step = n.attrs.steps?.[a] ?? 1;
      if (!sx) {
        // A free table sliced to the sequence's length: row j is table[start + j] (learned positions).
        if (step !== 1 || s!.k !== 1) mixes(" (a strided or folded slice along the sequence)");
        sources.add(n.id);
        return;
      }
      // A row value: only a prefix may go (start fixed), the end must stay the newest position.
      if (!s || s.axis !== sx.axis || step !== 1 || n.attrs.ends![a] !== x.shape[a] || s.k !== 1) mixes(" (the slice picks or drops positions)");
      return;
    }
    case "pad":
      if (sx && n.attrs.hi![sx.axis] !== 0) mixes(" (it pads after the newest position)");
      return;
    case "concat": {
      const axis = normAxis(n.attrs.axis ?? 0, n.shape.length);
      if (!s || axis !== s.axis) return;
      // Along S: free prefixes (a start token) then one sequence value, last.
      const last = si.length - 1;
      if (!si[last] || si.slice(0, last).some((v) => v !== undefined) || s.k !== 1) mixes(" (it joins sequences along the sequence axis)");
      return;
    }
    default:
      mixes();
  }
}

function checkComposite(n: Node, ins: readonly Node[], si: readonly (SeqAxis | undefined)[], mixes: (why?: string) => never, causal: number[]): void {
  const last = n.shape.length - 1;
  switch (n.op) {
    case "softmax":
    case "log_softmax":
      if (si[0]?.axis === normAxis(n.attrs.axis ?? 0, n.shape.length)) mixes(" (it normalises over the sequence)");
      return;
    case "layer_norm":
      if (si[0]?.axis === last) mixes(" (it normalises over the sequence)");
      return;
    case "attention": {
      const [q, k, v, len] = si;
      const r = ins[0].shape.length;
      const mask = n.attrs.mask?.kind ?? "none";
      if (len) mixes(" (its lengths depend on the sequence)");
      if (!k && !v) {
        // Cross-attention to a free memory: each query row reads the same keys.
        if (q?.axis === r - 1 || mask === "causal" || mask === "block_causal") mixes(` (mask ${mask} against a memory)`);
        return;
      }
      if (mask !== "causal" || !q || !k || !v || q.axis !== r - 2 || k.axis !== r - 2 || v.axis !== r - 2 || q.k !== 1 || k.k !== 1 || v.k !== 1 || q.off !== k.off || k.off !== v.off) {
        mixes(` (attention with mask ${mask} over the sequence; only causal self-attention can be cached)`);
      }
      causal.push(n.id);
      return;
    }
    default:
      mixes();
  }
}
