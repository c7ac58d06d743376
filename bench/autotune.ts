// autotune.ts (bench): what autotuning buys on this adapter — matmul GFLOP/s of the default configuration
// against the tuned best for skinny shapes (char_lm's weight gradients: K = B·T = 1024 over a small C)
// and 1024³, each searched by runtime/autotune.ts exactly as `mira bench --autotune` does (every
// candidate checked against the default's result; final figures from the re-measured final round);
// optionally (--step) a char_lm training step compiled without and with the tuned table. Nothing is
// written to .mira-cache: the tables here live in memory.
import { cpus, loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import {
  type MatmulSignature,
  configLabel,
  defaultConfig,
  emptyTable,
  parseSignatureKey,
} from "../compiler/autotune.js";
import { initParams } from "../compiler/lower.js";
import { compileGraph } from "../compiler/program.js";
import { DEFAULT_ADAMW, buildTrainStep, stepScalars } from "../compiler/train-step.js";
import { autotune, programSignatures, tableWith, tuneSignature } from "../runtime/autotune.js";
import { type Gpu, adapterName } from "../runtime/device.js";
import { Executor } from "../runtime/executor.js";
import { decaysByDefault } from "../compiler/train-model.js";
import { Table, time } from "./harness.js";
import { writeSection } from "./report.js";

export interface TuneCase {
  readonly label: string;
  readonly sig: MatmulSignature;
}

const sig = (m: number, n: number, k: number, transA = false): MatmulSignature => ({
  dtype: "f32",
  transA,
  transB: false,
  batch: 1,
  m,
  n,
  k,
  epilogue: false,
});

export const TUNE_CASES: readonly TuneCase[] = [
  { label: "32×96×1024 Aᵀ·B (char_lm tiny: head weight gradient)", sig: sig(32, 96, 1024, true) },
  { label: "128×32×1024 Aᵀ·B (char_lm tiny: MLP weight gradient)", sig: sig(128, 32, 1024, true) },
  { label: "64×64×1024 Aᵀ·B (char_lm default: attention weight gradient)", sig: sig(64, 64, 1024, true) },
  { label: "1024×1024×1024", sig: sig(1024, 1024, 1024) },
];

export async function benchAutotune(gpu: Gpu, cases = TUNE_CASES): Promise<Table> {
  const table = new Table("matmul (f32): default configuration against the autotuned best", [
    "shape",
    "default",
    "ms",
    "GFLOP/s",
    "autotuned",
    "ms",
    "GFLOP/s",
    "speedup",
    "candidates",
  ]);
  for (const c of cases) {
    const r = await tuneSignature(gpu, c.sig);
    const flops = 2 * c.sig.batch * c.sig.m * c.sig.n * c.sig.k;
    table.add([
      c.label,
      configLabel(r.defaultConfig),
      r.defaultMs,
      flops / r.defaultMs / 1e6,
      configLabel(r.best),
      r.bestMs,
      flops / r.bestMs / 1e6,
      `${(r.defaultMs / r.bestMs).toFixed(2)}×`,
      String(r.candidates.length),
    ]);
  }
  return table;
}

/** A training step compiled with default kernels and with a table tuned for it, timed in alternation
 *  (three rounds, median of their medians) so that load changes hit both alike. */
export async function benchTunedStep(
  gpu: Gpu,
  model: string,
  preset: string | undefined,
  batch: Readonly<Record<string, number>>,
): Promise<Table> {
  const { loadModel } = await import("../api/model.js");
  const el = loadModel(model, { preset }).elaborate(batch);
  const loss = el.objective ?? el.losses[0];
  const shapes = new Map(el.params.map((p) => [p.name, p.shape]));
  const st = buildTrainStep(el.graph, loss, DEFAULT_ADAMW, (n) => decaysByDefault(shapes.get(n) ?? []));
  const plain = compileGraph(st.graph, gpu.limits, { updates: st.updates });
  const keys = programSignatures(plain);
  process.stdout.write(`  tuning ${keys.length} signatures of the step\n`);
  const results = await autotune(gpu, keys, { onProgress: (l) => process.stdout.write(`${l}\n`) });
  const tuned = compileGraph(st.graph, gpu.limits, {
    updates: st.updates,
    tuning: tableWith(gpu, results, emptyTable("bench")),
  });
  const label = `${model}${preset ? ` --preset ${preset}` : ""}, ${Object.entries(batch)
    .map(([k, v]) => `${k}=${v}`)
    .join(",")}`;
  const table = new Table("training step, default kernels against the autotuned table", [
    "model",
    "kernels",
    "dispatches/step",
    "non-default matmuls",
    "median ms/step",
  ]);
  const runners = await Promise.all(
    [plain, tuned].map(async (program) => {
      const ex = await Executor.create(gpu, program);
      for (const [name, v] of initParams(el.params, 1)) ex.write(name, v);
      for (const p of el.params)
        for (const m of ["m", "v"])
          ex.write(`opt.${m}.${p.name}`, new Float32Array(p.shape.reduce((a, b) => a * b, 1)));
      for (const i of el.inputs)
        ex.write(
          i.name,
          Int32Array.from({ length: i.shape.reduce((a, b) => a * b, 1) }, (_, j) => (j * 31) % 90),
        );
      let t = 0;
      return {
        ex,
        program,
        medians: [] as number[],
        step: async () => {
          t++;
          for (const [name, val] of Object.entries(stepScalars(DEFAULT_ADAMW, t, 1e-3))) ex.write(name, [val]);
          await ex.run(["step.loss"]);
        },
      };
    }),
  );
  for (let round = 0; round < 3; round++)
    for (const r of runners) r.medians.push((await time(r.step, { warmup: 2, runs: 5 })).medianMs);
  for (const [i, r] of runners.entries()) {
    const changed = r.program.matmuls.filter(
      (m) =>
        m.tuned && configLabel(m.config) !== configLabel(defaultConfig(gpu.limits, parseSignatureKey(m.signature))),
    ).length;
    table.add([
      label,
      i === 0 ? "default" : "autotuned",
      r.program.dispatches.length,
      `${changed} of ${r.program.matmuls.length}`,
      [...r.medians].sort((a, b) => a - b)[1],
    ]);
    r.ex.destroy();
  }
  return table;
}

/** Writes the tables into docs/PERFORMANCE.md: the matmul table always, the step table when measured
 *  (its own section, so `npm run bench`, which skips the step, leaves an earlier one in place). */
export function writeAutotuneSections(gpu: Gpu, matmul: Table, step?: Table, loadAtStart?: readonly number[]): void {
  const date = new Date().toISOString().slice(0, 10);
  const fmt = (l: readonly number[]): string => l.map((x) => x.toFixed(1)).join(" / ");
  const load =
    `Load average (1/5/15 min) ${loadAtStart ? `${fmt(loadAtStart)} when the run started, ` : ""}` +
    `${fmt(loadavg())} when it ended, on ${cpus().length} cores`;
  const head = (what: string): string =>
    `## ${what} (${date}, adapter: ${adapterName(gpu.adapter)})\n\n${load} — the machine runs other ` +
    "jobs, so these figures are indicative: " +
    "they move by tens of percent between runs, and a different winner between close candidates is noise.\n";
  writeSection(
    "autotune",
    `${head("Matmul autotuning")}
Each shape searched by \`runtime/autotune.ts\` as \`mira bench --autotune\` does: the default (register-tiled 8×8
workgroup of 4×8-output threads), workgroup shapes that do not overshoot the matrix, the shared-memory variant,
then split-K on the two fastest tiles (for a C of at most 16 default tiles; the "autotuned" column says
whether a split won); every candidate's result is checked against the default's; the
figures are from the final round (default and the three fastest measured again, median of 5 runs each).
A winner must beat the default by 3 % to be chosen. Compare a row with the kernels section above only at
similar load: a 1024³ product slows several-fold on a busy machine. \`npx tsx bench/autotune.ts [--step]\` reruns it.

${matmul.markdown()}`,
  );
  if (step)
    writeSection(
      "autotune-step",
      `${head("Training step with an autotuned table")}
The step compiled with default kernels and with a table tuned for its own signatures (in memory), timed in
alternation: three rounds of median-of-5, the median round shown.

${step.markdown()}`,
    );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { getGpu } = await import("../runtime/device.js");
  const gpu = await getGpu();
  const loadAtStart = loadavg();
  process.stdout.write("matmul autotuning\n");
  const matmul = await benchAutotune(gpu);
  let step: Table | undefined;
  if (process.argv.includes("--step")) {
    process.stdout.write("\ntraining step, default against autotuned (char_lm tiny, B=16, T=64)\n");
    step = await benchTunedStep(gpu, "models/char_lm.mira", "tiny", { B: 16, T: 64 });
  }
  writeAutotuneSections(gpu, matmul, step, loadAtStart);
  process.stdout.write("\nwritten to docs/PERFORMANCE.md\n");
  process.exit(0);
}
