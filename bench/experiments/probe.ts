// probe.ts: a diagnostic for training tiny Mirasol — accuracy per question type on the validation split
// every N steps while training on some question types only, or on a curriculum of them (the pool
// `mira train --types` draws from).
// Which types a run learns, and when, is what docs/models.md's session-5 runs were read from.
//   npx tsx bench/experiments/probe.ts --data DIR [--types "first_colour,first_tone; nth_colour@100; all@250" | all]
//     [--steps 600]
//     [--every 100] [--batch 64] [--lr 3e-3] [--seed 1] [--set key=value]…
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import {
  avBatchDims,
  avDataSource,
  evaluateAv,
  logitsRunner,
  parseTypeStages,
  stagedPool,
} from "../../apps/mirasol/av.js";
import { loadModel } from "../../api/model.js";
import { initParams } from "../../compiler/lower/init.js";
import { DEFAULT_ADAMW } from "../../compiler/train-step.js";
import { compileFor } from "../../runtime/autotune-cache.js";
import { loadAvDataset } from "../../datasets/av-format.js";
import { getGpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";
import { lrAt } from "../../runtime/train-loop.js";
import { Trainer } from "../../runtime/trainer.js";

const { values: a } = parseArgs({
  options: {
    data: { type: "string" },
    types: { type: "string", default: "all" },
    steps: { type: "string", default: "600" },
    every: { type: "string", default: "100" },
    batch: { type: "string", default: "64" },
    lr: { type: "string", default: "3e-3" },
    seed: { type: "string", default: "1" },
    set: { type: "string", multiple: true, default: [] },
    model: { type: "string", default: "models/mirasol.mira" },
    preset: { type: "string", default: "tiny" },
  },
});
if (!a.data) throw new Error("--data DIR is required (a `mira data synth` set)");
const [steps, every, batch, lr, seed] = [a.steps, a.every, a.batch, a.lr, a.seed].map(Number);
const ds = loadAvDataset(a.data);
const stages = parseTypeStages(a.types);
const poolAt = stagedPool(ds, stages);
const data = avDataSource(ds, batch, seed, 0, poolAt); // mira train's batches: the same pool, seed and draw
const el = loadModel(a.model, { preset: a.preset, set: a.set }).elaborate(avBatchDims(ds, batch));
const loss = el.objective ?? el.losses[0];
const logits = el.graph.outputs.find((x) => x.name === (el.generate?.from ?? "logits"));
if (!loss || !logits) throw new Error(`${a.model} needs a loss and a logits output`);
const gpu = await getGpu();
const trainer = await Trainer.create(gpu, { forward: el.graph, loss, params: el.params }, DEFAULT_ADAMW);
const evaluator = await Executor.create(
  gpu,
  compileFor(gpu, { nodes: el.graph.nodes, outputs: [logits] }, { arenas: false }),
  {
    share: trainer.step,
  },
);
trainer.initialize(initParams(el.params, seed));
console.log(
  `${el.paramCount} parameters; training on ${poolAt(1).length} questions (--types ${a.types}); ${a.set.join(" ")}`,
);
const schedule = { lr, warmup: Math.min(100, Math.floor(steps / 10)), steps, minLrFraction: 0.1 };
const t0 = performance.now();
let sum = 0;
let n = 0;
for (let s = 1; s <= steps; s++) {
  const pool = poolAt(s);
  if (s > 1 && pool !== poolAt(s - 1)) console.log(`step ${s}: the pool grows to ${pool.length} questions`);
  const b = data.train(s);
  const r = await trainer.train(s, b, lrAt(schedule, s), s % 10 === 0);
  if (r) [sum, n] = [sum + r.loss, n + 1];
  if (s % every !== 0 && s !== steps) continue;
  const acc = await evaluateAv(ds, "val", batch, logitsRunner(evaluator, logits.name));
  const cells = acc.map((x) => `${x.type} ${(100 * x.accuracy).toFixed(1)} (${(100 * x.chance).toFixed(1)})`);
  console.log(
    `step ${s} · ${((performance.now() - t0) / 1000).toFixed(0)} s · loss ` +
      `${(sum / Math.max(1, n)).toFixed(3)} | ${cells.join("  ")}`,
  );
  [sum, n] = [0, 0];
}
evaluator.destroy();
trainer.destroy();
process.exit(0);
