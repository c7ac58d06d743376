// generate.ts (cli): `mira generate --checkpoint CKPT --prompt "…"` over the library's generate().
import { generate } from "../../api/generate.js";
import { type Parsed, flag, int, num, str } from "../args.js";
import { EXIT, UsageError } from "../errors.js";

export const GENERATE_USAGE = 'mira generate --checkpoint CKPT --prompt "…" [--max-tokens N] [--temperature X] [--top-k K] [--top-p P] [--seed N] [--json]';

export async function generateCommand(p: Parsed): Promise<number> {
  const checkpoint = str(p, "checkpoint");
  if (!checkpoint) throw new UsageError(`--checkpoint is required; usage: ${GENERATE_USAGE}`);
  const prompt = str(p, "prompt") ?? "";
  const json = flag(p, "json");
  if (!json) process.stdout.write(prompt);
  const r = await generate({
    checkpoint, prompt, maxTokens: int(p, "max-tokens", 200), temperature: num(p, "temperature", 0.8), topK: int(p, "top-k", 0), topP: num(p, "top-p", 1), seed: int(p, "seed", 1),
    onText: json ? undefined : (s) => process.stdout.write(s),
  });
  process.stdout.write(json ? JSON.stringify({ prompt, ...r }) + "\n" : "\n");
  return EXIT.ok;
}
