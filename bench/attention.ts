// attention.ts (bench): attention forward and forward + backward, flash kernels against the lowered
// path (matmul + mask + softmax + matmul), through compileGraph → Executor as models run it. The
// backward figure is (forward + backward) − forward. Also prints the largest difference between the
// two paths' gradients. Run alone: `npx tsx bench/attention.ts [T …]`.
import { pathToFileURL } from "node:url";
import { GraphBuilder } from "../compiler/builder.js";
import { grad } from "../compiler/grad.js";
import type { Graph, MaskSpec } from "../compiler/ir.js";
import { binary, reduce } from "../compiler/ops/helpers.js";
import type { AttentionPolicy } from "../compiler/passes/choose-attention.js";
import { compileGraph } from "../compiler/program.js";
import type { Gpu } from "../runtime/device.js";
import { Executor } from "../runtime/executor.js";
import { Table, pseudoValues, time } from "./harness.js";

export interface AttentionCase {
  readonly b: number;
  readonly h: number;
  readonly t: number;
  readonly d: number;
  readonly mask: MaskSpec;
}

/** loss = Σ attention(q, k, v)·w, with q, k, v params (so the gradient reaches all three). */
function attentionGraph(c: AttentionCase): Graph {
  const b = new GraphBuilder();
  const shape = [c.b, c.h, c.t, c.d];
  const [q, k, v] = ["q", "k", "v"].map((n) => b.param(n, "f32", shape));
  const o = b.add("attention", [q, k, v], { mask: c.mask });
  const w = b.input("w", "f32", shape);
  b.output("o", o);
  b.output("loss", reduce(b, "reduce_sum", binary(b, "mul", o, w), [0, 1, 2, 3]));
  return b.build();
}

async function timeProgram(gpu: Gpu, g: Graph, attention: AttentionPolicy, n: number, runs: number): Promise<{ ms: number; out: Record<string, Float64Array> }> {
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
  const table = new Table("attention (f32): flash kernels vs the lowered path", ["B×H×T×D, mask", "path", "forward ms", "backward ms", "max |Δ grad| vs lowered"]);
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
      if (lowered) for (const x of ["grad:q", "grad:k", "grad:v"]) both.out[x].forEach((y, i) => (diff = Math.max(diff, Math.abs(y - lowered![x][i]))));
      else lowered = both.out;
      table.add([`${c.b}×${c.h}×${c.t}×${c.d}, ${c.mask.kind}`, path, fwd.ms, both.ms - fwd.ms, path === "lowered" ? "—" : diff.toExponential(1)]);
    }
  }
  return table;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { getGpu } = await import("../runtime/device.js");
  const ts = process.argv.slice(2).map(Number);
  const cases = (ts.length ? ts : [128, 1024]).flatMap((t) => (["none", "causal"] as const).map((kind) => ({ b: 8, h: 4, t, d: 32, mask: { kind } })));
  await benchAttention(await getGpu(), cases);
  process.exit(0);
}
