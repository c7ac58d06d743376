// attention.ts (bench): attention forward and forward + backward, flash kernels against the lowered
// path (matmul + mask + softmax + matmul), through compileGraph → Executor as models run it. The
// backward figure is (forward + backward) − forward. Also prints the largest difference between the
// two paths' gradients. `npm run bench` runs it for short sequences beside the memory table of
// attention-memory.ts; alone, `npx tsx bench/attention.ts` does the same and writes the section,
// `npx tsx bench/attention.ts T …` times those lengths only (printed, not written).
import { loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { grad } from "../compiler/grad.js";
import type { Graph } from "../compiler/ir.js";
import type { AttentionPolicy } from "../compiler/passes/choose-attention.js";
import { compileGraph } from "../compiler/program.js";
import { type Gpu, adapterName } from "../runtime/device.js";
import { Executor } from "../runtime/executor.js";
import { type AttentionCase, attentionGraph } from "./attention-graph.js";
import { MEMORY_TS, QUICK_T, attentionSection, benchAttentionMemory } from "./attention-memory.js";
import { Table, pseudoValues, time } from "./harness.js";
import { writeSection } from "./report.js";

async function timeProgram(
  gpu: Gpu,
  g: Graph,
  attention: AttentionPolicy,
  n: number,
  runs: number,
): Promise<{ ms: number; out: Record<string, Float64Array> }> {
  const ex = await Executor.create(gpu, compileGraph(g, gpu.limits, { attention }));
  try {
    for (const [i, name] of ["q", "k", "v", "w"].entries()) ex.write(name, pseudoValues(n, i + 1, 2));
    const out = await ex.run();
    const t = await time(() => ex.run([]).then(() => ex.sync()), { warmup: 1, runs });
    return { ms: t.medianMs, out };
  } finally {
    ex.destroy();
  }
}

export async function benchAttention(gpu: Gpu, cases: readonly AttentionCase[]): Promise<Table> {
  const table = new Table("attention (f32): flash kernels vs the lowered path", [
    "B×H×T×D, mask",
    "path",
    "forward ms",
    "backward ms",
    "max abs Δ grad vs lowered",
  ]);
  for (const c of cases) {
    const g = attentionGraph(c);
    const n = c.b * c.h * c.t * c.d;
    const runs = c.t >= 1024 ? 3 : 5;
    const forward = { nodes: g.nodes, outputs: g.outputs.filter((o) => o.name === "o") };
    let lowered: Record<string, Float64Array> | undefined;
    for (const path of ["lowered", "flash"] as const) {
      const fwd = await timeProgram(gpu, forward, path, n, runs);
      const both = await timeProgram(gpu, grad(g, "loss", { wrt: ["q", "k", "v"], attention: path }), path, n, runs);
      let diff = 0;
      if (lowered)
        for (const x of ["grad:q", "grad:k", "grad:v"])
          both.out[x].forEach((y, i) => (diff = Math.max(diff, Math.abs(y - lowered![x][i]))));
      else lowered = both.out;
      table.add([
        `${c.b}×${c.h}×${c.t}×${c.d}, ${c.mask.kind}`,
        path,
        fwd.ms,
        both.ms - fwd.ms,
        path === "lowered" ? "—" : diff.toExponential(1),
      ]);
    }
  }
  return table;
}

/** Both masks at B 8, 4 heads, D 32 for each length. */
export const timingCases = (ts: readonly number[]): AttentionCase[] =>
  ts.flatMap((t) => (["none", "causal"] as const).map((kind) => ({ b: 8, h: 4, t, d: 32, mask: { kind } })));

/** The "attention" section of docs/PERFORMANCE.md: memory for every length, timing for short ones. */
export async function writeAttentionSection(gpu: Gpu): Promise<void> {
  process.stdout.write("attention memory against sequence length (compile report)\n");
  const memory = benchAttentionMemory(gpu.limits);
  process.stdout.write(`attention timing, T ≤ ${QUICK_T}\n`);
  const timing = await benchAttention(gpu, timingCases(MEMORY_TS.filter((t) => t <= QUICK_T)));
  const load = loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ");
  writeSection("attention", attentionSection(adapterName(gpu.adapter), gpu.limits, memory, timing, load));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { getGpu } = await import("../runtime/device.js");
  const gpu = await getGpu();
  const ts = process.argv.slice(2).map(Number);
  if (ts.length) await benchAttention(gpu, timingCases(ts));
  else {
    await writeAttentionSection(gpu);
    process.stdout.write("\nwritten to docs/PERFORMANCE.md\n");
  }
  process.exit(0);
}
