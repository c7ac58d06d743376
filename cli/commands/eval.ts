// eval.ts (cli): `mira eval --checkpoint CKPT [--data DIR] [--split val|test] [--ablate audio|video]
// [--set chunks=N]…` (sizes that keep the parameters' shapes, e.g. longer clips than trained on).
import { evaluate } from "../../apps/mirasol/eval.js";
import { type Parsed, flag, int, str, strs } from "../args.js";
import { EXIT, UsageError } from "../errors.js";

export const EVAL_USAGE =
  "mira eval --checkpoint CKPT [--data DIR] [--split train|val|test] [--ablate audio|video] [--set " +
  "key=value]… [--batch N] [--json]";

export async function evalCommand(p: Parsed): Promise<number> {
  const checkpoint = str(p, "checkpoint");
  if (!checkpoint) throw new UsageError(`--checkpoint is required; usage: ${EVAL_USAGE}`);
  const split = str(p, "split") ?? "test";
  if (split !== "train" && split !== "val" && split !== "test")
    throw new UsageError(`--split takes train, val or test; got '${split}'`);
  const ablate = str(p, "ablate");
  if (ablate !== undefined && ablate !== "audio" && ablate !== "video")
    throw new UsageError(`--ablate takes audio or video; got '${ablate}'`);
  const set = strs(p, "set");
  const r = await evaluate({
    checkpoint,
    data: str(p, "data"),
    split,
    ablate,
    set,
    batch: str(p, "batch") ? int(p, "batch", 16) : undefined,
  });
  if (flag(p, "json")) {
    process.stdout.write(JSON.stringify(r, null, 2) + "\n");
    return EXIT.ok;
  }
  process.stdout.write(
    `exact-match accuracy on the ${r.split} split${ablate ? ` with the ${ablate} zeroed` : ""}` +
      `${set.length ? ` (model at ${set.join(", ")})` : ""}:\n`,
  );
  for (const a of r.accuracy) {
    process.stdout.write(
      `  ${a.type.padEnd(18)} ${a.needs.join("+").padEnd(12)} ` +
        `${(100 * a.accuracy).toFixed(1).padStart(5)}%  (chance ${(100 * a.chance).toFixed(1)}%, ` +
        `${a.questions} questions)\n`,
    );
  }
  return EXIT.ok;
}
