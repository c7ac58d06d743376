// step.ts (bench/compile): one training step program, compiled with the options given as JSON in argv[3],
// created on the device and run: prints one JSON line with dispatches, kernels, the first run's ms (it
// pays the shader compiler: llvmpipe compiles a kernel on its first dispatch) and the median of 10 runs.
// bench/compile/run.ts starts it in a fresh process with an empty shader cache per measurement.
import { loadModel } from "../../api/model.js";
import { initParams } from "../../compiler/lower.js";
import { type CompileOptions, compileGraph } from "../../compiler/program.js";
import { DEFAULT_ADAMW, buildTrainStep, stepScalars } from "../../compiler/train-step.js";
import { getGpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";

const [set, json] = process.argv.slice(2);
const opts = JSON.parse(json) as CompileOptions;
const gpu = await getGpu();
const el = loadModel("models/mirasol.mira", { preset: "tiny", set: set.split(";") }).elaborate({ B: 1, L: 16 });
const st = buildTrainStep(el.graph, el.objective ?? el.losses[0], DEFAULT_ADAMW, () => true);
const program = compileGraph(st.graph, gpu.limits, { ...opts, updates: st.updates });
const ex = await Executor.create(gpu, program);
for (const [name, v] of initParams(el.params, 1)) ex.write(name, v);
for (const i of el.inputs) {
  const n = i.shape.reduce((a, b) => a * b, 1);
  ex.write(
    i.name,
    Array.from({ length: n }, (_, k) => (i.dtype === "i32" ? 3 + ((k * 7) % 26) : Math.sin(k) * 0.5)),
  );
}
const times: number[] = [];
for (let t = 1; t <= 11; t++) {
  for (const [name, v] of Object.entries(stepScalars(DEFAULT_ADAMW, t, 1e-3))) ex.write(name, [v]);
  const t0 = performance.now();
  await ex.run(["step.loss"]);
  times.push(performance.now() - t0);
}
const first = times.shift()!;
times.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    dispatches: program.dispatches.length,
    kernels: program.kernels.length,
    firstMs: Math.round(first),
    medianMs: Math.round(times[5] * 10) / 10,
  }),
);
process.exit(0);
