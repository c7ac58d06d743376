// demo.ts: what `npm start` runs — the flagship end to end on the adapter: the device and its
// self-test, a small synthetic audio-video QA set, tiny Mirasol trained on it with a progress bar (the
// layout and curriculum of apps/mirasol/av-recipe.ts, shortened to the demo's steps), validation accuracy per
// question type beside chance, and three held-out questions answered.
// Ctrl-C stops after the current step and keeps the checkpoint (exit 130). `--figures FILE` also writes
// what the run measured as JSON (apps/mirasol/demo-figures.ts), for `npm run demo:figures`.
import { formatBytes } from "../../compiler/limits.js";
import { AvAnswerer, formatAnswer } from "../../apps/mirasol/ask.js";
import { parseTypeStages } from "../../apps/mirasol/av.js";
import { AV_LAYOUT, AV_LAYOUT_SET, avCurriculum } from "../../apps/mirasol/av-recipe.js";
import { type AvTrainResult, train } from "../../apps/mirasol/train-av.js";
import { synthesize } from "../../datasets/av-build.js";
import { TINY } from "../../datasets/synth-av.js";
import { writeFileAtomic } from "../../runtime/checkpoint.js";
import { adapterName, getGpu } from "../../runtime/device.js";
import type { DemoFigures } from "../../apps/mirasol/demo-figures.js";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { type Parsed, int, str } from "../args.js";
import { EXIT } from "../errors.js";
import { stopOnInterrupt } from "../interrupt.js";
import { ProgressBar, formatDuration } from "../../base/progress.js";
import { runSelfTest } from "../selftest.js";

export const DEMO_USAGE = "mira demo [--steps N] [--clips N] [--runs DIR] [--figures FILE]";
const MODEL = "models/mirasol.mira";
const PRESET = "tiny";
const BATCH = 64;
const LR = 3e-3;
const SEED = 1;
const DATA_SEED = 0;

/** The recipe's curriculum scaled to `steps` (100 and 400 of 2,000 there; earlier here, so that a short
 *  demo reaches the questions that find a chunk and then every type). */
export function demoCurriculum(steps: number): string {
  const find = Math.max(1, Math.round(steps / 5));
  return avCurriculum(find, Math.max(find + 1, Math.round((3 * steps) / 5)));
}

export async function demo(p: Parsed): Promise<number> {
  const say = (s: string): void => void process.stdout.write(s + "\n");
  const steps = int(p, "steps", 500);
  const clips = int(p, "clips", 4000);
  const runsDir = str(p, "runs") ?? "runs";
  const figures = str(p, "figures");
  const started = Date.now();

  const gpu = await getGpu();
  const checks = await runSelfTest(gpu);
  say(`mira demo — tiny Mirasol (audio + video + text) trained and questioned on this machine's GPU adapter`);
  say(
    `  adapter ${adapterName(gpu.adapter)}` +
      `${gpu.limits.adapterKind === "cpu" ? " (software, on the CPU)" : ""} · kernel self-test ` +
      `${checks.every((c) => c.ok) ? "ok" : "FAILED"}`,
  );
  if (!checks.every((c) => c.ok)) return EXIT.failed;

  const data = join(runsDir, "demo-data");
  const made = synthesize({ out: data, clips, seed: DATA_SEED, config: { ...TINY, ...AV_LAYOUT } });
  say(
    `  data     ${clips.toLocaleString("en-US")} synthetic clips (moving coloured shapes; tones and ` +
      `beeps as log-mel), ${made.index.questions.toLocaleString("en-US")} questions → ${data}`,
  );

  const stop = stopOnInterrupt("stopping after this step and saving the checkpoint");
  let bar: ProgressBar | undefined;
  const types = demoCurriculum(steps);
  const r = (await train({
    model: MODEL,
    preset: PRESET,
    set: AV_LAYOUT_SET,
    data,
    steps,
    batch: BATCH,
    lr: LR,
    seed: SEED,
    runsDir,
    run: "demo",
    evalEvery: 100,
    checkpointEvery: 100,
    types: parseTypeStages(types),
    onStart: (i) => {
      say(
        `  model    ${MODEL} --preset ${PRESET} ${AV_LAYOUT_SET.map((x) => `--set ${x}`).join(" ")}: ` +
          `${i.params.toLocaleString("en-US")} parameters; one training step = ` +
          `${i.dispatchesPerStep.toLocaleString("en-US")} kernels in one submit, ` +
          `${formatBytes(i.bufferBytes)}`,
      );
      say(
        `  training ${steps} steps of ${BATCH} questions, question types in stages (--types "${types}"); ` +
          "Ctrl-C stops and keeps the checkpoint:",
      );
      bar = new ProgressBar(i.steps);
    },
    onProgress: (pr) =>
      bar?.update(
        pr.step,
        `loss ${pr.loss?.toFixed(3) ?? "…"}` +
          `${pr.valLoss !== undefined ? ` · val ${pr.valLoss.toFixed(3)}` : ""} · ` +
          `${Number.isFinite(pr.tokensPerSecond) ? pr.tokensPerSecond.toFixed(0) : "…"} questions/s · ETA ` +
          `${formatDuration(pr.etaSeconds)}`,
      ),
    shouldStop: stop,
  })) as AvTrainResult;
  bar?.done();
  if (r.stoppedBy !== "done") {
    say(
      `${r.stoppedBy === "interrupted" ? "stopped" : "STOPPED"} at step ${r.lastStep}; the checkpoint ` +
        `${r.checkpoint} holds step ${r.checkpointStep}.`,
    );
    say(
      `  continue: npx mira train ${MODEL} --data ${data} --run demo` +
        `${runsDir === "runs" ? "" : ` --runs-dir ${runsDir}`} --resume`,
    );
    if (r.stoppedBy === "diverged") process.stderr.write(`mira: ${r.message}\n`);
    return r.stoppedBy === "interrupted" ? stop.exitCode() : EXIT.failed;
  }
  say(
    `  trained in ${formatDuration((r.lastStep * r.stepMs) / 1000)} (${r.stepMs.toFixed(0)} ms a step); ` +
      `checkpoint ${r.checkpoint}`,
  );
  say("");
  say("validation accuracy (exact match), each beside chance = always the most frequent training answer:");
  for (const a of r.accuracy)
    say(
      `  ${a.type.padEnd(18)} needs ${a.needs.join("+").padEnd(12)} ` +
        `${(100 * a.accuracy).toFixed(1).padStart(5)}%   chance ${(100 * a.chance).toFixed(1)}%`,
    );

  say("");
  say("three held-out questions (test clips, never trained on):");
  const answerer = await AvAnswerer.open(r.checkpoint, data);
  try {
    const [c0] = answerer.ds.index.splits.test.clips;
    for (let k = 0; k < 3; k++) {
      const qs = answerer.questionsOf(c0 + k);
      const q = qs[(2 * k) % qs.length]; // a different kind of question from each clip
      say(`  clip ${c0 + k}: ${formatAnswer(await answerer.answer(c0 + k, q.question))}`);
    }
  } finally {
    answerer.destroy();
  }
  say("");
  const wallSeconds = (Date.now() - started) / 1000;
  if (figures) {
    const measured: DemoFigures = {
      date: new Date().toISOString().slice(0, 10),
      adapter: adapterName(gpu.adapter),
      software: gpu.limits.adapterKind === "cpu",
      cores: cpus().length,
      load: loadavg(),
      model: MODEL,
      preset: PRESET,
      set: AV_LAYOUT_SET,
      params: r.params,
      clips,
      dataSeed: DATA_SEED,
      questions: made.index.questions,
      steps,
      batch: BATCH,
      lr: LR,
      seed: SEED,
      types,
      stepMs: r.stepMs,
      trainSeconds: (r.lastStep * r.stepMs) / 1000,
      wallSeconds,
      accuracy: r.accuracy,
    };
    writeFileAtomic(figures, new TextEncoder().encode(`${JSON.stringify(measured, null, 1)}\n`));
  }
  say(
    `done in ${formatDuration(wallSeconds)}. Next: npx mira generate --checkpoint ` +
      `${r.checkpoint} --clip ${answerer.ds.index.splits.test.clips[0]} --question "how many beeps ?"`,
  );
  say(
    `  npx mira eval --checkpoint ${r.checkpoint} [--ablate audio|video] · npx mira compile ${MODEL} ` +
      "--preset tiny --emit report · docs/models.md",
  );
  return EXIT.ok;
}
