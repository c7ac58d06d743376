// generate.test.ts: text generation through the derived decoder (the default; tokens drawn on the GPU)
// against full recomputation (cache: false; drawn on the host by the same rule) from one checkpoint: the
// same text while the sequence fits the window, greedy and sampled; past the window the cached path
// starts again from the last half of it; greedy is the default; seeds repeat and differ; stop
// characters end the text; bad settings are refused; prompts of different lengths in one batch give
// each the text it gets alone.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { generate } from "../../api/generate.js";
import { generateBatch } from "../../api/generate-batch.js";
import { InputError } from "../../api/model.js";
import { trainText } from "../../api/train.js";

const dir = mkdtempSync(join(tmpdir(), "mira-generate-"));
const data = join(dir, "text.txt");
writeFileSync(data, "the cat sat on the mat. a dog ran in the park. ".repeat(40));
let checkpoint = "";

beforeAll(async () => {
  const r = await trainText({
    model: "models/char_lm.mira",
    data,
    preset: "tiny",
    batch: 4,
    window: 16,
    runsDir: dir,
    steps: 30,
    run: "g",
    seed: 4,
    logEvery: 10,
    evalEvery: 30,
    checkpointEvery: 30,
  });
  checkpoint = r.checkpoint;
}, 600_000);

describe("generation", () => {
  // "the " and 11 more tokens fill the 15 positions a 16-token window predicts from.
  test.each([0, 0.8])(
    "cached and recomputed generation agree within the window (temperature %s)",
    async (temperature) => {
      const o = { checkpoint, prompt: "the ", maxTokens: 12, temperature, topK: 10, seed: 5 };
      const cached = await generate(o);
      const recomputed = await generate({ ...o, cache: false });
      expect(cached).toEqual(recomputed);
      expect(cached.tokens + (cached.stoppedBy === "stop-token" ? 1 : 0)).toBeGreaterThan(0);
    },
    600_000,
  );

  test("past the window the cached path keeps generating, reproducibly", async () => {
    const o = { checkpoint, prompt: "a dog ", maxTokens: 40, temperature: 0.8, seed: 9 };
    const a = await generate(o);
    expect(a.stoppedBy === "stop-token" || a.tokens === 40).toBe(true);
    expect(await generate(o)).toEqual(a);
  }, 600_000);

  test("greedy is the default; seeded sampling repeats and other seeds differ; " +
    "stop characters end the text", async () => {
    const greedy = await generate({ checkpoint, prompt: "the ", maxTokens: 10 });
    expect(await generate({ checkpoint, prompt: "the ", maxTokens: 10, temperature: 0, seed: 99 })).toEqual(greedy);
    const o = { checkpoint, prompt: "a ", maxTokens: 14, temperature: 1.5 };
    const runs: string[] = [];
    for (const seed of [1, 1, 2, 3]) runs.push((await generate({ ...o, seed })).text);
    expect(runs[1]).toBe(runs[0]);
    expect(new Set(runs).size).toBeGreaterThan(1);
    const full = await generate({ ...o, seed: 1, maxTokens: 14 });
    const cut = await generate({ ...o, seed: 1, stop: " " });
    expect(cut.text).toBe(full.text.split(" ")[0]);
    if (full.text.includes(" ")) expect(cut.stoppedBy).toBe("stop-token");
  }, 600_000);

  test("bad sampling settings are refused before any work", async () => {
    await expect(generate({ checkpoint, prompt: "a", temperature: -1 })).rejects.toThrow(InputError);
    await expect(generate({ checkpoint, prompt: "a", topP: 0 })).rejects.toThrow(/top-p must be in \(0, 1\]/);
    await expect(generate({ checkpoint, prompt: "a", topK: 1.5 })).rejects.toThrow(/top-k/);
  });

  test("a batch of prompts of different lengths gives each the text it gets alone (greedy)", async () => {
    const prompts = ["the ", "a dog ", "t"];
    const rows = await generateBatch({ checkpoint, prompts, maxTokens: 8, stop: "." });
    for (const [i, prompt] of prompts.entries()) {
      const alone = await generate({ checkpoint, prompt, maxTokens: 8, stop: "." });
      expect(rows[i].text, prompt).toBe(alone.text);
      expect(rows[i].stoppedBy).toBe(alone.stoppedBy);
    }
  }, 600_000);
});
