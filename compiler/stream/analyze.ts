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
import type { Elaborated, ScanRecord } from "../lower.js";
import type { Graph, Node } from "../ir.js";
import { nodeById } from "../ir.js";
import { opSpec } from "../ops/index.js";
import { normAxis, prod } from "../shape.js";
import { changingAttrs, checkLinearAttrs, mixesAlong } from "../decode/analyze.js";
import { StreamError, type StreamLocated } from "./error.js";

/** A value's chunk axis: along `axis`, g groups of C chunks of r rows (index (gi·C + c)·r + ri). */
export interface ChunkAxis {
  readonly axis: number;
  /** per chunk: the size along the axis is k·C; g and r are undefined for uniform values */
  readonly k: number;
  readonly g?: number;
  readonly r?: number;
}

export type ChunkRole = "chunk" | "positional" | "uniform" | "free" | "step";

/** A scan over the chunks, as step 0 of the graph at C = 2 reads it. */
export interface ChunkScan {
  readonly record: ScanRecord;
  /** step 0's nodes (params excluded), in order */
  readonly body: readonly number[];
  /** carry j: its initial value (a `full`) and its value after step 0 */
  readonly carries: readonly { readonly init: number; readonly next: number }[];
}

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

/** The chunk counts the model is elaborated at for the analysis. */
export const CHUNK_COUNTS = [2, 3, 4] as const;

/** Analyses the cone of `targets` (ids in e2's graph, with the corresponding ids in e3 and e4). */
export function analyzeChunks(es: readonly [Elaborated, Elaborated, Elaborated], targets: readonly (readonly number[])[], loc: StreamLocated): StreamAnalysis {
  const graphs = es.map((e) => e.graph);
  const by2 = nodeById(graphs[0]);
  const where = (n: Node, what: string): StreamError => loc.error(n, what);

  // Chunk scans: scans unrolled C times. Their steps' nodes (params aside) correspond step by step;
  // every other node corresponds by its place in the remaining sequence.
  const chunkScans = es.map((e, i) => e.scans.filter((s) => s.steps.length === CHUNK_COUNTS[i]));
  if (chunkScans[0].length !== chunkScans[1].length || chunkScans[1].length !== chunkScans[2].length) throw new StreamError("the model's scans change with the chunk count in a way that is not one step per chunk");
  const inStep = graphs.map((g, i) => {
    const s = new Set<number>();
    for (const sc of chunkScans[i]) for (const st of sc.steps) for (let id = st.start; id < st.end; id++) if (g.nodes[id].op !== "param") s.add(id);
    return s;
  });
  const rest = graphs.map((g, i) => g.nodes.filter((n) => !inStep[i].has(n.id)));
  if (rest[0].length !== rest[1].length || rest[1].length !== rest[2].length) throw new StreamError("the graph's structure changes with the chunk count, so one per-chunk program cannot stand for it");
  const at3 = new Map<number, Node>();
  const at4 = new Map<number, Node>();
  rest[0].forEach((n, j) => {
    at3.set(n.id, rest[1][j]);
    at4.set(n.id, rest[2][j]);
  });
  const stepNodes = (g: Graph, sc: ScanRecord, i: number): Node[] => g.nodes.slice(sc.steps[i].start, sc.steps[i].end).filter((n) => n.op !== "param");
  const scans: ChunkScan[] = chunkScans[0].map((sc) => ({
    record: sc,
    body: stepNodes(graphs[0], sc, 0).map((n) => n.id),
    carries: sc.inits.map((init, j) => ({ init, next: sc.steps[0].carries[j] })),
  }));
  const stepOf = new Map<number, { scan: number; step: number }>();
  chunkScans[0].forEach((sc, s) => sc.steps.forEach((st, i) => stepNodes(graphs[0], sc, i).forEach((n) => stepOf.set(n.id, { scan: s, step: i }))));
  const scanOut = new Map(chunkScans[0].map((sc) => [sc.out, sc.steps[0].yield]));

  // The cone of the targets at C = 2.
  const live = new Set<number>();
  const stack = [...targets[0]];
  while (stack.length) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    live.add(id);
    stack.push(...by2.get(id)!.inputs);
  }

  const axes = new Map<number, ChunkAxis>();
  const role = new Map<number, ChunkRole>();
  const dep = new Set<number>(); // depends on the clip
  const blockCausal: number[] = [];
  const sources = new Set<number>();
  const inputs: Node[] = [];
  const pdep = new Set<number>(); // depends on the chunk index

  const liveScan = (sc: ChunkScan): boolean => sc.body.some((id) => live.has(id));
  for (const sc of scans.filter(liveScan)) for (const c of sc.carries) if (by2.get(c.init)?.op !== "full") throw where(by2.get(sc.body[0])!, "starts a scan over the chunks from a carry that is not a constant (zeros, ones)");

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
      if (si && !(scanOut.has(n.id) && i.id === chunkScans[0][si.scan].steps[si.step].yield)) throw where(n, "reads a value inside a scan over the chunks other than what it yields");
    }
    const n3 = at3.get(n.id)!;
    const n4 = at4.get(n.id)!;
    if (n3.op !== n.op || n4.op !== n.op || n3.shape.length !== n.shape.length || n4.shape.length !== n.shape.length) throw where(n, "changes with the chunk count, so one per-chunk program cannot stand for it");
    const a = chunkAxisOf(n, n3, n4, where);
    if (n.op === "input") {
      if (!a) throw new StreamError(`input '${n.attrs.name}' reaches the memory but has no chunk axis: the stream has nothing to feed it per chunk`);
      dep.add(n.id);
      inputs.push(n);
      axes.set(n.id, { ...a, g: 1, r: a.k });
      role.set(n.id, "chunk");
      continue;
    }
    const ax = a ? layout(n, ins, a, axes, scanOut, where) : undefined;
    if (ax) axes.set(n.id, ax);
    checkAttrs(n, n3, n4, ax, ins.map((i) => axes.get(i.id)), where);
    if (ax || ins.some((i) => axes.has(i.id))) checkOp(n, ins, axes, where, blockCausal, sources, scanOut);
    if (sources.has(n.id)) {
      axes.set(n.id, { ...ax!, g: 1, r: ax!.k });
      pdep.add(n.id);
    }
    if (!ax && (dep.has(n.id) || pdep.has(n.id))) throw where(n, "mixes chunks");
    role.set(n.id, !ax ? "free" : dep.has(n.id) ? "chunk" : pdep.has(n.id) ? "positional" : "uniform");
  }

  for (const [s, sc] of scans.entries()) if (liveScan(sc)) checkSteps(graphs, chunkScans.map((c) => c[s]), axes, at3, where);

  for (const id of targets[0]) {
    const n = by2.get(id)!;
    const a = axes.get(id);
    if (!a || role.get(id) !== "chunk") throw where(n, "is read by the text decoder but has no chunk axis: it mixes chunks");
    if (a.g !== 1) throw where(n, "is read by the text decoder with the chunks folded into another axis (its rows per chunk are not contiguous)");
  }
  return { g2: graphs[0], byId: by2, at3, axes, role, targets: targets[0], inputs, blockCausal, scans, sources, scanOut };
}

/** The axis whose size changes with C, as k·C; none for a value without one. */
function chunkAxisOf(n2: Node, n3: Node, n4: Node, where: (n: Node, what: string) => StreamError): { axis: number; k: number } | undefined {
  const axes = n2.shape.map((_, a) => a).filter((a) => n2.shape[a] !== n3.shape[a] || n3.shape[a] !== n4.shape[a]);
  if (axes.length === 0) return undefined;
  if (axes.length > 1) throw where(n2, "mixes chunks (its result pairs chunks with chunks)");
  const a = axes[0];
  const [s2, s3, s4] = [n2.shape[a], n3.shape[a], n4.shape[a]];
  const k = s3 - s2;
  if (k <= 0 || s4 - s3 !== k || s2 !== 2 * k) throw where(n2, `has a size along the chunks that is not a multiple of the chunk count (${s2}, ${s3}, ${s4} at 2, 3, 4 chunks): it drops or adds chunks`);
  return { axis: a, k };
}

/** The chunk axis's layout (g, r): a reshape keeps the flat order [G, C, R]; other ops keep the axis's
 *  own layout from an input axis of the same size (uniform values have none). */
function layout(n: Node, ins: readonly Node[], a: { axis: number; k: number }, axes: ReadonlyMap<number, ChunkAxis>, scanOut: ReadonlyMap<number, number>, where: (n: Node, what: string) => StreamError): ChunkAxis {
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
    if (!Number.isInteger(g) || !Number.isInteger(r) || g * r !== a.k) throw where(n, "mixes chunks (the reshape interleaves chunks with other elements)");
    return { ...a, g, r };
  }
  if (!placed.length) return a;
  const first = placed[0];
  if (placed.some((p) => p.g !== first.g || p.r !== first.r)) throw where(n, "mixes chunks (its inputs lay out chunks differently)");
  if (first.g! * first.r! !== a.k) throw where(n, "mixes chunks (its chunk axis does not keep its inputs' chunks)");
  return { ...a, g: first.g, r: first.r };
}

/** Attribute entries that change with C must be sizes or bounds of the chunk axis, growing linearly. */
function checkAttrs(n: Node, n3: Node, n4: Node, a: ChunkAxis | undefined, ai: readonly (ChunkAxis | undefined)[], where: (n: Node, what: string) => StreamError): void {
  const allowed = new Set<string>();
  if (a && n.attrs.shape) allowed.add(`shape.${a.axis}`);
  const sliced = a ?? ai[0];
  if (n.op === "slice" && sliced) ["starts", "ends"].forEach((k) => allowed.add(`${k}.${sliced.axis}`));
  checkLinearAttrs(n, n3, n4, allowed, (what) => where(n, what), { length: "the chunk count", program: "a per-chunk program" });
}

/** Checks that op `n` keeps chunks apart; records block-causal attention and positional sources. */
function checkOp(n: Node, ins: readonly Node[], axes: ReadonlyMap<number, ChunkAxis>, where: (n: Node, what: string) => StreamError, blockCausal: number[], sources: Set<number>, scanOut: ReadonlyMap<number, number>): void {
  const a = axes.get(n.id);
  const ai = ins.map((i) => axes.get(i.id));
  const mixes = (why = ""): never => {
    throw where(n, `mixes chunks${why}`);
  };
  if (scanOut.has(n.id)) return;
  switch (opSpec(n.op).kind) {
    case "source":
      return;
    case "elementwise":
      if (n.inputs.length === 0 && a) {
        if (n.op.startsWith("random_")) throw where(n, "draws different values for each chunk count");
        if (n.op === "iota" && normAxis(n.attrs.axis ?? 0, n.shape.length) === a.axis) sources.add(n.id);
      }
      return;
    case "reduce":
    case "matmul":
    case "gather": {
      const why = mixesAlong(n, ins, ai, { along: "the chunks", items: "chunks" });
      if (why) mixes(why);
      return;
    }
    case "movement":
      return checkMovement(n, ins, a, ai, mixes, sources);
    case "composite":
      return checkComposite(n, ins, ai, mixes, blockCausal);
    default:
      throw where(n, "is not known to keep chunks apart");
  }
}

function checkMovement(n: Node, ins: readonly Node[], a: ChunkAxis | undefined, ai: readonly (ChunkAxis | undefined)[], mixes: (why?: string) => never, sources: Set<number>): void {
  const x = ins[0];
  const ax = ai[0];
  switch (n.op) {
    case "permute":
    case "broadcast":
    case "reshape":
      return;
    case "slice": {
      if (!ax) {
        // A free table sliced to the chunk count: chunk c reads rows start + c·k … (learned positions).
        const axis = a!.axis;
        if ((n.attrs.steps?.[axis] ?? 1) !== 1) mixes(" (a strided slice along the chunks)");
        sources.add(n.id);
        return;
      }
      if (!a || a.axis !== ax.axis || (n.attrs.steps?.[ax.axis] ?? 1) !== 1 || (n.attrs.starts?.[ax.axis] ?? 0) !== 0 || n.attrs.ends![ax.axis] !== x.shape[ax.axis]) mixes(" (the slice picks or drops chunks)");
      return;
    }
    case "pad":
      if (ax && (n.attrs.lo![ax.axis] !== 0 || n.attrs.hi![ax.axis] !== 0)) mixes(" (it pads along the chunks)");
      return;
    case "concat":
      if (a && normAxis(n.attrs.axis ?? 0, n.shape.length) === a.axis) mixes(" (it joins values along the chunks)");
      return;
    default:
      mixes();
  }
}

function checkComposite(n: Node, ins: readonly Node[], ai: readonly (ChunkAxis | undefined)[], mixes: (why?: string) => never, blockCausal: number[]): void {
  const last = n.shape.length - 1;
  switch (n.op) {
    case "softmax":
    case "log_softmax":
      if (ai[0]?.axis === normAxis(n.attrs.axis ?? 0, n.shape.length)) mixes(" (it normalises over the chunks)");
      return;
    case "layer_norm":
      if (ai[0]?.axis === last) mixes(" (it normalises over the chunks)");
      return;
    case "attention": {
      const [q, k, v, len] = ai;
      const r = ins[0].shape.length;
      const mask = n.attrs.mask as { kind?: string; block?: number } | undefined;
      const kind = mask?.kind ?? "none";
      if (len) mixes(" (its lengths depend on the chunks)");
      // chunks in a batch axis: attention within a chunk (a uniform input, such as learned queries
      // broadcast to every chunk, takes the others' layout)
      const placed = [q, k, v].filter((x): x is ChunkAxis => x?.g !== undefined);
      if (q && k && v && q.axis === k.axis && k.axis === v.axis && q.axis < r - 2 && placed.every((x) => same(x, placed[0]))) return;
      if (q && k && v && q.axis === r - 2 && k.axis === r - 2 && v.axis === r - 2 && q.g === 1 && k.g === 1 && v.g === 1 && q.r === k.r && k.r === v.r && kind === "block_causal" && mask!.block === q.r) {
        blockCausal.push(n.id);
        return;
      }
      mixes(` (attention with mask ${kind} over the chunks; only block-causal attention with one chunk per block can be cached)`);
      return;
    }
    default:
      mixes();
  }
}

const same = (x: ChunkAxis, y: ChunkAxis): boolean => x.g === y.g && x.r === y.r;

/** A node of step 0 of a chunk scan: what it reads from outside the step must be free, a carry's
 *  initial value, or chunk 0 of a chunked value (a slice along its chunk axis: `v[:, t]`). */
function checkStepRead(n: Node, ins: readonly Node[], sc: ChunkScan, stepOf: ReadonlyMap<number, { scan: number; step: number }>, axes: ReadonlyMap<number, ChunkAxis>, dep: ReadonlySet<number>, where: (n: Node, what: string) => StreamError): void {
  for (const i of ins) {
    if (stepOf.has(i.id) || i.op === "param" || sc.carries.some((c) => c.init === i.id)) continue;
    const a = axes.get(i.id);
    if (a) {
      if (n.op !== "slice" || a.g !== 1 || (n.attrs.steps?.[a.axis] ?? 1) !== 1 || (n.attrs.starts![a.axis] ?? 0) !== 0 || n.attrs.ends![a.axis] !== a.r) throw where(n, "reads chunks other than the scan's own inside a scan over the chunks");
      continue;
    }
    if (dep.has(i.id)) throw where(n, "reads a value of every chunk inside a scan over the chunks");
  }
}

/** Every step of a chunk scan must be step 0 again, reading the previous step's carries and its own
 *  chunk: checked at C = 3 (and step 0's nodes against C = 2's). */
function checkSteps(graphs: readonly Graph[], scs: readonly ScanRecord[], axes: ReadonlyMap<number, ChunkAxis>, at3: ReadonlyMap<number, Node>, where: (n: Node, what: string) => StreamError): void {
  const g = graphs[1];
  const body = (graph: Graph, sc: ScanRecord, i: number): Node[] => graph.nodes.slice(sc.steps[i].start, sc.steps[i].end).filter((n) => n.op !== "param");
  const ref2 = body(graphs[0], scs[0], 0);
  const ref = body(g, scs[1], 0);
  const rel = (graph: Graph, sc: ScanRecord, i: number): Map<number, number> => new Map(body(graph, sc, i).map((n, j) => [n.id, j]));
  const rel0 = rel(g, scs[1], 0);
  const back3 = new Map([...at3].map(([id2, n3]) => [n3.id, id2]));
  if (ref2.length !== ref.length || ref2.some((n, j) => n.op !== ref[j].op || n.shape.join() !== ref[j].shape.join() || changingAttrs(n, ref[j]).length)) throw where(ref2[0], "changes with the chunk count inside a scan over the chunks");
  for (let i = 1; i < scs[1].steps.length; i++) {
    const cur = body(g, scs[1], i);
    const reli = rel(g, scs[1], i);
    if (cur.length !== ref.length) throw where(ref2[0], "differs from step to step of a scan over the chunks");
    cur.forEach((n, j) => {
      const n0 = ref[j];
      const odd = (): never => {
        throw where(ref2[j], "differs from step to step of a scan over the chunks (it depends on the scan index other than by picking the step's chunk)");
      };
      if (n.op !== n0.op || n.shape.join() !== n0.shape.join() || n.inputs.length !== n0.inputs.length) odd();
      let pick: number | undefined;
      n.inputs.forEach((x, k) => {
        const x0 = n0.inputs[k];
        if (reli.has(x) && rel0.has(x0)) return reli.get(x) === rel0.get(x0) ? undefined : odd();
        const c = scs[1].inits.indexOf(x0);
        if (c >= 0) return x === scs[1].steps[i - 1].carries[c] ? undefined : odd();
        if (x !== x0) odd();
        const a = axes.get(back3.get(x) ?? -1);
        if (a && n.op === "slice") pick = a.axis;
      });
      const changed = changingAttrs(n0, n);
      if (pick === undefined) {
        if (changed.length) odd();
      } else {
        const r = n0.attrs.ends![pick] - n0.attrs.starts![pick];
        if (changed.some((p) => p !== `starts.${pick}` && p !== `ends.${pick}`) || n.attrs.starts![pick] !== i * r || n.attrs.ends![pick] !== (i + 1) * r) odd();
      }
    });
  }
}
