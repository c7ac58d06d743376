// e1-alternate.test.ts: E1's step timing (bench/experiments/e1-scaling.ts timeAlternately) — every
// Combiner of a length warms up once, then runs once per round with the first to run rotating, and each
// gets the median of its own rounds. Fake steps: the order is checked, and times come from a clock the
// steps advance, so the medians are exact.
import { afterEach, expect, test, vi } from "vitest";
import { timeAlternately } from "../../bench/experiments/e1-scaling.js";

afterEach(() => {
  vi.restoreAllMocks();
});

test("warm-up, then rounds in rotating order; the median of each stepper's rounds", async () => {
  let now = 0;
  vi.spyOn(performance, "now").mockImplementation(() => now);
  const order: string[] = [];
  // a's steps take 1, 5, 2 ms round by round; b always 10; c 7, 3, 4
  const costs: Record<string, number[]> = { a: [9, 1, 5, 2], b: [9, 10, 10, 10], c: [9, 7, 3, 4] };
  const steppers = ["a", "b", "c"].map((name) => ({
    step: async () => {
      order.push(name);
      now += costs[name].shift()!;
    },
    destroy: () => {},
  }));
  const ms = await timeAlternately(steppers, 3);
  expect(order.join("")).toBe("abc" + "abc" + "bca" + "cab");
  expect(ms).toEqual([2, 10, 4]);
});
