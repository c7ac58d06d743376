// generate-video.ts (cli): `mira generate --checkpoint CKPT --video FILE [--audio FILE] --question "…"`
// over apps/mirasol/ask-video.ts: the file imported with the checkpoint's training layout, the question answered.
import { formatAnswer } from "../../apps/mirasol/ask.js";
import { answerAboutVideo } from "../../apps/mirasol/ask-video.js";
import { type Parsed, flag, str } from "../args.js";
import { EXIT, UsageError } from "../errors.js";
import { describeImport, printWarnings } from "./data-import.js";

export const VIDEO_USAGE = 'mira generate --checkpoint CKPT --video FILE [--audio FILE] --question "…" [--json]';

export async function videoAnswerCommand(p: Parsed, checkpoint: string): Promise<number> {
  const video = str(p, "video")!;
  for (const f of ["clip", "data", "prompt"]) {
    if (str(p, f) !== undefined)
      throw new UsageError(`--${f} does not go with --video (the video is the clip); usage: ${VIDEO_USAGE}`);
  }
  const question = str(p, "question");
  if (question === undefined) throw new UsageError(`--question "…" is required with --video; usage: ${VIDEO_USAGE}`);
  const r = await answerAboutVideo({ checkpoint, video, audio: str(p, "audio"), questions: [question] });
  printWarnings(r.imported);
  if (flag(p, "json")) {
    process.stdout.write(
      JSON.stringify({ video, record: r.imported.record, warnings: r.imported.warnings, answers: r.answers }, null, 2) +
        "\n",
    );
  } else {
    process.stdout.write(
      `${video} (${r.imported.record.seconds.toFixed(2)} s: ${describeImport(r.imported.record)}):\n`,
    );
    for (const a of r.answers) process.stdout.write(`  ${formatAnswer(a)}\n`);
  }
  return EXIT.ok;
}
