// variants.ts: one graph compiled with a compile option off and on, run on the GPU, and compared bit for
// bit (for options that must not change a single result: sequence and parallel kernels).
import { expect } from "vitest";
import type { Graph } from "../../compiler/ir.js";
import type { DeviceLimits } from "../../compiler/limits.js";
import { type CompileOptions, type Program, compileGraph } from "../../compiler/program.js";
import type { Feeds } from "../../compiler/reference.js";
import { Executor } from "../../runtime/executor.js";
import { firstMismatch } from "./close.js";
import { testGpu } from "./gpu.js";

const exact = { atol: 0, rtol: 0 };

/** Runs a program `steps` times (feeding `feeds(step)` first) and returns every run's outputs. */
async function runSteps(
  p: Program,
  feeds: (step: number) => Feeds,
  steps: number,
): Promise<Record<string, Float64Array>[]> {
  const ex = await Executor.create(await testGpu(), p);
  try {
    const out: Record<string, Float64Array>[] = [];
    for (let s = 1; s <= steps; s++) {
      for (const [name, v] of Object.entries(feeds(s))) ex.write(name, v);
      out.push(await ex.run());
    }
    return out;
  } finally {
    ex.destroy();
  }
}

/** `graph` compiled with `option` false (plain) and true (merged): equal bits in every run, and the merged
 *  program never has more dispatches. */
export async function compareOption(
  option: "sequence" | "parallel",
  graph: Graph,
  limits: DeviceLimits,
  feeds: (step: number) => Feeds,
  opts: CompileOptions = {},
  steps = 1,
): Promise<{ merged: Program; plain: Program }> {
  const plain = compileGraph(graph, limits, { ...opts, [option]: false });
  const merged = compileGraph(graph, limits, { ...opts, [option]: true });
  const [a, b] = [await runSteps(plain, feeds, steps), await runSteps(merged, feeds, steps)];
  for (let s = 0; s < steps; s++) {
    for (const name of Object.keys(a[s])) {
      const bad = firstMismatch(b[s][name], a[s][name], exact);
      if (bad) throw new Error(`${option}, run ${s + 1}, ${name}: ${bad}`);
    }
  }
  expect(merged.dispatches.length).toBeLessThanOrEqual(plain.dispatches.length);
  return { merged, plain };
}
