// mira train --types: training batches drawn only from the named question types, or from a curriculum of them;
// names checked.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import {
  avDataSource,
  parseTypeStages,
  questionsOf,
  runStages,
  stagedPool,
  trainingPool,
} from "../../../apps/mirasol/av.js";
import { train } from "../../../apps/mirasol/train-av.js";
import { EXIT } from "../../../cli/errors.js";
import { synthesize } from "../../../datasets/av-build.js";
import { loadAvDataset } from "../../../datasets/av-format.js";
import { TINY } from "../../../datasets/synth-av.js";

const dir = mkdtempSync(join(tmpdir(), "mira-pool-"));
synthesize({ out: join(dir, "data"), clips: 20, seed: 3, config: TINY });
const ds = loadAvDataset(join(dir, "data"));
const typeOf = (q: number): string => ds.index.questionTypes[ds.tensors.question_type[q]].name;

test(
  "without types the pool is the whole training split; with types, " + "exactly that split's questions of those types",
  () => {
    const [t0, t1] = questionsOf(ds, "train");
    expect(Array.from(trainingPool(ds))).toEqual(Array.from({ length: t1 - t0 }, (_, i) => t0 + i));
    const pool = trainingPool(ds, ["first_colour", "when_tone"]);
    const want = Array.from({ length: t1 - t0 }, (_, i) => t0 + i).filter((q) =>
      ["first_colour", "when_tone"].includes(typeOf(q)),
    );
    expect(Array.from(pool)).toEqual(want);
    expect(want.length).toBeGreaterThan(0);
  },
);

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
  expect(() => trainingPool(ds, ["first_color"])).toThrow(
    /unknown question type 'first_color'; .* has colour_at_tone, tone_after_colour, count_beeps/,
  );
  await expect(
    train({ model: "models/char_lm.mira", data: "README.md", types: ["first_colour"], steps: 1, runsDir: dir }),
  ).rejects.toThrow(/apply to an audio-video QA set; README.md is text/);
});

test(
  "--types stages: a plain list is one stage at step 0; 'all' is every type; " +
    "each later stage joins the pool at its step",
  () => {
    expect(parseTypeStages("first_colour, when_tone")).toEqual([{ from: 0, types: ["first_colour", "when_tone"] }]);
    const stages = parseTypeStages("first_colour,first_tone; nth_colour @ 3; all@7");
    expect(stages).toEqual([
      { from: 0, types: ["first_colour", "first_tone"] },
      { from: 3, types: ["nth_colour"] },
      { from: 7, types: [] },
    ]);
    const poolAt = stagedPool(ds, stages);
    const typesIn = (pool: Int32Array): string[] => [...new Set(Array.from(pool, typeOf))].sort();
    expect(typesIn(poolAt(0))).toEqual(["first_colour", "first_tone"]);
    expect(typesIn(poolAt(2))).toEqual(["first_colour", "first_tone"]);
    expect(typesIn(poolAt(3))).toEqual(["first_colour", "first_tone", "nth_colour"]);
    expect(typesIn(poolAt(6))).toEqual(["first_colour", "first_tone", "nth_colour"]);
    expect(Array.from(poolAt(7))).toEqual(Array.from(trainingPool(ds)));
    expect(Array.from(poolAt(1000))).toEqual(Array.from(trainingPool(ds)));
    // Batches follow the pool of their step.
    const source = avDataSource(ds, 6, 7, 1, poolAt);
    const L = ds.index.text.length;
    const texts = (pool: Int32Array): Set<string> =>
      new Set(Array.from(pool, (q) => Array.from(ds.tensors.text.subarray(q * L, (q + 1) * L)).join()));
    for (const [step, pool] of [
      [1, poolAt(1)],
      [4, poolAt(4)],
    ] as const) {
      const text = source.train(step).text as Int32Array;
      for (let r = 0; r < 6; r++)
        expect(texts(pool).has(Array.from(text.subarray(r * L, (r + 1) * L)).join())).toBe(true);
    }
  },
);

test("a resumed run keeps its checkpoint's curriculum unless --types gives another; old plain lists still read", () => {
  const stored = JSON.stringify(parseTypeStages("first_colour; all@5"));
  expect(runStages(undefined, stored)).toEqual([
    { from: 0, types: ["first_colour"] },
    { from: 5, types: [] },
  ]);
  expect(runStages([], stored)).toEqual(runStages(undefined, stored));
  expect(runStages(parseTypeStages("when_tone@0; all@2"), stored)).toEqual([
    { from: 0, types: ["when_tone"] },
    { from: 2, types: [] },
  ]);
  expect(runStages(undefined, JSON.stringify(["count_beeps"]))).toEqual([{ from: 0, types: ["count_beeps"] }]);
  expect(runStages(undefined, undefined)).toEqual([{ from: 0, types: [] }]);
});

test("--types stages that cannot be read are refused, saying what to write", () => {
  expect(() => parseTypeStages("")).toThrow(/stage 1 \(''\) names no question type/);
  expect(() => parseTypeStages("first_colour;;all@5")).toThrow(/stage 2/);
  expect(() => parseTypeStages("first_colour@10")).toThrow(/first stage starts at step 0, not 10/);
  expect(() => parseTypeStages("first_colour; nth_colour@5; all@5")).toThrow(
    /stage 3 starts at step 5, not after stage 2's 5/,
  );
  expect(() => parseTypeStages("first_colour; nth_colour@soon")).toThrow(/'@soon' is not a step number/);
  expect(() => parseTypeStages("first_colour; nth_colour@5@9")).toThrow(
    /stage 2 \('nth_colour@5@9'\) has more than one @STEP/,
  );
  expect(() => stagedPool(ds, parseTypeStages("first_colour; nth_colr@4"))).toThrow(/unknown question type 'nth_colr'/);
});

test("mira train --types '' or a stage out of order is a usage error: one line, exit code 2", () => {
  const root = join(import.meta.dirname, "..", "..", "..");
  for (const types of ["", "first_colour; all@0"]) {
    const r = spawnSync(
      process.execPath,
      [
        join(root, "bin", "mira.js"),
        "train",
        "models/mirasol.mira",
        "--data",
        join(dir, "data"),
        "--types",
        types,
        "--runs-dir",
        dir,
      ],
      { cwd: root, encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(EXIT.usage);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/--types.*usage: mira train/);
  }
});
