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
// a DecodeError naming the op and its source line. Each op's locality is a fact in compiler/locality/
// facts.ts; DECODE below judges what the facts leave to the decoder's rewrite.
import type { Elaborated } from "../lower.js";
import type { Graph, Node } from "../ir.js";
import { nodeById } from "../ir.js";
import { type Derivation, checkAttrs, checkOp, cone, varyingAxis } from "../locality/analyze.js";
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
  // The output's cone only (pruneGraph keeps every input and param; an input only a loss reads, such
  // as a loss mask over the sequence, is not the decoder's business).
  const prune = (e: Elaborated): Graph => {
    const live = cone(nodeById(e.graph), [out.id]);
    return { nodes: e.graph.nodes.filter((n) => live.has(n.id)), outputs: [{ name: gen.from, id: out.id }] };
  };
  const [g2, g3, g4] = [e2, e3, e4].map(prune);
  if (g2.nodes.length !== g3.nodes.length || g2.nodes.length !== g4.nodes.length)
    throw new DecodeError(
      "the graph's structure changes with the sequence length, so one step program cannot stand for it",
    );
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
    if (
      !n3 ||
      !n4 ||
      n3.op !== n.op ||
      n4.op !== n.op ||
      n3.shape.length !== n.shape.length ||
      n4.shape.length !== n.shape.length
    ) {
      throw where(n, "changes with the sequence length, so one step program cannot stand for it");
    }
    const s = seqAxisOf(n, n3, n4, where);
    if (s) seq.set(n.id, s);
    const ins = n.inputs.map((i) => by2.get(i)!);
    if (n.op === "input") {
      if (n.attrs.name === gen.input) {
        if (!s || s.axis !== 1 || s.k !== 1 || s.off !== 0 || n.shape.length !== 2)
          throw new DecodeError(
            `the generated input '${gen.input}' must be [batch, sequence], ` +
              `got ${n.dtype}[${n.shape.join(", ")}] at T = 2`,
          );
        dep.add(n.id);
        input = n;
      } else {
        if (s)
          throw new DecodeError(
            `input '${n.attrs.name}' has a sequence axis but is not the generated input '${gen.input}': ` +
              "a step would need its next row, which only the caller knows",
          );
        other.add(n.id);
      }
    }
    if (ins.some((i) => dep.has(i.id))) dep.add(n.id);
    if (ins.some((i) => other.has(i.id))) other.add(n.id);
    role.set(n.id, s ? (dep.has(n.id) ? "row" : "positional") : "free");
    const si = ins.map((i) => seq.get(i.id));
    const fail = (what: string): DecodeError => where(n, what);
    checkAttrs(DECODE, [n, n3, n4], s, si[0], fail);
    const found = s || si.some((x) => x) ? checkOp(DECODE, n, ins, s, si, fail) : undefined;
    if (found === "source") sources.add(n.id);
    if (found === "cache") causal.push(n.id);
    // What no rule above caught: a value of the generated input that lost the sequence axis.
    if (!s && dep.has(n.id)) throw where(n, "mixes positions");
    if (s && s.off < 0) throw where(n, "drops the first positions");
  }

  if (!input) throw new DecodeError(`the generated input '${gen.input}' does not reach '${gen.from}'`);
  const output = by2.get(out.id)!;
  const os = seq.get(output.id);
  if (!os || os.k !== 1 || role.get(output.id) !== "row")
    throw new DecodeError(`'${gen.from}' must have the sequence axis of '${gen.input}' (one row per position)`);

  // Free values read by row or positional ones, that another input feeds: the prefill keeps them.
  const memo = new Set<number>();
  for (const n of g2.nodes) {
    if (role.get(n.id) === "free") continue;
    for (const i of n.inputs) if (role.get(i) === "free" && other.has(i) && !isDroppedPrefix(n, i, seq)) memo.add(i);
  }
  return { g2, g3, g4, byId: by2, seq, role, input, output, causal, memo: [...memo].sort((a, b) => a - b), sources };
}

/** A free input of a concat along S is a prefix (a start token): steps never read it. */
function isDroppedPrefix(n: Node, input: number, seq: ReadonlyMap<number, SeqAxis>): boolean {
  const s = seq.get(n.id);
  return (
    n.op === "concat" && s !== undefined && normAxis(n.attrs.axis ?? 0, n.shape.length) === s.axis && !seq.has(input)
  );
}

/** The axis whose size changes with T, as k·(T + off); none for a value without one. */
function seqAxisOf(n2: Node, n3: Node, n4: Node, where: (n: Node, what: string) => DecodeError): SeqAxis | undefined {
  const v = varyingAxis(n2, n3, n4, "positions", (what) => where(n2, what));
  if (!v) return undefined;
  const [s2, s3, s4] = v.sizes;
  const k = s3 - s2;
  const off = s2 / k - 2;
  if (k <= 0 || s4 - s3 !== k || !Number.isInteger(off)) {
    throw where(n2, `has a size along the sequence that is not k·(T + c) (${s2}, ${s3}, ${s4} at T = 2, 3, 4)`);
  }
  return { axis: v.axis, k, off };
}

/** The decoder's judgement of the ops whose locality depends on its rewrite (compiler/locality/). */
const DECODE: Derivation<SeqAxis> = {
  items: "positions",
  along: "the sequence",
  length: "the sequence length",
  program: "a step",
  random: "draws different values for each position and sequence length",
  padBounds: true,
  coordinate: (_n, _ins, s, _si, mixes) => {
    if (s!.k !== 1) mixes(" (an iota along a folded sequence axis)");
    return "source";
  },
  reshapes: (n, [x], s, [sx], mixes) => {
    // Row-major order must keep whole rows together: equal elements after S on both sides.
    if (!s || !sx || s.off !== sx.off || prod(x.shape.slice(sx.axis + 1)) !== prod(n.shape.slice(s.axis + 1))) {
      mixes(" (the reshape interleaves positions with other elements)");
    }
  },
  slices: (n, [x], s, [sx], mixes) => {
    const a = (s ?? sx)!.axis;
    const step = n.attrs.steps?.[a] ?? 1;
    if (!sx) {
      // A free table sliced to the sequence's length: row j is table[start + j] (learned positions).
      if (step !== 1 || s!.k !== 1) mixes(" (a strided or folded slice along the sequence)");
      return "source";
    }
    // A row value: only a prefix may go (start fixed), the end must stay the newest position.
    if (!s || s.axis !== sx.axis || step !== 1 || n.attrs.ends![a] !== x.shape[a] || s.k !== 1) {
      mixes(" (the slice picks or drops positions)");
    }
  },
  pads: (n, _ins, _s, [sx], mixes) => {
    if (sx && n.attrs.hi![sx.axis] !== 0) mixes(" (it pads after the newest position)");
  },
  joins: (n, _ins, s, si, mixes) => {
    if (!s || normAxis(n.attrs.axis ?? 0, n.shape.length) !== s.axis) return;
    // Along S: free prefixes (a start token) then one sequence value, last.
    const last = si.length - 1;
    if (!si[last] || si.slice(0, last).some((v) => v !== undefined) || s.k !== 1) {
      mixes(" (it joins sequences along the sequence axis)");
    }
  },
  attends: (n, ins, _s, [q, k, v, len], mixes) => {
    const r = ins[0].shape.length;
    const mask = n.attrs.mask?.kind ?? "none";
    if (len) mixes(" (its lengths depend on the sequence)");
    if (!k && !v) {
      // Cross-attention to a free memory: each query row reads the same keys.
      if (q?.axis === r - 1 || mask === "causal" || mask === "block_causal") mixes(` (mask ${mask} against a memory)`);
      return;
    }
    const rows = [q, k, v].every((x) => x && x.axis === r - 2 && x.k === 1);
    if (mask !== "causal" || !rows || q!.off !== k!.off || k!.off !== v!.off) {
      mixes(` (attention with mask ${mask} over the sequence; only causal self-attention can be cached)`);
    }
    return "cache";
  },
};
