// report-dispatches.ts: a program's dispatches by what kind of kernel runs them, and by the step of an
// unrolled `scan` their work came from — two sections of `mira compile --emit report`. Both are read
// from what the Program and the elaborated model expose: the kernel families are not recorded on the
// dispatches, so a dispatch's kind is found from the ops its kernel computes; the passes do not keep
// a map back to the elaborated graph, so a compiled node is traced to the elaborated node it copies
// (the passes copy a kept node's attrs object, and elaboration gives every node its own).
import type { Graph, Node } from "./ir.js";
import type { ScanRecord } from "./lower.js";
import { opSpec } from "./ops/index.js";
import type { Program } from "./program.js";
import { type Sources, lineStarts, positionOf, shownFile } from "../dsl/diagnostics.js";

/** Dispatches of one kind of kernel, and how many distinct kernels ran them. */
export interface KindLine {
  readonly kind: string;
  readonly dispatches: number;
  readonly kernels: number;
}

const byIdOf = (g: Graph): Map<number, Node> => new Map(g.nodes.map((n) => [n.id, n]));

/** For each dispatch, the nodes its kernel computes: its own node and the values computed inside the
 *  kernel (fused, inlined, a row group's other stores), walked back from its node up to sources and
 *  nodes of other dispatches. Dispatches run in order, so a value a kernel computes is claimed by the
 *  first dispatch reaching it, and a later kernel reading it stops there. */
function computedBy(p: Program): Node[][] {
  const byId = byIdOf(p.graph);
  const dispatched = new Set(p.dispatches.map((d) => d.node));
  const claimed = new Set<number>();
  const byNode = new Map<number, Node[]>();
  return p.dispatches.map((d) => {
    const known = byNode.get(d.node);
    if (known) return known; // another dispatch of the same node (a split copy, a sum of squares part)
    const ops: Node[] = [];
    const stack = [d.node];
    while (stack.length) {
      const n = byId.get(stack.pop()!)!;
      if (claimed.has(n.id) || opSpec(n.op).kind === "source") continue;
      if (n.id !== d.node && dispatched.has(n.id)) continue;
      claimed.add(n.id);
      ops.push(n);
      stack.push(...n.inputs);
    }
    byNode.set(d.node, ops);
    return ops;
  });
}

const MOVEMENT_KINDS: Readonly<Record<string, string>> = {
  permute: "permute",
  transpose: "permute",
  slice: "slice",
  concat: "concat",
  pad: "pad",
};

/** A kernel's kind from the ops it computes (`root` is the dispatch's node), most specific first. */
export function kernelKind(root: Node, ops: readonly Node[]): string {
  const kinds = new Set(ops.map((n) => opSpec(n.op).kind));
  if (kinds.has("optimizer")) return "optimizer";
  if (kinds.has("attention")) return "attention";
  if (kinds.has("matmul")) return "matmul";
  if (kinds.has("gather") || kinds.has("scatter")) return "gather/scatter";
  const reductions = ops.filter((n) => opSpec(n.op).kind === "reduce").length;
  if (reductions > 0) {
    const rootReduces = opSpec(root.op).kind === "reduce";
    return reductions === 1 && rootReduces ? "reduce" : "row kernel";
  }
  if (opSpec(root.op).kind === "movement") return MOVEMENT_KINDS[root.op] ?? `movement (${root.op})`;
  return "elementwise";
}

const SEQUENCE_NAME = /^seq\d+_/;
const PARALLEL_NAME = /^par\d+_/;

/** Dispatches per kernel kind, most dispatches first; they add up to the program's dispatches. */
export function dispatchKinds(p: Program): KindLine[] {
  const byId = byIdOf(p.graph);
  const computed = computedBy(p);
  const lines = new Map<string, { dispatches: number; kernels: Set<number> }>();
  p.dispatches.forEach((d, i) => {
    // a sequence kernel (sequence.ts) or a parallel one (parallel.ts) runs several dispatches' kernels; the
    // program records only its last member's node, and the kernel's name is what says it is one
    const name = p.kernels[d.kernel].name;
    const merged = SEQUENCE_NAME.test(name) ? "sequence" : PARALLEL_NAME.test(name) ? "parallel" : undefined;
    const kind = merged ?? kernelKind(byId.get(d.node)!, computed[i]);
    const line = lines.get(kind) ?? { dispatches: 0, kernels: new Set<number>() };
    line.dispatches++;
    line.kernels.add(d.kernel);
    lines.set(kind, line);
  });
  return [...lines]
    .map(([kind, l]) => ({ kind, dispatches: l.dispatches, kernels: l.kernels.size }))
    .sort((a, b) => b.dispatches - a.dispatches || a.kind.localeCompare(b.kind));
}

/** One scan's dispatches: how many each step's work took. */
export interface ScanLine {
  /** where the scan is written (file:line, or file@offset without its source) */
  readonly at: string;
  readonly steps: readonly number[];
  /** of those, the dispatches of nodes copied from the model (not lowered composites, not gradients) */
  readonly modelSteps: readonly number[];
}

export interface ScanDispatches {
  readonly scans: readonly ScanLine[];
  /** dispatches of work traced to the model outside every scan */
  readonly outside: number;
  /** dispatches of nodes the compiler made (gradients, the optimizer, lowered composites) whose inputs
   *  come from more than one place (two steps, or a step and outside), or only from sources */
  readonly unattributed: number;
}

/** Where a node's work came from: a step of a scan, the model outside the scans, or not known. */
type Place = { readonly scan: number; readonly step: number } | "outside" | undefined;

const samePlace = (a: Place, b: Place): boolean =>
  a === b || (typeof a === "object" && typeof b === "object" && a.scan === b.scan && a.step === b.step);

/** Each node of the compiled graph placed: a node copied from the elaborated graph where its original
 *  was; a node the compiler made (a lowered composite's part, a gradient, the optimizer) by its inputs. */
function placeNodes(
  g: Graph,
  elaborated: Graph,
  scans: readonly ScanRecord[],
): { place: Map<number, Place>; copied: Set<number> } {
  const stepOf = (id: number): Place => {
    for (const [s, sc] of scans.entries()) {
      const step = sc.steps.findIndex((st) => id >= st.start && id < st.end);
      if (step >= 0) return { scan: s, step };
    }
    return "outside";
  };
  const original = new Map<object, number | undefined>();
  for (const n of elaborated.nodes) original.set(n.attrs, original.has(n.attrs) ? undefined : n.id);
  const place = new Map<number, Place>();
  const copied = new Set<number>();
  for (const n of g.nodes) {
    // a source (param, input, constant) is read by every step: it places nothing it feeds
    if (opSpec(n.op).kind === "source") continue;
    const id = original.get(n.attrs);
    if (id !== undefined) {
      place.set(n.id, stepOf(id));
      copied.add(n.id);
      continue;
    }
    // not "one step's values and values outside" too: downstream gradients would land in the last step
    const from = n.inputs.map((i) => place.get(i)).filter((x) => x !== undefined);
    place.set(n.id, from.length > 0 && from.every((x) => samePlace(x, from[0])) ? from[0] : undefined);
  }
  return { place, copied };
}

/** The dispatches by the scan step their node's work came from. `elaborated` is the graph the program
 *  was compiled from before any training step was built on it, with its scans. */
export function scanDispatches(
  p: Program,
  el: { readonly graph: Graph; readonly scans: readonly ScanRecord[] },
  sources?: Sources,
): ScanDispatches {
  const { place, copied } = placeNodes(p.graph, el.graph, el.scans);
  const steps = el.scans.map((sc) => sc.steps.map(() => 0));
  const model = el.scans.map((sc) => sc.steps.map(() => 0));
  let outside = 0;
  let unattributed = 0;
  for (const d of p.dispatches) {
    const at = place.get(d.node);
    if (at === "outside") outside++;
    else if (at === undefined) unattributed++;
    else {
      steps[at.scan][at.step]++;
      if (copied.has(d.node)) model[at.scan][at.step]++;
    }
  }
  const where = (sc: ScanRecord): string => {
    const text = sources?.get(sc.span.file);
    if (text === undefined) return `${shownFile(sc.span.file)}@${sc.span.start}`;
    return `${shownFile(sc.span.file)}:${positionOf(lineStarts(text), sc.span.start).line}`;
  };
  const lines = el.scans.map((sc, s) => ({ at: where(sc), steps: steps[s], modelSteps: model[s] }));
  return { scans: lines, outside, unattributed };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export function formatKinds(kinds: readonly KindLine[]): string[] {
  const width = Math.max(4, ...kinds.map((k) => k.kind.length));
  return [
    "  dispatches by kind (dispatches, distinct kernels):",
    ...kinds.map((k) => `    ${k.kind.padEnd(width)}  ${String(k.dispatches).padStart(4)}  ${k.kernels}`),
  ];
}

const perStep = (xs: readonly number[]): string =>
  xs.length <= 8 ? xs.join(", ") : `min ${Math.min(...xs)}, median ${median(xs)}, max ${Math.max(...xs)}`;

export function formatScans(s: ScanDispatches): string[] {
  const lines = ["  dispatches by scan step:"];
  for (const sc of s.scans) {
    const sum = sc.steps.reduce((a, b) => a + b, 0);
    lines.push(
      `    scan at ${sc.at}: ${sc.steps.length} steps, ${perStep(sc.steps)} per step (${sum} in all); ` +
        `of these, nodes written in the model: ${perStep(sc.modelSteps)}`,
    );
  }
  lines.push(`    outside any scan: ${s.outside}`);
  if (s.unattributed > 0) {
    lines.push(
      `    not attributed: ${s.unattributed} (nodes the compiler made, such as gradients, reading values from ` +
        "several places, or only parameters and inputs)",
    );
  }
  return lines;
}
