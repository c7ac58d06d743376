// The experiments' pure parts: the suite's flags (--quick, --no-time, --only), the seed summaries the
// sections print (mean, range, seeds above chance by more than sampling noise) and their table cells.
import { expect, test } from "vitest";
import type { TypeAccuracy } from "../../apps/mirasol/av.js";
import { parseTypeStages } from "../../apps/mirasol/av.js";
import {
  FULL,
  LONG_FACTOR,
  QUICK,
  SuiteUsageError,
  e3SeedsOf,
  longSizes,
  parseSuiteOptions,
  suiteCommand,
  suiteSizes,
} from "../../bench/experiments/suite.js";
import { aboveChance, cell, listWords, meanExcess, summarise } from "../../bench/experiments/summary.js";

test(
  "flags: all four experiments by default; --only picks a subset, case-insensitively; " +
    "the command line round-trips",
  () => {
    const all = parseSuiteOptions([]);
    expect([...all.only]).toEqual(["E1", "E2", "E2L", "E3", "E4"]);
    expect(all).toMatchObject({ quick: false, timeIt: true });
    expect(suiteCommand(all)).toBe("npm run experiments");
    const some = parseSuiteOptions(["--quick", "--only", "e3,E2"]);
    expect([...some.only].sort()).toEqual(["E2", "E3"]);
    expect(suiteCommand(some)).toBe("npm run experiments -- --quick --only E3,E2");
    expect([...parseSuiteOptions(["--only=E4", "--no-time"]).only]).toEqual(["E4"]);
    expect(suiteCommand(parseSuiteOptions(["--no-time"]))).toBe("npm run experiments -- --no-time");
  },
);

test("--seeds trains a subset of the full sizes' seeds, and round-trips; --quick keeps its own sizes", () => {
  const o = parseSuiteOptions(["--only", "E2", "--seeds", "2,3"]);
  expect(suiteSizes(o)).toEqual({ ...FULL, seeds: [2, 3] });
  expect(suiteCommand(o)).toBe("npm run experiments -- --only E2 --seeds 2,3");
  expect(suiteSizes(parseSuiteOptions(["--seeds=1"])).seeds).toEqual([1]);
  expect(suiteSizes(parseSuiteOptions([]))).toBe(FULL);
  expect(suiteSizes(parseSuiteOptions(["--quick"]))).toBe(QUICK);
  // E3 trains the first e3Seeds of whichever seeds the run has
  expect(e3SeedsOf(FULL)).toEqual(FULL.seeds.slice(0, FULL.e3Seeds));
  expect(FULL.e3Seeds).toBeGreaterThanOrEqual(2);
  expect(e3SeedsOf(suiteSizes(o))).toEqual([2, 3].slice(0, FULL.e3Seeds));
  expect(e3SeedsOf(suiteSizes(parseSuiteOptions(["--seeds", "3"])))).toEqual([3]);
  // every stage of the curriculum begins within the run, at both sizes
  for (const s of [FULL, QUICK]) for (const stage of parseTypeStages(s.types)) expect(stage.from).toBeLessThan(s.steps);
});

test("E2L's sizes: four times the steps, each curriculum stage and evaluation interval at the same fraction", () => {
  for (const s of [FULL, QUICK, suiteSizes(parseSuiteOptions(["--seeds", "2"]))]) {
    const long = longSizes(s);
    expect(long.steps).toBe(s.steps * LONG_FACTOR);
    expect(long.evalEvery / long.steps).toBe(s.evalEvery / s.steps);
    const [short, stretched] = [s, long].map((x) => parseTypeStages(x.types));
    expect(stretched.map((t) => t.from)).toEqual(short.map((t) => t.from * LONG_FACTOR));
    expect(stretched.map((t) => t.types)).toEqual(short.map((t) => t.types));
    expect({ ...long, steps: 0, types: "", evalEvery: 0 }).toEqual({ ...s, steps: 0, types: "", evalEvery: 0 });
  }
  expect(longSizes(FULL).steps).toBe(2000);
});

test.each([
  [["--only", "E5"], /--only takes E1, E2, E2L, E3, E4 \(comma-separated\); got 'E5'/],
  [["--fast"], /unknown argument '--fast'; usage: npm run experiments/],
  [["--only"], /unknown argument '--only'/],
  [["--seeds", "1,x"], /--seeds takes seeds as whole numbers, comma-separated; got '1,x'/],
  [["--seeds"], /unknown argument '--seeds'/],
])("%j is refused", (argv, message) => {
  expect(() => parseSuiteOptions(argv)).toThrow(SuiteUsageError);
  expect(() => parseSuiteOptions(argv)).toThrow(message);
});

const acc = (
  type: string,
  accuracy: number,
  chance = 0.25,
  questions = 200,
  needs = ["audio", "video"],
): TypeAccuracy => ({ type, needs, questions, accuracy, chance });

test("above chance means by more than two standard errors of chance on the questions asked", () => {
  // chance 25 % on 200 questions: 2·√(0.25·0.75/200) = 6.12 points
  expect(aboveChance(acc("t", 0.311))).toBe(false);
  expect(aboveChance(acc("t", 0.311, 0.25, 800))).toBe(true); // 3.06 points on 800
  expect(aboveChance(acc("t", 0.3125))).toBe(true);
  expect(aboveChance(acc("t", 0.1))).toBe(false);
});

test("seeds summarised per type: mean, range, seeds above chance; cells bold only when every seed is above", () => {
  const s = summarise([
    [acc("joint", 0.26), acc("count", 0.99, 0.25, 200, ["audio"])],
    [acc("joint", 0.4), acc("count", 0.97, 0.25, 200, ["audio"])],
    [acc("joint", 0.24), acc("count", 1, 0.25, 200, ["audio"])],
  ]);
  expect(s[0]).toMatchObject({ type: "joint", seeds: 3, above: 1, min: 0.24, max: 0.4 });
  expect(s[0].mean).toBeCloseTo(0.3, 12);
  expect(cell(s[0])).toBe("30.0 [24.0–40.0] (1/3 above)");
  expect(cell(s[1])).toBe("**98.7 [97.0–100.0]**");
  expect(meanExcess(s)).toBeCloseTo((5 + 73.667) / 2, 2);
  expect(cell(summarise([[acc("one", 0.2)]])[0])).toBe("20.0");
  expect(listWords(["a", "b", "c"])).toBe("a, b and c");
  expect(listWords(["a"])).toBe("a");
});
