// mira train --types: training batches drawn only from the named question types; names checked.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { avDataSource, questionsOf, trainingPool } from "../../api/av.js";
import { train } from "../../api/train.js";
import { synthesize } from "../../runtime/data/av-build.js";
import { loadAvDataset } from "../../runtime/data/av-format.js";
import { TINY } from "../../runtime/data/synth-av.js";

const dir = mkdtempSync(join(tmpdir(), "mira-pool-"));
synthesize({ out: join(dir, "data"), clips: 20, seed: 3, config: TINY });
const ds = loadAvDataset(join(dir, "data"));
const typeOf = (q: number): string => ds.index.questionTypes[ds.tensors.question_type[q]].name;

test("without types the pool is the whole training split; with types, exactly that split's questions of those types", () => {
  const [t0, t1] = questionsOf(ds, "train");
  expect(Array.from(trainingPool(ds))).toEqual(Array.from({ length: t1 - t0 }, (_, i) => t0 + i));
  const pool = trainingPool(ds, ["first_colour", "when_tone"]);
  const want = Array.from({ length: t1 - t0 }, (_, i) => t0 + i).filter((q) => ["first_colour", "when_tone"].includes(typeOf(q)));
  expect(Array.from(pool)).toEqual(want);
  expect(want.length).toBeGreaterThan(0);
});

test("training batches come from the pool", () => {
  const pool = trainingPool(ds, ["nth_colour"]);
  const source = avDataSource(ds, 5, 7, 1, pool);
  const L = ds.index.text.length;
  const wanted = new Set(Array.from(pool, (q) => Array.from(ds.tensors.text.subarray(q * L, (q + 1) * L)).join()));
  for (let step = 1; step <= 4; step++) {
    const text = source.train(step).text as Int32Array;
    for (let r = 0; r < 5; r++) expect(wanted.has(Array.from(text.subarray(r * L, (r + 1) * L)).join())).toBe(true);
  }
});

test("an unknown question type is refused with the set's types named; --types on a text set is refused", async () => {
  expect(() => trainingPool(ds, ["first_color"])).toThrow(/unknown question type 'first_color'; .* has colour_at_tone, tone_after_colour, count_beeps/);
  await expect(train({ model: "models/char_lm.mira", data: "README.md", types: ["first_colour"], steps: 1, runsDir: dir })).rejects.toThrow(/apply to an audio-video QA set; README.md is text/);
});
