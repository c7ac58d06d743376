// budget.ts (experiments): the paragraph every training section opens with — the model, the data, the
// training budget and seeds, and how its accuracies are to be read — from the suite's sizes.
import { readIndex } from "../../datasets/av-format.js";
import { AV_LAYOUT_SET } from "../../apps/mirasol/av-recipe.js";
import type { Suite } from "./suite.js";
import { listWords } from "./summary.js";

export function budget(suite: Suite, who: string, seeds: readonly number[] = suite.sizes.seeds): string {
  const s = suite.sizes;
  const index = readIndex(suite.data().dir);
  const split = (k: "train" | "test") => index.splits[k].clips[1] - index.splits[k].clips[0];
  const questions = Object.entries(index.counts)
    .map(([type, c]) => `${c.test} ${type}`)
    .join(", ");
  const warmup = Math.min(100, Math.floor(s.steps / 10));
  return [
    suite.options.quick
      ? "**A --quick smoke run: sizes far too small for any conclusion; the verdicts below only show that " +
        "the text is computed.**\n"
      : "",
    `Training: \`models/mirasol.mira --preset tiny ${AV_LAYOUT_SET.map((x) => `--set ${x}`).join(" ")}\` ` +
      "(one slot of the clip a chunk, 4 video and 4 audio tokens a chunk, a two-layer decoder: " +
      `docs/models.md, session 6) on one synthetic set (\`mira data synth\`: ${index.video.chunks} chunks ` +
      `× ${index.video.framesPerChunk} frames of ${index.video.height}×${index.video.width},`,
    `${index.clips.toLocaleString("en-US")} clips, data seed ${s.dataSeed}; ` +
      `${split("train").toLocaleString("en-US")} clips train, ${split("test")} test). ${who} trained for ` +
      `${s.steps} steps of ${s.batch} questions at`,
    `lr ${s.lr} (warm-up ${warmup} step${warmup === 1 ? "" : "s"}, cosine decay to 10 %), seed` +
      `${seeds.length > 1 ? "s" : ""} ${listWords(seeds.map(String))} (initialisation and batch order; the ` +
      "data is the same),",
    `through the curriculum \`--types "${s.types}"\` (each stage's question types join the pool at its step).`,
    `Accuracy: exact match on the test split (${questions} questions), mean [min–max] over seeds; **bold**: every seed`,
    `above chance by more than two standard errors (√(c(1 − c)/n) for chance c on n questions); "k/n ` +
      `above": only some seeds.`,
  ].join("\n");
}
