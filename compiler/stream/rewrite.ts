// rewrite.ts: the per-chunk program, rebuilt node by node from the analysed graph at C = 2 with every
// chunk axis cut to one chunk (attributes that grow with C evaluated at C = 1):
//   - the clip's inputs are one chunk's rows; the chunk index t is the input `stream.chunk`;
//   - positional sources read chunk t (a table's rows gathered at start + t·k, an iota plus t·k);
//   - each block-causal attention over the chunks writes the chunk's K, V rows into its cache at t·r
//     and attends over rows 0 … (t + 1)·r (a padding mask): the chunk sees itself and every earlier one;
//   - a scan over the chunks is its step 0: its carries read params `stream.state.j` and its new carries
//     are outputs copied into them after the run (Program updates);
//   - the values the text decoder keeps (the targets) are outputs `stream.rows.i`: chunk t's rows.
// Nothing else is carried from chunk to chunk, so the program is the same for every t.
import { GraphBuilder } from "../builder.js";
import type { Graph, Node } from "../ir.js";
import { binary, broadcastTo } from "../ops/helpers.js";
import { atLength } from "../decode/rewrite.js";
import type { StreamAnalysis } from "./analyze.js";

export const CHUNK = "stream.chunk";
export const rowsName = (i: number): string => `stream.rows.${i}`;
export const stateName = (j: number): string => `stream.state.${j}`;
const stateOut = (j: number): string => `${stateName(j)}.out`;
export const cacheWrite = (cache: string): string => `${cache}.write`;
const cacheName = (layer: number, kv: "k" | "v"): string => `stream.cache.${layer}.${kv}`;

export interface StreamBuffer {
  readonly name: string;
  readonly dtype: Node["dtype"];
  readonly shape: readonly number[];
  /** the value it holds before the first chunk */
  readonly init: number;
}

export interface StreamRows {
  readonly name: string;
  /** one chunk's rows: shape, the chunk axis and its rows per chunk (r) */
  readonly shape: readonly number[];
  readonly axis: number;
  readonly rows: number;
}

export interface ChunkInput {
  readonly name: string;
  readonly dtype: Node["dtype"];
  /** one chunk: the chunk axis holds `rows` rows (of g·C·rows at C chunks, g = 1) */
  readonly shape: readonly number[];
  readonly axis: number;
  readonly rows: number;
}

export interface PerChunk {
  readonly graph: Graph;
  readonly updates: Record<string, string>;
  readonly inputs: readonly ChunkInput[];
  readonly rows: readonly StreamRows[];
  /** K/V caches and scan states: every buffer carried from chunk to chunk (a cache's new value is the
   *  output cacheWrite(name), written in place; a state's is copied by `updates`) */
  readonly carried: readonly StreamBuffer[];
}

export function perChunkGraph(an: StreamAnalysis, maxChunks: number): PerChunk {
  const b = new GraphBuilder();
  const map = new Map<number, Node>();
  const t = b.input(CHUNK, "i32", [1]);
  const i32 = (v: number): Node => b.add("full", [], { value: v, dtype: "i32", shape: [1] });
  const times = (k: number, plus = 0): Node => {
    const tk = k === 1 ? t : binary(b, "mul", t, i32(k));
    return plus === 0 ? tk : binary(b, "add", tk, i32(plus));
  };
  const initOf = new Map<number, { scan: number; carry: number }>();
  an.scans.forEach((sc, s) => sc.carries.forEach((c, j) => initOf.set(c.init, { scan: s, carry: j })));
  const needed = cone(an);
  const carried: StreamBuffer[] = [];
  const updates: Record<string, string> = {};
  const inputs: ChunkInput[] = [];
  const stateIndex = new Map<string, number>();
  let layer = 0;
  for (const n of an.g2.nodes) {
    if (!needed.has(n.id)) continue;
    const ins = n.inputs.map((i) => map.get(i)!);
    const a = an.axes.get(n.id);
    let node: Node;
    const init = initOf.get(n.id);
    if (n.op === "param") node = b.param(n.attrs.name!, n.dtype, n.shape);
    else if (n.op === "input") {
      const shape = n.shape.map((d, k) => (k === a!.axis ? a!.k : d));
      node = b.input(n.attrs.name!, n.dtype, shape);
      inputs.push({ name: n.attrs.name!, dtype: n.dtype, shape, axis: a!.axis, rows: a!.k });
    } else if (init) {
      const key = `${init.scan}.${init.carry}`;
      const j = stateIndex.get(key) ?? carried.filter((c) => c.name.startsWith("stream.state.")).length;
      stateIndex.set(key, j);
      carried.push({ name: stateName(j), dtype: n.dtype, shape: n.shape, init: n.attrs.value ?? 0 });
      node = b.param(stateName(j), n.dtype, n.shape);
    } else if (an.scanOut.has(n.id)) node = map.get(an.scanOut.get(n.id)!)!;
    else if (an.role.get(n.id) === "step" || an.role.get(n.id) === "free") node = b.add(n.op, ins, n.attrs);
    else if (an.blockCausal.includes(n.id)) {
      const [q, k, v] = ins;
      const axis = k.shape.length - 2;
      const r = an.axes.get(n.inputs[1])!.r!;
      const [kc, vc] = (["k", "v"] as const).map((kv, j) => {
        const x = ins[1 + j];
        const spec: StreamBuffer = {
          name: cacheName(layer, kv),
          dtype: x.dtype,
          shape: x.shape.map((d, m) => (m === axis ? maxChunks * r : d)),
          init: 0,
        };
        carried.push(spec);
        return spec;
      });
      layer++;
      const at = times(r);
      const keys = b.add("write_rows", [b.param(kc.name, kc.dtype, kc.shape), k, at], { axis });
      const values = b.add("write_rows", [b.param(vc.name, vc.dtype, vc.shape), v, at], { axis });
      // the caches after the write (in place on the device; outputs so the reference interpreter, which
      // keeps no buffers, can carry them too)
      b.output(cacheWrite(kc.name), keys);
      b.output(cacheWrite(vc.name), values);
      const lengths = broadcastTo(b, times(r, r), [q.shape[0]]);
      node = b.add("attention", [q, keys, values, lengths], { ...n.attrs, mask: { kind: "padding" } });
    } else if (an.sources.has(n.id)) node = positional(b, n, ins, a!.axis, a!.k, times);
    else node = b.add(n.op, ins, atLength(n, an.at3.get(n.id)!, 1));
    map.set(n.id, node);
  }
  const rows: StreamRows[] = an.targets.map((id, i) => {
    const v = map.get(id)!;
    const a = an.axes.get(id)!;
    b.output(rowsName(i), v);
    return { name: rowsName(i), shape: v.shape, axis: a.axis, rows: a.r! };
  });
  an.scans.forEach((sc, s) =>
    sc.carries.forEach((c, j) => {
      const k = stateIndex.get(`${s}.${j}`);
      if (k === undefined || c.next === c.init) return;
      b.output(stateOut(k), map.get(c.next)!);
      updates[stateOut(k)] = stateName(k);
    }),
  );
  return { graph: b.build(), updates, inputs, rows, carried };
}

/** A positional source for chunk t: rows start + t·k … + k of a table, or an iota along the chunk axis
 *  plus t·k. */
function positional(
  b: GraphBuilder,
  n: Node,
  ins: readonly Node[],
  axis: number,
  k: number,
  times: (k: number, plus?: number) => Node,
): Node {
  if (n.op === "iota") {
    const it = b.add("iota", [], { ...n.attrs, shape: n.shape.map((d, m) => (m === axis ? k : d)) });
    return binary(b, "add", it, b.add("cast", [times(k)], { dtype: n.dtype }));
  }
  const start = n.attrs.starts![axis];
  const idx = binary(
    b,
    "add",
    b.add("iota", [], { shape: [k], axis: 0, dtype: "i32" }),
    broadcastTo(b, times(k, start), [k]),
  );
  const rows = b.add("gather", [ins[0], idx], { axis });
  const starts = n.attrs.starts!.map((v, m) => (m === axis ? 0 : v));
  const ends = n.attrs.ends!.map((v, m) => (m === axis ? k : v));
  return b.add("slice", [rows], { ...n.attrs, starts, ends });
}

/** Nodes the per-chunk program computes: back from the targets, a scan's concat standing for its step
 *  0 yield, and the carries step 0 produces. */
function cone(an: StreamAnalysis): Set<number> {
  const needed = new Set<number>();
  const stack = [...an.targets];
  const visit = (): void => {
    while (stack.length) {
      const id = stack.pop()!;
      if (needed.has(id)) continue;
      needed.add(id);
      const y = an.scanOut.get(id);
      stack.push(...(y !== undefined ? [y] : an.byId.get(id)!.inputs));
    }
  };
  visit();
  for (const sc of an.scans) if (sc.body.some((id) => needed.has(id))) for (const c of sc.carries) stack.push(c.next);
  visit();
  return needed;
}
