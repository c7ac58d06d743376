// step.ts (bench/ab): median wall time of training steps and forward+backward runs, printed as JSON lines.
// It uses only long-stable entry points (loadModel, buildTrainStep, compileGraph, Executor), so that
// bench/ab/run.mjs can copy it into an older checkout and time the same work there, alternating.
import { loadModel } from "../../api/model.js";
import { initParams } from "../../compiler/lower.js";
import { DEFAULT_ADAMW, buildTrainStep, stepScalars } from "../../compiler/train-step.js";
import { compileGraph } from "../../compiler/program.js";
import { getGpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";
import { CASES } from "./cases.js";

const gpu = await getGpu();
const only = process.argv[2];
for (const c of CASES.filter((x) => !only || x.label === only)) {
  const el = loadModel(c.file, { preset: c.preset, set: c.set }).elaborate(c.batch);
  const loss = el.objective ?? el.losses[0];
  const st = buildTrainStep(el.graph, loss, DEFAULT_ADAMW, () => true);
  const program = compileGraph(st.graph, gpu.limits, { updates: st.updates });
  const ex = await Executor.create(gpu, program);
  for (const [name, v] of initParams(el.params, 1)) ex.write(name, v);
  for (const i of el.inputs) {
    const n = i.shape.reduce((a, b) => a * b, 1);
    ex.write(
      i.name,
      i.dtype === "i32"
        ? Int32Array.from({ length: n }, (_, k) => 3 + ((k * 7) % 26))
        : Float32Array.from({ length: n }, (_, k) => Math.sin(k) * 0.5),
    );
  }
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
