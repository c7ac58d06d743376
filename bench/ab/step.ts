// step.ts (bench/ab): median wall time of training steps and forward+backward runs, printed as JSON lines.
// It and cases.ts use only long-stable entry points (loadModel, buildTrainStep, compileGraph, Executor), so
// that bench/ab/run.ts can copy both into an older checkout and time the same work there, alternating.
import { DEFAULT_ADAMW, stepScalars } from "../../compiler/train-step.js";
import { compileGraph } from "../../compiler/program.js";
import { getGpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";
import { CASES, feed, trainStepOf } from "./cases.js";

const gpu = await getGpu();
const only = process.argv[2];
for (const c of CASES.filter((x) => !only || x.label === only)) {
  const { el, st } = trainStepOf(c);
  const program = compileGraph(st.graph, gpu.limits, { updates: st.updates });
  const ex = await Executor.create(gpu, program);
  feed(ex, el);
  const times: number[] = [];
  for (let t = 1; t <= 16; t++) {
    for (const [name, v] of Object.entries(stepScalars(DEFAULT_ADAMW, t, 1e-3))) ex.write(name, [v]);
    const t0 = performance.now();
    await ex.run(["step.loss"]);
    if (t > 2) times.push(performance.now() - t0);
  }
  ex.destroy();
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    JSON.stringify({ label: c.label, dispatches: program.dispatches.length, medianMs: Math.round(median * 10) / 10 }),
  );
}
process.exit(0);
