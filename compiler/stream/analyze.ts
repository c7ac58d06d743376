// analyze.ts: which values of a model's forward graph are per-chunk values of a clip cut into C chunks.
// The model is elaborated at C = 2, 3, 4 (its chunk-count config); nodes correspond across the three in
// order, except the steps of a `scan` over the chunks (unrolled C times, compiler/lower/eval.ts records
// where), which correspond step by step. A dimension that changes with C is the value's chunk axis, of
// size g·C·r: g groups of C chunks of r rows each ([B, C·F, …] has g = 1, r = F; [B·C, F, …] has g = B,
// r = 1). Each value in the cone of the targets (the values the text decoder keeps, decode/analyze.ts's
// memo) is tagged
//   chunk      — depends on the clip: its chunk c depends on chunks ≤ c only
//   positional — has the chunk axis but not the clip: a function of the chunk index (table[:C], iota)
//   uniform    — has the chunk axis but is the same for every chunk (a broadcast weight)
//   free       — no chunk axis, no clip: weights, constants
//   step       — inside step 0 of a scan over the chunks: one chunk's data and the carried state
// and every op is checked to keep chunks apart. What may mix them: block-causal attention whose blocks
// are one chunk's rows (it becomes a K/V cache over earlier chunks) and a scan over the chunks (its
// carry becomes a state kept between chunks). Anything else — a mean or softmax over the chunks,
// non-causal attention, a slice picking chunks — is a StreamError naming the op and its source line.
// Each op's locality is a fact in compiler/locality/facts.ts; STREAM below judges what the facts leave
// to the per-chunk rewrite, and stream/scan.ts checks the scans.
import type { Elaborated } from "../lower.js";
import type { Graph, Node } from "../ir.js";
import { nodeById } from "../ir.js";
import { type Derivation, checkAttrs, checkOp, cone, varyingAxis } from "../locality/analyze.js";
import { normAxis, prod } from "../shape.js";
import { StreamError, type StreamLocated } from "./error.js";
import { CHUNK_COUNTS, type ChunkScan, checkStepRead, checkSteps, correspond } from "./scan.js";

export { CHUNK_COUNTS };

/** A value's chunk axis: along `axis`, g groups of C chunks of r rows (index (gi·C + c)·r + ri). */
export interface ChunkAxis {
  readonly axis: number;
  /** per chunk: the size along the axis is k·C; g and r are undefined for uniform values */
  readonly k: number;
  readonly g?: number;
  readonly r?: number;
}

export type ChunkRole = "chunk" | "positional" | "uniform" | "free" | "step";

export interface StreamAnalysis {
  /** the forward graph at C = 2 (the rewrite reads its nodes) and the corresponding nodes at C = 3 */
  readonly g2: Graph;
  readonly byId: ReadonlyMap<number, Node>;
  /** node at C = 2 → the same node at C = 3 (non-scan nodes) */
  readonly at3: ReadonlyMap<number, Node>;
  readonly axes: ReadonlyMap<number, ChunkAxis>;
  readonly role: ReadonlyMap<number, ChunkRole>;
  /** the values computed chunk by chunk (their rows are the stream's output), in order */
  readonly targets: readonly number[];
  /** the inputs cut into chunks */
  readonly inputs: readonly Node[];
  /** block-causal attention over the chunks, in graph order: each gets a K and a V cache */
  readonly blockCausal: readonly number[];
  readonly scans: readonly ChunkScan[];
  /** positional sources: slices of free tables along the chunk axis and iotas along it */
  readonly sources: ReadonlySet<number>;
  /** the scan's concat → its step 0 yield */
  readonly scanOut: ReadonlyMap<number, number>;
}

/** Analyses the cone of `targets` (ids in e2's graph, with the corresponding ids in e3 and e4). */
export function analyzeChunks(
  es: readonly [Elaborated, Elaborated, Elaborated],
  targets: readonly (readonly number[])[],
  loc: StreamLocated,
): StreamAnalysis {
  const graphs = es.map((e) => e.graph);
  const by2 = nodeById(graphs[0]);
  const where = (n: Node, what: string): StreamError => loc.error(n, what);

  const { records: chunkScans, scans, at3, at4, stepOf, scanOut } = correspond(es, graphs);

  const live = cone(by2, targets[0]); // at C = 2

  const axes = new Map<number, ChunkAxis>();
  const role = new Map<number, ChunkRole>();
  const dep = new Set<number>(); // depends on the clip
  const blockCausal: number[] = [];
  const sources = new Set<number>();
  const inputs: Node[] = [];
  const pdep = new Set<number>(); // depends on the chunk index

  const liveScan = (sc: ChunkScan): boolean => sc.body.some((id) => live.has(id));
  for (const sc of scans.filter(liveScan))
    for (const c of sc.carries)
      if (by2.get(c.init)?.op !== "full")
        throw where(
          by2.get(sc.body[0])!,
          "starts a scan over the chunks from a carry that is not a constant (zeros, ones)",
        );

  for (const n of graphs[0].nodes) {
    if (!live.has(n.id)) continue;
    const ins = n.inputs.map((i) => by2.get(i)!);
    if (ins.some((i) => dep.has(i.id))) dep.add(n.id);
    if (ins.some((i) => pdep.has(i.id))) pdep.add(n.id);
    const st = stepOf.get(n.id);
    if (st) {
      if (st.step === 0) checkStepRead(n, ins, scans[st.scan], stepOf, axes, dep, where);
      role.set(n.id, "step");
      continue;
    }
    for (const i of ins) {
      const si = stepOf.get(i.id);
      if (si && !(scanOut.has(n.id) && i.id === chunkScans[0][si.scan].steps[si.step].yield))
        throw where(n, "reads a value inside a scan over the chunks other than what it yields");
    }
    const n3 = at3.get(n.id)!;
    const n4 = at4.get(n.id)!;
    if (n3.op !== n.op || n4.op !== n.op || n3.shape.length !== n.shape.length || n4.shape.length !== n.shape.length)
      throw where(n, "changes with the chunk count, so one per-chunk program cannot stand for it");
    const a = chunkAxisOf(n, n3, n4, where);
    if (n.op === "input") {
      if (!a)
        throw new StreamError(
          `input '${n.attrs.name}' reaches the memory but has no chunk axis: ` +
            "the stream has nothing to feed it per chunk",
        );
      dep.add(n.id);
      inputs.push(n);
      axes.set(n.id, { ...a, g: 1, r: a.k });
      role.set(n.id, "chunk");
      continue;
    }
    const ax = a ? layout(n, ins, a, axes, scanOut, where) : undefined;
    if (ax) axes.set(n.id, ax);
    const ai = ins.map((i) => axes.get(i.id));
    const fail = (what: string): StreamError => where(n, what);
    checkAttrs(STREAM, [n, n3, n4], ax, ai[0], fail);
    // A scan's concat along the chunks stands for the scan: its steps are checked below.
    const found = (ax || ai.some((x) => x)) && !scanOut.has(n.id) ? checkOp(STREAM, n, ins, ax, ai, fail) : undefined;
    if (found === "source") sources.add(n.id);
    if (found === "cache") blockCausal.push(n.id);
    if (sources.has(n.id)) {
      axes.set(n.id, { ...ax!, g: 1, r: ax!.k });
      pdep.add(n.id);
    }
    if (!ax && (dep.has(n.id) || pdep.has(n.id))) throw where(n, "mixes chunks");
    role.set(n.id, !ax ? "free" : dep.has(n.id) ? "chunk" : pdep.has(n.id) ? "positional" : "uniform");
  }

  for (const [s, sc] of scans.entries())
    if (liveScan(sc))
      checkSteps(
        graphs,
        chunkScans.map((c) => c[s]),
        axes,
        at3,
        where,
      );

  for (const id of targets[0]) {
    const n = by2.get(id)!;
    const a = axes.get(id);
    if (!a || role.get(id) !== "chunk")
      throw where(n, "is read by the text decoder but has no chunk axis: it mixes chunks");
    if (a.g !== 1)
      throw where(
        n,
        "is read by the text decoder with the chunks folded into another axis (its rows per chunk are not contiguous)",
      );
  }
  return {
    g2: graphs[0],
    byId: by2,
    at3,
    axes,
    role,
    targets: targets[0],
    inputs,
    blockCausal,
    scans,
    sources,
    scanOut,
  };
}

/** The axis whose size changes with C, as k·C; none for a value without one. */
function chunkAxisOf(
  n2: Node,
  n3: Node,
  n4: Node,
  where: (n: Node, what: string) => StreamError,
): { axis: number; k: number } | undefined {
  const v = varyingAxis(n2, n3, n4, "chunks", (what) => where(n2, what));
  if (!v) return undefined;
  const [s2, s3, s4] = v.sizes;
  const k = s3 - s2;
  if (k <= 0 || s4 - s3 !== k || s2 !== 2 * k) {
    throw where(
      n2,
      "has a size along the chunks that is not a multiple of the chunk count " +
        `(${s2}, ${s3}, ${s4} at 2, 3, 4 chunks): it drops or adds chunks`,
    );
  }
  return { axis: v.axis, k };
}

/** The chunk axis's layout (g, r): a reshape keeps the flat order [G, C, R]; other ops keep the axis's
 *  own layout from an input axis of the same size (uniform values have none). */
function layout(
  n: Node,
  ins: readonly Node[],
  a: { axis: number; k: number },
  axes: ReadonlyMap<number, ChunkAxis>,
  scanOut: ReadonlyMap<number, number>,
  where: (n: Node, what: string) => StreamError,
): ChunkAxis {
  if (scanOut.has(n.id)) return { ...a, g: 1, r: a.k };
  const placed = ins.map((i) => axes.get(i.id)).filter((x): x is ChunkAxis => x !== undefined && x.g !== undefined);
  if (n.op === "reshape" && placed.length) {
    const x = ins[0];
    const xa = axes.get(x.id)!;
    const G = prod(x.shape.slice(0, xa.axis)) * xa.g!;
    const R = xa.r! * prod(x.shape.slice(xa.axis + 1));
    const before = prod(n.shape.slice(0, a.axis));
    const after = prod(n.shape.slice(a.axis + 1));
    const g = G / before;
    const r = R / after;
    if (!Number.isInteger(g) || !Number.isInteger(r) || g * r !== a.k)
      throw where(n, "mixes chunks (the reshape interleaves chunks with other elements)");
    return { ...a, g, r };
  }
  if (!placed.length) return a;
  const first = placed[0];
  if (placed.some((p) => p.g !== first.g || p.r !== first.r))
    throw where(n, "mixes chunks (its inputs lay out chunks differently)");
  if (first.g! * first.r! !== a.k) throw where(n, "mixes chunks (its chunk axis does not keep its inputs' chunks)");
  return { ...a, g: first.g, r: first.r };
}

/** The stream's judgement of the ops whose locality depends on its rewrite (compiler/locality/). */
const STREAM: Derivation<ChunkAxis> = {
  items: "chunks",
  along: "the chunks",
  length: "the chunk count",
  program: "a per-chunk program",
  random: "draws different values for each chunk count",
  padBounds: false,
  coordinate: () => "source",
  reshapes: () => undefined, // layout() follows the chunks through a reshape
  slices: (n, [x], a, [ax], mixes) => {
    if (!ax) {
      // A free table sliced to the chunk count: chunk c reads rows start + c·k … (learned positions).
      if ((n.attrs.steps?.[a!.axis] ?? 1) !== 1) mixes(" (a strided slice along the chunks)");
      return "source";
    }
    const i = ax.axis;
    const whole =
      (n.attrs.steps?.[i] ?? 1) === 1 && (n.attrs.starts?.[i] ?? 0) === 0 && n.attrs.ends![i] === x.shape[i];
    if (!a || a.axis !== i || !whole) mixes(" (the slice picks or drops chunks)");
  },
  pads: (n, _ins, _a, [ax], mixes) => {
    if (ax && (n.attrs.lo![ax.axis] !== 0 || n.attrs.hi![ax.axis] !== 0)) mixes(" (it pads along the chunks)");
  },
  joins: (n, _ins, a, _ai, mixes) => {
    if (a && normAxis(n.attrs.axis ?? 0, n.shape.length) === a.axis) mixes(" (it joins values along the chunks)");
  },
  attends: (n, ins, _a, [q, k, v, len], mixes) => {
    const r = ins[0].shape.length;
    const mask = n.attrs.mask as { kind?: string; block?: number } | undefined;
    const kind = mask?.kind ?? "none";
    if (len) mixes(" (its lengths depend on the chunks)");
    // chunks in a batch axis: attention within a chunk (a uniform input, such as learned queries
    // broadcast to every chunk, takes the others' layout)
    const placed = [q, k, v].filter((x): x is ChunkAxis => x?.g !== undefined);
    if (
      q &&
      k &&
      v &&
      q.axis === k.axis &&
      k.axis === v.axis &&
      q.axis < r - 2 &&
      placed.every((x) => same(x, placed[0]))
    ) {
      return undefined;
    }
    const rows = [q, k, v].every((x) => x && x.axis === r - 2 && x.g === 1 && x.r === q!.r);
    if (rows && kind === "block_causal" && mask!.block === q!.r) return "cache";
    mixes(
      ` (attention with mask ${kind} over the chunks; ` +
        "only block-causal attention with one chunk per block can be cached)",
    );
  },
};

const same = (x: ChunkAxis, y: ChunkAxis): boolean => x.g === y.g && x.r === y.r;
