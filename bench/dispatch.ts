// dispatch.ts (bench): the fixed cost of a dispatch — 1000 tiny dependent kernels recorded in one pass
// and one submit, against the same 1000 each submitted and awaited on their own — and elementwise
// bandwidth on large tensors.
import { GraphBuilder } from "../compiler/builder.js";
import { scalar } from "../compiler/ops/helpers.js";
import { compileGraph } from "../compiler/program.js";
import type { Gpu } from "../runtime/device.js";
import { Executor } from "../runtime/executor.js";
import { Table, time } from "./harness.js";

export async function benchDispatch(gpu: Gpu, count = 1000): Promise<Table> {
  const b = new GraphBuilder();
  let x = b.input("x", "f32", [64]);
  const one = b.add("full", [], { value: 1, dtype: "f32", shape: [64] });
  for (let i = 0; i < count; i++) x = b.add("add", [x, one]);
  b.output("y", x);
  // unfused: this measures the cost of a dispatch, so the chain must stay 1000 kernels
  const program = compileGraph(b.build(), gpu.limits, { fuse: false });
  const ex = await Executor.create(gpu, program);
  ex.write("x", new Float32Array(64));
  const n = program.dispatches.length;
  const one_submit = await time(async () => {
    const enc = gpu.device.createCommandEncoder();
    ex.encode(enc);
    gpu.device.queue.submit([enc.finish()]);
    await ex.sync();
  });
  const each = await time(
    async () => {
      for (let i = 0; i < n; i++) {
        const enc = gpu.device.createCommandEncoder();
        ex.encode(enc, i, i + 1);
        gpu.device.queue.submit([enc.finish()]);
        await ex.sync();
      }
    },
    { warmup: 1, runs: 3 },
  );
  const y = (await ex.run(["y"])).y;
  ex.destroy();
  const table = new Table("dispatch overhead", ["mode", "dispatches", "total ms", "µs per dispatch"]);
  table.add(["one pass, one submit", n, one_submit.medianMs, (one_submit.medianMs * 1000) / n]);
  table.add(["one submit + wait per dispatch", n, each.medianMs, (each.medianMs * 1000) / n]);
  if (y[0] !== count) throw new Error(`dispatch bench computed ${y[0]}, expected ${count}`);
  return table;
}

export async function benchElementwise(gpu: Gpu, n = 4 * 1024 * 1024): Promise<Table> {
  const table = new Table("elementwise bandwidth (f32)", ["kernel", "elements", "median ms", "GB/s"]);
  const cases: { label: string; build: (b: GraphBuilder) => void; bytes: number }[] = [
    {
      label: "y = x + z",
      bytes: 12 * n,
      build: (b) => b.output("y", b.add("add", [b.input("x", "f32", [n]), b.input("z", "f32", [n])])),
    },
    { label: "y = exp(x)", bytes: 8 * n, build: (b) => b.output("y", b.add("exp", [b.input("x", "f32", [n])])) },
    {
      label: "y = x · 0.5 (scalar operand)",
      bytes: 8 * n,
      build: (b) => b.output("y", b.add("mul", [b.input("x", "f32", [n]), scalar(b, 0.5)])),
    },
  ];
  for (const c of cases) {
    const b = new GraphBuilder();
    c.build(b);
    const program = compileGraph(b.build(), gpu.limits);
    const ex = await Executor.create(gpu, program);
    for (const t of program.inputs) ex.write(t.name, new Float32Array(n).fill(0.25));
    const t = await time(() => ex.run([]).then(() => ex.sync()), { warmup: 2, runs: 7 });
    table.add([c.label, n, t.medianMs, c.bytes / t.medianMs / 1e6]);
    ex.destroy();
  }
  return table;
}
