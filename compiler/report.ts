// report.ts: what a compiled program costs — parameters, FLOPs, every kernel with its dispatches, and
// buffer bytes — for `mira compile --emit report` and the benchmarks. Counts, not timings.
import { formatBytes } from "./limits.js";
import type { Graph, Node } from "./ir.js";
import { opSpec } from "./ops/index.js";
import { matmulDims } from "./ops/linalg.js";
import type { Program } from "./program.js";
import { prod } from "./shape.js";

/** Floating-point operations of one node (multiply-add = 2; elementwise and reductions 1 per element). */
export function flopsOf(n: Node, byId: ReadonlyMap<number, Node>): number {
  const ins = n.inputs.map((i) => byId.get(i)!);
  switch (opSpec(n.op).kind) {
    case "matmul": {
      const { batch, m, n: cols, k } = matmulDims(ins[0], ins[1], n.attrs);
      return 2 * prod(batch) * m * cols * k;
    }
    case "elementwise":
      return n.op === "full" || n.op === "iota" || n.op === "stop_gradient" ? 0 : prod(n.shape);
    case "reduce":
      return prod(ins[0].shape);
    case "scatter":
      // write_rows copies rows (a K/V cache's write), no arithmetic
      return n.op === "write_rows" ? 0 : prod(n.shape) * prod(ins[0].shape);
    case "attention": {
      // every (query, key) pair, masks ignored: q·k, then p·v (forward), dO·v and dS·k (dQ), dS·q and p·dO (dK|dV)
      const [q, k, v] = ins;
      const [d, dv] = [q.shape[q.shape.length - 1], n.op === "attention_lse" ? 0 : v.shape[v.shape.length - 1]];
      const pairs = prod(q.shape.slice(0, -1)) * k.shape[k.shape.length - 2];
      const per = { flash_attention: d + dv, attention_lse: d, attention_dq: 2 * d + dv, attention_dkv: 2 * d + 2 * dv }[n.op] ?? 0;
      return 2 * pairs * per;
    }
    case "optimizer":
      // as the elementwise ops they stand for: square and add per element; AdamW's 13 (15 with weight
      // decay) arithmetic ops and 3 selects per element
      return n.op === "sum_squares" ? 2 * ins.reduce((s, x) => s + prod(x.shape), 0) : prod(ins[0].shape) * (n.attrs.adamw?.decays ? 18 : 16);
    default:
      return 0;
  }
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
