// chance.ts on hand-worked cases: the training majority (ties by code-point order) scored per split,
// null for an empty split, and the keyed rule falling back to the majority for unseen keys.
import { expect, test } from "vitest";
import { chanceByType, majorityAnswer, majorityByKeyAccuracy } from "../../datasets/chance.js";

test("chance is the accuracy of the most frequent training answer on each split", () => {
  const qs = [
    ...["b", "a", "b", "c"].map((answer) => ({ type: "t", answer, split: "train" as const })),
    ...["a", "b", "b"].map((answer) => ({ type: "t", answer, split: "val" as const })),
    { type: "u", answer: "y", split: "train" as const },
    { type: "u", answer: "x", split: "train" as const },
    { type: "u", answer: "y", split: "test" as const },
    { type: "v", answer: "y", split: "test" as const },
  ];
  expect(chanceByType(qs)).toEqual({
    t: { answer: "b", train: 0.5, val: 2 / 3, test: null },
    u: { answer: "x", train: 0.5, val: null, test: 0 }, // a tie goes to the answer first in code-point order
  }); // 'v' has no training questions: no chance to state
  expect(majorityAnswer([])).toBeUndefined();
});

test("the keyed rule answers each key's training majority, and the overall majority for unseen keys", () => {
  const train = [
    { key: "k1", answer: "a" },
    { key: "k1", answer: "a" },
    { key: "k1", answer: "b" },
    { key: "k2", answer: "b" },
  ];
  const test_ = [
    { key: "k1", answer: "a" }, // a: hit
    { key: "k2", answer: "a" }, // b: miss
    { key: "k3", answer: "a" }, // unseen → overall majority a: hit
    { key: "k3", answer: "b" }, // miss
  ];
  expect(majorityByKeyAccuracy(train, test_)).toBe(0.5);
  expect(majorityByKeyAccuracy(train, [])).toBeNull();
});
