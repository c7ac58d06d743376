// scan.ts: scans over a clip's chunks (a `scan` unrolled once per chunk; compiler/lower/eval.ts records
// where each step's nodes lie). stream/analyze.ts reads a chunk scan's step 0 as the per-chunk program;
// here the nodes of the graphs at C = 2, 3, 4 are put in correspondence around the scans' steps, and
// every step is checked to be step 0 again on its own chunk.
import type { Elaborated, ScanRecord } from "../lower.js";
import type { Graph, Node } from "../ir.js";
import { changingAttrs } from "../locality/analyze.js";
import type { ChunkAxis } from "./analyze.js";
import { StreamError } from "./error.js";

/** The chunk counts the model is elaborated at for the analysis. */
export const CHUNK_COUNTS = [2, 3, 4] as const;

/** A scan over the chunks, as step 0 of the graph at C = 2 reads it. */
export interface ChunkScan {
  readonly record: ScanRecord;
  /** step 0's nodes (params excluded), in order */
  readonly body: readonly number[];
  /** carry j: its initial value (a `full`) and its value after step 0 */
  readonly carries: readonly { readonly init: number; readonly next: number }[];
}

/** Where a node of a chunk scan's steps lies: which scan, which step. */
export type StepOf = ReadonlyMap<number, { readonly scan: number; readonly step: number }>;

/** The graphs at C = 2, 3, 4 in correspondence around their chunk scans. */
export interface Correspondence {
  /** each graph's chunk scans */
  readonly records: readonly (readonly ScanRecord[])[];
  readonly scans: readonly ChunkScan[];
  /** node at C = 2 → the same node at C = 3 and C = 4 (non-scan nodes) */
  readonly at3: ReadonlyMap<number, Node>;
  readonly at4: ReadonlyMap<number, Node>;
  readonly stepOf: StepOf;
  /** the scan's concat → its step 0 yield */
  readonly scanOut: ReadonlyMap<number, number>;
}

/** Chunk scans are the scans unrolled C times. Their steps' nodes (params aside) correspond step by
 *  step; every other node corresponds by its place in the remaining sequence. */
export function correspond(es: readonly Elaborated[], graphs: readonly Graph[]): Correspondence {
  const chunkScans = es.map((e, i) => e.scans.filter((s) => s.steps.length === CHUNK_COUNTS[i]));
  if (chunkScans[0].length !== chunkScans[1].length || chunkScans[1].length !== chunkScans[2].length) {
    throw new StreamError("the model's scans change with the chunk count in a way that is not one step per chunk");
  }
  const inStep = graphs.map((g, i) => {
    const s = new Set<number>();
    for (const sc of chunkScans[i]) sc.steps.forEach((_, j) => stepNodes(g, sc, j).forEach((n) => s.add(n.id)));
    return s;
  });
  const rest = graphs.map((g, i) => g.nodes.filter((n) => !inStep[i].has(n.id)));
  if (rest[0].length !== rest[1].length || rest[1].length !== rest[2].length) {
    const why = "so one per-chunk program cannot stand for it";
    throw new StreamError(`the graph's structure changes with the chunk count, ${why}`);
  }
  const at3 = new Map<number, Node>();
  const at4 = new Map<number, Node>();
  rest[0].forEach((n, j) => {
    at3.set(n.id, rest[1][j]);
    at4.set(n.id, rest[2][j]);
  });
  const scans: ChunkScan[] = chunkScans[0].map((sc) => ({
    record: sc,
    body: stepNodes(graphs[0], sc, 0).map((n) => n.id),
    carries: sc.inits.map((init, j) => ({ init, next: sc.steps[0].carries[j] })),
  }));
  const stepOf = new Map<number, { scan: number; step: number }>();
  chunkScans[0].forEach((sc, scan) => {
    sc.steps.forEach((_, step) => stepNodes(graphs[0], sc, step).forEach((n) => stepOf.set(n.id, { scan, step })));
  });
  const scanOut = new Map(chunkScans[0].map((sc) => [sc.out, sc.steps[0].yield]));
  return { records: chunkScans, scans, at3, at4, stepOf, scanOut };
}

/** Step i's nodes, params aside (a step's params are the model's, shared by every step). */
function stepNodes(g: Graph, sc: ScanRecord, i: number): Node[] {
  return g.nodes.slice(sc.steps[i].start, sc.steps[i].end).filter((n) => n.op !== "param");
}

/** A node of step 0 of a chunk scan: what it reads from outside the step must be free, a carry's
 *  initial value, or chunk 0 of a chunked value (a slice along its chunk axis: `v[:, t]`). */
export function checkStepRead(
  n: Node,
  ins: readonly Node[],
  sc: ChunkScan,
  stepOf: StepOf,
  axes: ReadonlyMap<number, ChunkAxis>,
  dep: ReadonlySet<number>,
  where: (n: Node, what: string) => StreamError,
): void {
  for (const i of ins) {
    if (stepOf.has(i.id) || i.op === "param" || sc.carries.some((c) => c.init === i.id)) continue;
    const a = axes.get(i.id);
    if (a) {
      const i = a.axis;
      const first = (): boolean =>
        (n.attrs.steps?.[i] ?? 1) === 1 && (n.attrs.starts![i] ?? 0) === 0 && n.attrs.ends![i] === a.r;
      if (n.op !== "slice" || a.g !== 1 || !first()) {
        throw where(n, "reads chunks other than the scan's own inside a scan over the chunks");
      }
      continue;
    }
    if (dep.has(i.id)) throw where(n, "reads a value of every chunk inside a scan over the chunks");
  }
}

/** Every step of a chunk scan must be step 0 again, reading the previous step's carries and its own
 *  chunk: checked at C = 3 (and step 0's nodes against C = 2's). */
export function checkSteps(
  graphs: readonly Graph[],
  scs: readonly ScanRecord[],
  axes: ReadonlyMap<number, ChunkAxis>,
  at3: ReadonlyMap<number, Node>,
  where: (n: Node, what: string) => StreamError,
): void {
  const g = graphs[1];
  const ref2 = stepNodes(graphs[0], scs[0], 0);
  const ref = stepNodes(g, scs[1], 0);
  const rel = (i: number): Map<number, number> => new Map(stepNodes(g, scs[1], i).map((n, j) => [n.id, j]));
  const rel0 = rel(0);
  const back3 = new Map([...at3].map(([id2, n3]) => [n3.id, id2]));
  const differs = (n: Node, j: number): boolean =>
    n.op !== ref[j].op || n.shape.join() !== ref[j].shape.join() || changingAttrs(n, ref[j]).length > 0;
  if (ref2.length !== ref.length || ref2.some(differs)) {
    throw where(ref2[0], "changes with the chunk count inside a scan over the chunks");
  }
  for (let i = 1; i < scs[1].steps.length; i++) {
    const cur = stepNodes(g, scs[1], i);
    const reli = rel(i);
    if (cur.length !== ref.length) throw where(ref2[0], "differs from step to step of a scan over the chunks");
    cur.forEach((n, j) => {
      const n0 = ref[j];
      const odd = (): never => {
        const why = "it depends on the scan index other than by picking the step's chunk";
        throw where(ref2[j], `differs from step to step of a scan over the chunks (${why})`);
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
        const other = changed.some((p) => p !== `starts.${pick}` && p !== `ends.${pick}`);
        if (other || n.attrs.starts![pick] !== i * r || n.attrs.ends![pick] !== (i + 1) * r) odd();
      }
    });
  }
}
