// text-model.ts (api): what a text model must declare for training and generation — an integer token
// input, a scalar objective, and (for generation) the logits its `generate` declaration names.
import type { Elaborated } from "../compiler/lower.js";
import { ModelError } from "./model.js";

export interface LanguageModelIO {
  readonly tokens: string;
  readonly loss: string;
  readonly logits?: string;
}

export function languageModelIO(el: Elaborated): LanguageModelIO {
  const tokens = el.generate?.input ?? el.inputs.find((i) => i.dtype === "i32")?.name;
  if (!tokens) throw new ModelError("a text model needs an i32 token input (e.g. `input tokens: i32[B, T]`)");
  if (el.inputs.length !== 1)
    throw new ModelError(
      `a text model takes exactly one input (its tokens); this one has ${el.inputs.map((i) => i.name).join(", ")}`,
    );
  const loss = el.objective ?? el.losses[0];
  if (!loss) throw new ModelError("the model declares no loss or objective to train");
  return { tokens, loss, logits: el.generate?.from };
}
