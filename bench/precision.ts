// precision.ts (bench): char_lm trained in f32 and in mixed precision (`--set precision=f16`: f16 values,
// f32 master weights, a dynamic loss scale), the same steps from the same initial weights on the same
// batches: the loss every 25 steps, the median step time over the last steps (the two trainers alternate
// step by step, so load from other work falls on both alike), dispatches and buffer bytes per step.
// Written to docs/PERFORMANCE.md ("precision"); `npm run bench` runs it, or `npx tsx bench/precision.ts`.
import { loadavg } from "node:os";
import { loadModel } from "../api/model.js";
import { initParams } from "../compiler/lower.js";
import { trainableModel } from "../compiler/train-model.js";
import { DEFAULT_ADAMW } from "../compiler/train-step.js";
import { type Gpu, adapterName, getGpu } from "../runtime/device.js";
import { Trainer } from "../runtime/trainer.js";
import { writeSection } from "./report.js";

const STEPS = 150;
const EVERY = 25;
const BATCH = { B: 16, T: 64 };
const LR = 3e-3;

interface Run {
  readonly label: string;
  readonly trainer: Trainer;
  readonly losses: number[];
  readonly ms: number[];
  skipped: number;
}

async function runFor(gpu: Gpu, label: string, set: string[]): Promise<Run> {
  const el = loadModel("models/char_lm.mira", { set }).elaborate(BATCH);
  const trainer = await Trainer.create(gpu, trainableModel(el, el.objective!), DEFAULT_ADAMW);
  trainer.initialize(
    initParams(
      el.params.map((p) => ({ ...p, dtype: "f32" as const })),
      1,
    ),
  );
  return { label, trainer, losses: [], ms: [], skipped: 0 };
}

/** Batches of the bundled prose, the same for both runs. */
async function corpus(): Promise<number[]> {
  const { readFileSync, readdirSync } = await import("node:fs");
  const { join } = await import("node:path");
  const dir = join(import.meta.dirname, "..", "data", "prose");
  const text = readdirSync(dir)
    .filter((f) => f.endsWith(".txt"))
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("\n");
  return Array.from(text, (c) => Math.min(95, Math.max(0, c.charCodeAt(0) - 31)));
}

export async function benchPrecision(gpu: Gpu): Promise<string> {
  const ids = await corpus();
  const runs = [await runFor(gpu, "f32", []), await runFor(gpu, "f16 (mixed)", ["precision=f16"])];
  const size = BATCH.B * BATCH.T;
  for (let step = 1; step <= STEPS; step++) {
    const at = (step * 9973) % (ids.length - size);
    const tokens = ids.slice(at, at + size);
    for (const r of runs) {
      const read = step % EVERY === 0;
      const t0 = performance.now();
      const out = await r.trainer.train(step, { tokens }, LR, read);
      await gpu.device.queue.onSubmittedWorkDone(); // a step not read back has only been submitted
      if (step > STEPS / 2) r.ms.push(performance.now() - t0);
      if (out) r.losses.push(out.loss);
      if (out?.skipped) r.skipped++;
    }
  }
  const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const lines = runs.map((r) => {
    const kib = (r.trainer.bufferBytes / 1024).toFixed(0);
    const losses = r.losses.map((l) => l.toFixed(3)).join(" · ");
    return `| ${r.label} | ${losses} | ${median(r.ms).toFixed(1)} | ${r.trainer.dispatchesPerStep} | ${kib} |`;
  });
  for (const r of runs) r.trainer.destroy();
  const [full, half] = runs;
  const gap = Math.max(...full.losses.map((l, k) => Math.abs(l - half.losses[k]) / l));
  const date = new Date().toISOString().slice(0, 10);
  const md = `## Mixed precision (${date}, adapter ${adapterName(gpu.adapter)}, \`npx tsx bench/precision.ts\`)

char_lm (default preset) at B=${BATCH.B}, T=${BATCH.T}, lr ${LR}, ${STEPS} steps from the same initial weights
on the same batches of data/prose, in f32 and with \`--set precision=f16\` (f16 values, f32 master weights,
dynamic loss scale). Loss every ${EVERY} steps; step time the median over the last ${STEPS / 2} steps, the two
trainers alternating step by step. Load average (1 min) at the end: ${loadavg()[0].toFixed(1)}.

| precision | loss at steps ${EVERY}, ${2 * EVERY}, … ${STEPS} | ms per step | dispatches | buffers (KiB) |
|---|---|---|---|---|
${lines.join("\n")}

Largest relative loss gap: ${(gap * 100).toFixed(2)} %. Steps the loss scale skipped (an f16 overflow), among
those read: ${half.skipped}.`;
  console.log(md);
  return md;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeSection("precision", await benchPrecision(await getGpu()));
  process.exit(0);
}
