// gpu.ts (tests): the shared Dawn device for GPU suites, and graph runs compared with the reference.
// A GPU suite never skips itself: without an adapter it fails at once, naming the fix.
import type { Graph } from "../../compiler/ir.js";
import type { DeviceLimits } from "../../compiler/limits.js";
import { type CompileOptions, compileGraph } from "../../compiler/program.js";
import type { Feeds } from "../../compiler/reference.js";
import { type Gpu, NO_ADAPTER_FIX, getGpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";

export async function testGpu(): Promise<Gpu> {
  try {
    return await getGpu();
  } catch (e) {
    throw new Error(`GPU tests need a WebGPU adapter: ${NO_ADAPTER_FIX} (${(e as Error).message})`);
  }
}

/** Compiles `graph` once and runs it on each feed set: further values on a graph cost runs, not shader compiles. */
export async function runOnGpuMany(
  graph: Graph,
  feedSets: readonly Feeds[],
  opts: CompileOptions & { limits?: Partial<DeviceLimits> } = {},
): Promise<Record<string, Float64Array>[]> {
  const gpu = await testGpu();
  const program = compileGraph(graph, { ...gpu.limits, ...opts.limits }, opts);
  const ex = await Executor.create(gpu, program);
  try {
    const out: Record<string, Float64Array>[] = [];
    for (const feeds of feedSets) {
      for (const t of [...program.inputs, ...program.params]) ex.write(t.name, feeds[t.name]);
      out.push(await ex.run());
    }
    return out;
  } finally {
    ex.destroy();
  }
}

/** Compiles `graph` for the test device (optionally with lowered limits), feeds it, runs it once. */
export async function runOnGpu(
  graph: Graph,
  feeds: Feeds,
  opts: CompileOptions & { limits?: Partial<DeviceLimits> } = {},
): Promise<Record<string, Float64Array>> {
  const gpu = await testGpu();
  const program = compileGraph(graph, { ...gpu.limits, ...opts.limits }, opts);
  const ex = await Executor.create(gpu, program);
  try {
    for (const t of [...program.inputs, ...program.params]) ex.write(t.name, feeds[t.name]);
    return await ex.run();
  } finally {
    ex.destroy();
  }
}
