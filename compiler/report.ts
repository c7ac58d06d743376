// report.ts: what a compiled program costs — parameters, FLOPs, every kernel with its dispatches, and
// buffer bytes — for `mira compile --emit report` and the benchmarks. Counts, not timings.
import { formatBytes } from "./limits.js";
import type { Graph, Node } from "./ir.js";
import { type FlopRule, FLOPS } from "./ops/flops.js";
import { isOpName } from "./ops/index.js";
import type { Program } from "./program.js";
import { prod } from "./shape.js";
import { bug } from "../base/errors.js";

/** Floating-point operations of one node, by its op's rule in the FLOP table (ops/flops.ts). */
export function flopsOf(n: Node, byId: ReadonlyMap<number, Node>): number {
  if (!isOpName(n.op)) bug(`unknown op '${n.op}' has no FLOP rule`);
  const rule: FlopRule = FLOPS[n.op];
  return rule(n, n.inputs.map((i) => byId.get(i)!));
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
  readonly kernels: readonly KernelLine[];
  readonly bufferBytes: number;
  readonly largestBuffer: { readonly bytes: number; readonly name: string };
}

export function reportProgram(p: Program): ProgramReport {
  const count = new Map<number, number>();
  for (const d of p.dispatches) count.set(d.kernel, (count.get(d.kernel) ?? 0) + 1);
  const largest = p.buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a), p.buffers[0] ?? { bytes: 0, id: -1 });
  return {
    // optimizer moments are params of a training step's program, but not of the model
    params: p.params.filter((t) => !t.name.startsWith("opt.")).reduce((s, t) => s + prod(t.shape), 0),
    flops: graphFlops(p.graph),
    dispatches: p.dispatches.length,
    kernels: p.kernels.map((k, i) => ({ name: k.name, dispatches: count.get(i) ?? 0, workgroups: k.workgroups })),
    bufferBytes: p.buffers.reduce((s, b) => s + b.bytes, 0),
    largestBuffer: { bytes: largest?.bytes ?? 0, name: "name" in largest && largest.name ? largest.name : `t${largest?.id ?? "-"}` },
  };
}

const si = (x: number): string => (x >= 1e12 ? `${(x / 1e12).toFixed(2)} T` : x >= 1e9 ? `${(x / 1e9).toFixed(2)} G` : x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : `${x} `);

export function formatReport(r: ProgramReport, title: string): string {
  const lines = [
    title,
    `  parameters   ${r.params.toLocaleString("en-US")}`,
    `  FLOPs        ${si(r.flops)}FLOP per run`,
    `  dispatches   ${r.dispatches} in one submit (${r.kernels.length} distinct kernels)`,
    `  buffers      ${formatBytes(r.bufferBytes)} peak (values with disjoint lifetimes share buffers); largest ${formatBytes(r.largestBuffer.bytes)} (${r.largestBuffer.name})`,
    "  kernels (dispatches × name, workgroups):",
    ...r.kernels.map((k) => `    ${String(k.dispatches).padStart(4)} × ${k.name}  [${k.workgroups.join(", ")}]`),
  ];
  return lines.join("\n");
}
