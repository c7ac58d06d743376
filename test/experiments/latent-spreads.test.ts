// The latents' spreads E3 reports: checked on latents whose answers are known by hand.
import { expect, test } from "vitest";
import { LatentSpreads } from "../../bench/experiments/losses.js";

// clips × places × d, clip-major
const latents = (
  clips: number,
  f: (clip: number, place: number, k: number) => number,
  places = 3,
  d = 2,
): Float64Array => {
  const x = new Float64Array(clips * places * d);
  for (let c = 0; c < clips; c++)
    for (let p = 0; p < places; p++) for (let k = 0; k < d; k++) x[(c * places + p) * d + k] = f(c, p, k);
  return x;
};

test("one vector everywhere: both spreads 0", () => {
  const s = new LatentSpreads(2, 6);
  s.add(latents(4, (_c, _p, k) => k + 1));
  expect(s.result()).toEqual({ latentSpread: 0, clipSpread: 0 });
});

test("latents set by their place alone: spread high, clip spread 0 (the collapse the overall spread misses)", () => {
  const s = new LatentSpreads(2, 6);
  // places −1, 0, +1 along the first axis: centred over all vectors, so the spread is 1
  s.add(latents(5, (_c, p, k) => (k === 0 ? p - 1 : 0)));
  const r = s.result();
  expect(r.latentSpread).toBeCloseTo(1, 12);
  expect(r.clipSpread).toBeCloseTo(0, 12);
});

test("latents set by the clip alone, over several batches: both spreads 1 when centred", () => {
  const s = new LatentSpreads(2, 6);
  const x = latents(4, (c) => (c % 2 === 0 ? 1 : -1));
  s.add(x.subarray(0, 12));
  s.add(x.subarray(12));
  const r = s.result();
  expect(r.latentSpread).toBeCloseTo(1, 12);
  expect(r.clipSpread).toBeCloseTo(1, 12);
});

test("an offset shared by every latent: spread √(var / (var + offset²))", () => {
  const s = new LatentSpreads(1, 2);
  // values 3 ± 1 by clip, two places: E x² = 10, variance 1, so both spreads are √(1/10)
  s.add(latents(2, (c) => (c === 0 ? 2 : 4), 2, 1));
  const r = s.result();
  expect(r.latentSpread).toBeCloseTo(Math.sqrt(0.1), 12);
  expect(r.clipSpread).toBeCloseTo(Math.sqrt(0.1), 12);
});
