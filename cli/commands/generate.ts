// generate.ts (cli): `mira generate --checkpoint CKPT --prompt "…"` over the library's generate(), and
// `mira generate --checkpoint CKPT --clip ID [--data DIR] [--question "…"]` over AvAnswerer: without
// --question, every question the data set asks about the clip, each beside the expected answer; with
// --video FILE, a real clip (generate-video.ts).
import { type Answer, AvAnswerer, formatAnswer } from "../../apps/mirasol/ask.js";
import { generate } from "../../api/generate.js";
import { type Parsed, flag, int, num, str } from "../args.js";
import { EXIT, UsageError } from "../errors.js";

export const GENERATE_USAGE =
  'mira generate --checkpoint CKPT --prompt "…" [--max-tokens N] [--temperature X] [--top-k K] [--top-p ' +
  "P] [--seed N] [--stop CHARS] [--no-cache] [--json] | mira generate --checkpoint CKPT --clip ID " +
  '[--data DIR] [--question "…"] [--json] | mira generate --checkpoint CKPT --video FILE [--audio FILE] ' +
  '--question "…" [--json] | mira generate --checkpoint CKPT --stream (--clip ID [--data DIR] | --video ' +
  'FILE [--audio FILE]) --question "…" [--max-chunks N] [--json]';

export async function generateCommand(p: Parsed): Promise<number> {
  const checkpoint = str(p, "checkpoint");
  if (!checkpoint) throw new UsageError(`--checkpoint is required; usage: ${GENERATE_USAGE}`);
  if (flag(p, "stream")) return (await import("./generate-stream.js")).streamCommand(p, checkpoint);
  if (str(p, "video") !== undefined) return (await import("./generate-video.js")).videoAnswerCommand(p, checkpoint);
  if (str(p, "clip") !== undefined || str(p, "question") !== undefined || str(p, "data") !== undefined)
    return answerCommand(p, checkpoint);
  const prompt = str(p, "prompt") ?? "";
  const json = flag(p, "json");
  // The prompt is echoed with the first generated text, once the checkpoint, the model and the device
  // have all been checked: a broken input prints nothing on stdout, only its one error line.
  let echoed = json;
  const echo = (): void => {
    if (!echoed) process.stdout.write(prompt);
    echoed = true;
  };
  const r = await generate({
    checkpoint,
    prompt,
    maxTokens: int(p, "max-tokens", 200),
    temperature: num(p, "temperature", 0),
    topK: int(p, "top-k", 0),
    topP: num(p, "top-p", 1),
    seed: int(p, "seed", 1),
    stop: str(p, "stop"),
    cache: !flag(p, "no-cache"),
    onText: json
      ? undefined
      : (s) => {
          echo();
          process.stdout.write(s);
        },
  });
  echo();
  process.stdout.write(json ? JSON.stringify({ prompt, ...r }) + "\n" : "\n");
  return EXIT.ok;
}

async function answerCommand(p: Parsed, checkpoint: string): Promise<number> {
  if (str(p, "prompt") !== undefined)
    throw new UsageError(
      `--prompt is for text models; ask about a clip with --clip ID --question "…"; usage: ${GENERATE_USAGE}`,
    );
  if (str(p, "clip") === undefined)
    throw new UsageError(`--clip ID is required with --data or --question; usage: ${GENERATE_USAGE}`);
  const clip = int(p, "clip", 0);
  const answerer = await AvAnswerer.open(checkpoint, str(p, "data"));
  try {
    const question = str(p, "question");
    const questions = question !== undefined ? [question] : answerer.questionsOf(clip).map((q) => q.question);
    const split = answerer.splitOf(clip);
    const answers: Answer[] = [];
    for (const q of questions) answers.push(await answerer.answer(clip, q));
    if (flag(p, "json")) {
      process.stdout.write(JSON.stringify({ clip, split, answers }, null, 2) + "\n");
    } else {
      process.stdout.write(`clip ${clip} (${split} split of ${answerer.ds.dir}):\n`);
      for (const a of answers) process.stdout.write(`  ${formatAnswer(a)}\n`);
    }
    return EXIT.ok;
  } finally {
    answerer.destroy();
  }
}
