// Answering questions about a clip (AvAnswerer, `mira generate --clip`) and the exact-match evaluation
// read the same logits row: the answerer's first token is the evaluation's prediction, question by
// question; its answers through the derived decoder equal those of the whole model recomputed per
// token; and the evaluation indexes logits by the model's vocabulary, which may exceed the data's.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { AvAnswerer } from "../../../apps/mirasol/ask.js";
import { evaluateAv } from "../../../apps/mirasol/av.js";
import { evaluate } from "../../../apps/mirasol/eval.js";
import { InputError } from "../../../api/model.js";
import { train } from "../../../apps/mirasol/train-av.js";
import { loadAvDataset } from "../../../datasets/av-format.js";
import { synthesize } from "../../../datasets/av-build.js";
import { TINY } from "../../../datasets/synth-av.js";

const dir = mkdtempSync(join(tmpdir(), "mira-ask-"));
const data = join(dir, "data");
synthesize({ out: data, clips: 40, seed: 9, config: TINY });

test("evaluation reads logits rows of the model's vocabulary, wider than the data's", async () => {
  const ds = loadAvDataset(data);
  const L = ds.index.text.length;
  const V = 64; // tiny Mirasol's vocab; the data has 29 words
  expect(ds.index.text.vocab.length).toBeLessThan(V);
  const batch = 3;
  let calls = 0;
  const acc = await evaluateAv(ds, "val", batch, async (b) => {
    const logits = new Float64Array(batch * L * V);
    const text = b.text as Int32Array;
    for (let r = 0; r < batch; r++) {
      // a perfect model: at every position, the next token of the row (the answer at p − 1)
      for (let i = 0; i + 1 < L; i++) logits[(r * L + i) * V + text[r * L + i + 1]] = 1;
    }
    calls++;
    return logits;
  });
  expect(calls).toBeGreaterThan(0);
  for (const a of acc) expect(a.accuracy).toBe(1);
});

test("the answerer's first answer token is the evaluation's prediction, question by question", async () => {
  const r = await train({
    model: "models/mirasol.mira",
    preset: "tiny",
    data,
    steps: 8,
    batch: 4,
    lr: 3e-3,
    runsDir: dir,
    run: "ask",
    logEvery: 4,
    evalEvery: 8,
    checkpointEvery: 8,
    evalBatches: 1,
  });
  const e = await evaluate({ checkpoint: r.checkpoint, split: "val" });
  const answerer = await AvAnswerer.open(r.checkpoint);
  const recomputing = await AvAnswerer.open(r.checkpoint, undefined, { cache: false });
  try {
    const ds = answerer.ds;
    const [c0, c1] = ds.index.splits.val.clips;
    const right = new Map<string, number>();
    const total = new Map<string, number>();
    for (let clip = c0; clip < c1; clip++) {
      expect(answerer.splitOf(clip)).toBe("val");
      for (const q of answerer.questionsOf(clip)) {
        const a = await answerer.answer(clip, q.question);
        // the derived decoder = the whole model per token
        expect(a).toEqual(await recomputing.answer(clip, q.question));
        expect(a.expected).toBe(q.answer);
        expect(a.type).toBe(q.type);
        const first = a.tokens[0];
        total.set(q.type, (total.get(q.type) ?? 0) + 1);
        if (first === ds.tensors.answer[q.id]) right.set(q.type, (right.get(q.type) ?? 0) + 1);
      }
    }
    for (const a of e.accuracy) {
      expect(total.get(a.type)).toBe(a.questions);
      expect((right.get(a.type) ?? 0) / a.questions).toBe(a.accuracy);
    }
    await expect(answerer.answer(c0, "what colour is the purple shape ?")).rejects.toThrow(InputError);
    await expect(answerer.answer(c0, "")).rejects.toThrow(/empty/);
    expect(() => answerer.questionsOf(ds.index.clips)).toThrow(/--clip must be a clip id from 0 to 39/);
  } finally {
    answerer.destroy();
    recomputing.destroy();
  }
}, 600_000);
