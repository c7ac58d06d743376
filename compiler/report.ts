// report.ts: what a compiled program costs — parameters, FLOPs, every kernel with its dispatches, and
// buffer bytes — for `mira compile --emit report` and the benchmarks. Counts, not timings.
import { formatBytes } from "./limits.js";
import type { Graph, Node } from "./ir.js";
import { type FlopRule, FLOPS } from "./ops/flops.js";
import { isOpName } from "./ops/index.js";
import type { Program } from "./program.js";
import { type KindLine, type ScanDispatches, dispatchKinds, formatKinds, formatScans } from "./report-dispatches.js";
import { type RematReport, formatRemat } from "./report-remat.js";
import { prod } from "./shape.js";
import { bug } from "../base/errors.js";
import { programBytes } from "./arenas.js";

/** Floating-point operations of one node, by its op's rule in the FLOP table (ops/flops.ts). */
export function flopsOf(n: Node, byId: ReadonlyMap<number, Node>): number {
  if (!isOpName(n.op)) bug(`unknown op '${n.op}' has no FLOP rule`);
  const rule: FlopRule = FLOPS[n.op];
  return rule(
    n,
    n.inputs.map((i) => byId.get(i)!),
  );
}

export const graphFlops = (g: Graph): number => {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  return g.nodes.reduce((s, n) => s + flopsOf(n, byId), 0);
};

export interface KernelLine {
  readonly name: string;
  readonly dispatches: number;
  readonly workgroups: readonly [number, number, number];
}

export interface ProgramReport {
  readonly params: number;
  readonly flops: number;
  readonly dispatches: number;
  /** the dispatches by the kind of kernel running them (report-dispatches.ts), most first */
  readonly kinds: readonly KindLine[];
  readonly kernels: readonly KernelLine[];
  readonly bufferBytes: number;
  readonly largestBuffer: { readonly bytes: number; readonly name: string };
  /** bufferBytes by what the buffers hold; the four parts add up to it */
  readonly memory: MemorySplit;
  /** a training step's: what rematerialising its blocks saves, or could (report-remat.ts) */
  readonly remat?: RematReport;
  /** row kernels and matmul chains the fusion plan formed, and the largest chain candidates it did not */
  readonly fusion: FusionLine;
}

export interface FusionLine {
  readonly rowKernels: number;
  readonly chains: number;
  /** matmul pairs left as two kernels, alike ones counted together, largest hidden value first */
  readonly notFormed: readonly {
    readonly pair: string;
    readonly hidden: number;
    readonly count: number;
    readonly why: string;
  }[];
}

/** How many of the pairs not chained the report lists. */
export const MISSES_LISTED = 8;

/** The fusion plan's row kernels and chains, and the largest pairs it left apart (Program.fusion). */
function fusionLine(p: Program): FusionLine {
  const byId = new Map(p.graph.nodes.map((n) => [n.id, n]));
  const shape = (id: number) => byId.get(id)!.shape.join("×");
  const groups = new Map<string, { pair: string; hidden: number; count: number; why: string }>();
  for (const m of p.fusion.chainMisses) {
    const [f, s] = [byId.get(m.first)!, byId.get(m.second)!];
    const pair = `${shape(f.inputs[0])} · ${shape(f.inputs[1])} → · ${shape(s.inputs[1])}`;
    const key = `${pair}|${m.why}`;
    const g = groups.get(key) ?? { pair, hidden: m.m * m.n1, count: 0, why: m.why };
    groups.set(key, { ...g, count: g.count + 1 });
  }
  const notFormed = [...groups.values()].sort((a, b) => b.hidden - a.hidden || b.count - a.count);
  return { rowKernels: p.fusion.rowKernels, chains: p.fusion.chains, notFormed: notFormed.slice(0, MISSES_LISTED) };
}

const formatFusion = (f: FusionLine): string[] => [
  `  fusion       ${f.rowKernels} row groups, ${f.chains} matmul chains planned` +
    (f.notFormed.length ? "; matmul pairs left apart, largest first (A · B → · B₂, hidden elements):" : ""),
  ...f.notFormed.map(
    (x) => `    ${String(x.count).padStart(4)} × ${x.pair} (${x.hidden.toLocaleString("en-US")}): ${x.why}`,
  ),
];

/** Peak memory of a program (its buffers; values with disjoint lifetimes share one) by what it holds:
 *  the model's parameters, their gradients, the optimizer's moments, and everything else (inputs,
 *  outputs and intermediates: activations). A buffer that holds a gradient at one time and a larger
 *  activation at another counts the gradient's bytes as gradients and the rest as activations. A
 *  forward program has no gradients and no optimizer state. */
export interface MemorySplit {
  readonly parameters: number;
  readonly gradients: number;
  readonly optimizerState: number;
  readonly activations: number;
  readonly total: number;
}

/** The values holding a training step's gradients (train-step.ts): what each adamw node reads at its
 *  gradient slot, or, where the optimizer was lowered to primitives, what the global norm sums. A view
 *  (reshape) has no buffer of its own, so it is followed to the value that holds it. */
function gradientValues(p: Program): Set<number> {
  const byId = new Map(p.graph.nodes.map((n) => [n.id, n]));
  const slotOf = p.memory.plan.slotOf;
  const grads: number[] = [];
  for (const n of p.graph.nodes) {
    if (n.op === "adamw") grads.push(n.inputs[3]);
    else if (n.op === "sum_squares") grads.push(...n.inputs);
  }
  const out = new Set<number>();
  for (let id of grads) {
    while (!slotOf.has(id) && byId.get(id)?.op === "reshape") id = byId.get(id)!.inputs[0];
    if (slotOf.has(id)) out.add(id);
  }
  return out;
}

export function memorySplit(p: Program): MemorySplit {
  const grads = gradientValues(p);
  const bytes = new Map(p.memory.values.map((v) => [v.id, v.bytes]));
  const split = { parameters: 0, gradients: 0, optimizerState: 0, activations: 0, total: 0 };
  for (const b of p.buffers) {
    if (b.role === "arena") continue; // counted through its members
    split.total += b.bytes;
    if (b.role === "param") split[b.name?.startsWith("opt.") ? "optimizerState" : "parameters"] += b.bytes;
    else {
      const residents = p.memory.plan.residents[b.id] ?? [];
      const held = residents.filter((v) => grads.has(v)).map((v) => bytes.get(v) ?? 0);
      const g = Math.min(b.bytes, Math.max(0, ...held));
      split.gradients += g;
      split.activations += b.bytes - g;
    }
  }
  return split;
}

export function reportProgram(p: Program): ProgramReport {
  const count = new Map<number, number>();
  for (const d of p.dispatches) count.set(d.kernel, (count.get(d.kernel) ?? 0) + 1);
  const values = p.buffers.filter((b) => b.role !== "arena");
  const largest = values.reduce((a, b) => (b.bytes > a.bytes ? b : a), values[0] ?? { bytes: 0, id: -1 });
  return {
    // optimizer moments are params of a training step's program, but not of the model
    params: p.params.filter((t) => !t.name.startsWith("opt.")).reduce((s, t) => s + prod(t.shape), 0),
    flops: graphFlops(p.graph),
    dispatches: p.dispatches.length,
    kinds: dispatchKinds(p),
    kernels: p.kernels.map((k, i) => ({ name: k.name, dispatches: count.get(i) ?? 0, workgroups: k.workgroups })),
    bufferBytes: programBytes(p.buffers),
    largestBuffer: {
      bytes: largest?.bytes ?? 0,
      name: "name" in largest && largest.name ? largest.name : `t${largest?.id ?? "-"}`,
    },
    memory: memorySplit(p),
    fusion: fusionLine(p),
  };
}

const si = (x: number): string =>
  x >= 1e12
    ? `${(x / 1e12).toFixed(2)} T`
    : x >= 1e9
      ? `${(x / 1e9).toFixed(2)} G`
      : x >= 1e6
        ? `${(x / 1e6).toFixed(2)} M`
        : x >= 1e3
          ? `${(x / 1e3).toFixed(1)} k`
          : `${x} `;

const formatMemory = (m: MemorySplit): string =>
  `${formatBytes(m.parameters)} parameters + ${formatBytes(m.gradients)} gradients + ` +
  `${formatBytes(m.optimizerState)} optimizer state + ${formatBytes(m.activations)} activations = ` +
  `${formatBytes(m.total)}`;

/** The report as text; `scans`, where given, adds the dispatches by scan step. */
export function formatReport(r: ProgramReport, title: string, scans?: ScanDispatches): string {
  const lines = [
    title,
    `  parameters   ${r.params.toLocaleString("en-US")}`,
    `  FLOPs        ${si(r.flops)}FLOP per run`,
    `  dispatches   ${r.dispatches} in one submit (${r.kernels.length} distinct kernels)`,
    `  buffers      ${formatBytes(r.bufferBytes)} peak (values with disjoint lifetimes share buffers); ` +
      `largest ${formatBytes(r.largestBuffer.bytes)} (${r.largestBuffer.name})`,
    `  memory       ${formatMemory(r.memory)}`,
    ...(r.remat ? formatRemat(r.remat) : []),
    ...formatFusion(r.fusion),
    ...formatKinds(r.kinds),
    ...(scans ? formatScans(scans) : []),
    "  kernels (dispatches × name, workgroups):",
    ...r.kernels.map((k) => `    ${String(k.dispatches).padStart(4)} × ${k.name}  [${k.workgroups.join(", ")}]`),
  ];
  return lines.join("\n");
}
