// train.ts (cli): `mira train FILE --data PATH …` over train() (apps/mirasol/train-av.ts: text or audio-video QA).
import { formatBytes } from "../../compiler/limits.js";
import { type AvTrainResult, train } from "../../apps/mirasol/train-av.js";
import { type TypeStage, parseTypeStages } from "../../apps/mirasol/av.js";
import { getGpu } from "../../runtime/device.js";
import { type Parsed, flag, int, num, onePositional, str, strs } from "../args.js";
import { EXIT, UsageError } from "../errors.js";
import { stopOnInterrupt } from "../interrupt.js";
import { ProgressBar, formatDuration } from "../../base/progress.js";

export const TRAIN_USAGE =
  "mira train FILE --data PATH [--preset NAME] [--set key=value]… [--steps N] [--batch N] [--window N] " +
  "[--lr X] [--seed N] [--types T1,T2[@STEP];…] [--run NAME] [--runs-dir DIR] [--resume] [--json]";

/** --types as curriculum stages; bad syntax (an empty list, a step that is not after the last) is a usage error. */
function typeStages(spec: string | undefined): TypeStage[] | undefined {
  if (spec === undefined) return undefined;
  try {
    return parseTypeStages(spec);
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; usage: ${TRAIN_USAGE}`);
  }
}

/** A flag's value, or undefined when absent (so a resumed run keeps what its checkpoint stored). */
const optional = (
  p: Parsed,
  name: string,
  read: (p: Parsed, name: string, fallback: number) => number,
): number | undefined => (str(p, name) === undefined ? undefined : read(p, name, 0));

/** Test hook (docs/testing.md): MIRA_LOSE_DEVICE_AFTER_STEP=N destroys the GPU device once step N is done, as a
 *  driver reset or a removed GPU would lose it, so a test can watch the real CLI survive it. Unset, nothing. */
async function deviceLossHook(): Promise<((step: number) => void) | undefined> {
  const after = Number(process.env.MIRA_LOSE_DEVICE_AFTER_STEP);
  if (!Number.isInteger(after) || after <= 0) return undefined;
  const gpu = await getGpu();
  return (step) => {
    if (step === after) gpu.device.destroy();
  };
}

export async function trainCommand(p: Parsed): Promise<number> {
  const file = onePositional(p, "model file", TRAIN_USAGE);
  const data = str(p, "data");
  if (!data)
    throw new UsageError(
      `--data PATH is required (a text file or directory, or a 'mira data synth' set); usage: ${TRAIN_USAGE}`,
    );
  const json = flag(p, "json");
  const loseDevice = await deviceLossHook();
  const stopRequested = stopOnInterrupt("stopping after this step and saving a checkpoint");
  let bar: ProgressBar | undefined;
  let unit = "tok";
  const say = (s: string): void => {
    if (!json) process.stdout.write(s + "\n");
  };
  const r = await train({
    model: file,
    data,
    preset: str(p, "preset"),
    set: strs(p, "set"),
    steps: optional(p, "steps", int),
    batch: optional(p, "batch", int),
    window: optional(p, "window", int),
    lr: optional(p, "lr", num),
    seed: optional(p, "seed", int),
    types: typeStages(str(p, "types")),
    run: str(p, "run") ?? "default",
    runsDir: str(p, "runs-dir"),
    resume: flag(p, "resume"),
    evalEvery: int(p, "eval-every", 100),
    logEvery: int(p, "log-every", 10),
    checkpointEvery: int(p, "checkpoint-every", 100),
    onStart: (i) => {
      if (i.freshResume) (json ? process.stderr : process.stdout).write(i.freshResume + "\n");
      const chars = i.trainChars
        ? `, ${i.trainChars.toLocaleString("en-US")} training / ${i.valChars.toLocaleString("en-US")} ` +
          "validation characters"
        : "";
      say(`training ${file}: ${i.params.toLocaleString("en-US")} parameters, vocabulary ${i.vocab}${chars}`);
      say(
        `  one submit per step: ${i.dispatchesPerStep} dispatches, ${formatBytes(i.bufferBytes)} of ` +
          `buffers · run directory ${i.runDir}${i.startStep ? ` · resuming after step ${i.startStep}` : ""}`,
      );
      unit = i.trainChars ? "tok" : "questions";
      if (!json) bar = new ProgressBar(i.steps);
    },
    onProgress: (pr) => {
      bar?.update(
        pr.step,
        `loss ${pr.loss?.toFixed(3) ?? "…"}` +
          `${pr.valLoss !== undefined ? ` · val ${pr.valLoss.toFixed(3)}` : ""} · ` +
          `${Number.isFinite(pr.tokensPerSecond) ? Math.round(pr.tokensPerSecond).toLocaleString("en-US") : "…"}` +
          ` ${unit}/s · ETA ${formatDuration(pr.etaSeconds)}`,
      );
      loseDevice?.(pr.step);
    },
    shouldStop: stopRequested,
  });
  bar?.done();
  if (json) {
    process.stdout.write(JSON.stringify(r, null, 2) + "\n");
  } else {
    const b = r.baselines;
    say(
      `${r.stoppedBy === "done" ? "finished" : r.stoppedBy === "interrupted" ? "stopped" : "STOPPED"} at ` +
        `step ${r.lastStep}; checkpoint ${r.checkpoint} (step ${r.checkpointStep})`,
    );
    if ("accuracy" in r) {
      say(
        `validation loss ${r.valLoss?.toFixed(3) ?? "-"}` +
          `${r.initialValLoss !== undefined ? ` (from ${r.initialValLoss.toFixed(3)})` : ""}; validation ` +
          "accuracy per question type:",
      );
      for (const a of (r as AvTrainResult).accuracy)
        say(
          `  ${a.type.padEnd(18)} ${a.needs.join("+").padEnd(12)} ` +
            `${(100 * a.accuracy).toFixed(1).padStart(5)}%  (chance ${(100 * a.chance).toFixed(1)}%, ` +
            `${a.questions} questions)`,
        );
    } else {
      say(
        `validation loss (nats/char): model ${r.valLoss?.toFixed(3) ?? "-"}` +
          `${r.initialValLoss !== undefined ? ` (from ${r.initialValLoss.toFixed(3)})` : ""} · ` +
          `interpolated trigram ${b.trigram.toFixed(3)} · unigram entropy ${b.unigramEntropy.toFixed(3)} · ` +
          `ln(vocab) ${b.lnVocab.toFixed(3)}`,
      );
    }
    say(
      `speed: ${r.stepMs.toFixed(1)} ms/step · ${Math.round(r.tokensPerSecond).toLocaleString("en-US")} ` +
        `${unit === "tok" ? "tokens" : unit}/s · ${r.dispatchesPerStep} dispatches/step · ` +
        `${formatBytes(r.bufferBytes)} buffers`,
    );
  }
  if (r.stoppedBy === "diverged") {
    process.stderr.write(`mira: ${r.message}\n`);
    return EXIT.failed;
  }
  return r.stoppedBy === "interrupted" ? stopRequested.exitCode() : EXIT.ok;
}
