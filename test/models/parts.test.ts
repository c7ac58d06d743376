// parts.test.ts: Mirasol's own parts one at a time, at fast-check-drawn sizes (1, odd and prime dims
// included) — TokenLearner (std.nn), one TTM step (std.combiners: TokenLearner read, transformer
// process, TokenLearner write), each with loss = mean(y · w) for random w, and the latent loss with
// variance and covariance terms (std.losses): the GPU's outputs and gradients against the reference
// interpreter's, and the reference's gradients against central finite differences in float64.
// (Block-causal and cross attention are ops: test/compiler/grad.test.ts checks them the same way; the
// whole model's forward and gradients: mirasol-gpu.test.ts, dsl/mirasol.test.ts.)
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { grad } from "../../compiler/grad.js";
import { type Elaborated, elaborate, initParams } from "../../compiler/lower.js";
import { runReference } from "../../compiler/reference.js";
import { check, formatDiagnostics } from "../../dsl/index.js";
import { runs } from "../compiler/gen.js";
import { alongRandomDirection } from "../compiler/grad-suite.js";
import { MODELS } from "../dsl/harness.js";
import { expectClose } from "../helpers/close.js";
import { runOnGpuMany } from "../helpers/gpu.js";

interface Part {
  readonly source: string;
}

const tokenLearner = (d: number, n: number, hidden: number, P: number): Part => ({
  source: `import std.nn
model Part {
  input x: f32[B, ${P}, ${d}]
  input w: f32[B, ${n}, ${d}]
  output y = TokenLearner(${d}, ${n}, ${hidden})(x)
  output total = mean(y * w)
}
`,
});

const ttmStep = (d: number, memory: number, read: number, heads: number, hidden: number, P: number): Part => ({
  source: `import std.combiners
model Part {
  input mem: f32[B, ${memory}, ${d}]
  input x: f32[B, ${P}, ${d}]
  input w: f32[B, ${read + memory}, ${d}]
  output y = TTMStep(${memory}, ${read}, 1, ${heads}, ${hidden})(mem, x)
  output total = mean(y * w)
}
`,
});

function elaborated(part: Part, B: number): Elaborated {
  const file = `${MODELS}/part_case.mira`;
  const c = check(part.source, file, {});
  expect(formatDiagnostics(c.diagnostics, c.sources)).toBe("");
  const e = elaborate(c.result, { batch: { B } });
  expect(formatDiagnostics(e.diagnostics, c.sources)).toBe("");
  return e.result!;
}

/** Params from the model's own initialisers (seeded), inputs uniform in [−1, 1] from `r`. */
function feedsFor(el: Elaborated, seed: number, r: () => number): Record<string, number[]> {
  const feeds: Record<string, number[]> = Object.fromEntries(
    [...initParams(el.params, seed)].map(([k, v]) => [k, Array.from(v)]),
  );
  for (const i of el.inputs)
    feeds[i.name] = Array.from({ length: i.shape.reduce((a, b) => a * b, 1) }, () => 2 * r() - 1);
  return feeds;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 8) / 2 ** 24;
}

/**
 * d total / dt along a random direction over every param, from
 * grad() and from central differences with Richardson extrapolation, all in float64.
 */
function expectFiniteDifferences(el: Elaborated, feeds: Record<string, number[]>, r: () => number): void {
  const {
    an: analytic,
    fd,
    fdError,
    mass,
  } = alongRandomDirection(
    el.graph,
    "total",
    el.params.map((p) => p.name),
    feeds,
    r,
    1e-4,
  );
  expect(mass, "the direction moves the loss at all").toBeGreaterThan(1e-9);
  // beside rounding, the difference's own truncation error where the step is ill-conditioned (a layer norm
  // over two nearly equal features: CI drew B 2, P 5, heads 2, width 1, seed 7, off by 4.3e-5 of 9.65)
  expect(Math.abs(fd - analytic), `fd ${fd} ± ${fdError} vs grad() ${analytic}`).toBeLessThanOrEqual(
    1e-8 + 1e-6 * mass + fdError,
  );
}

/** The GPU's outputs and gradients against the reference's (f32, as grad.test.ts bounds them) on each feed
 *  set; the graph is compiled once, so further sets cost runs, not the ≈ 120 shader compiles of a TTM step.
 *  Beside the fixed tolerance each element may differ by 4× how far the reference itself moves when every
 *  op's result is moved by up to 8 units in the last place (`jitter`, the larger of two draws; 8 because
 *  the reference rounds a composite once where the GPU rounds each of the primitives it lowers to — a
 *  layer norm's mean, centring, square, variance, rsqrt, scale and shift). A drawn step can be
 *  ill-conditioned — a layer norm over two features whose values nearly agree divides by their spread, so
 *  a few units in the last place before it become 10⁻⁴ after it (seed 855242342, path 0:1:7 of this
 *  property: 1.9·10⁻⁴ on an output of 0.89) — and then any order of f32 roundings lands that far apart;
 *  where it is well conditioned the slack stays below the fixed tolerance, which decides. */
async function expectGpuMatches(el: Elaborated, feedSets: Record<string, number[]>[]): Promise<void> {
  const g = grad(el.graph, "total");
  const gots = await runOnGpuMany(g, feedSets);
  feedSets.forEach((feeds, k) => {
    const ref = runReference(g, feeds);
    const jittered = [1, 2].map((j) => runReference(g, feeds, { jitter: lcg(1000 * k + j), jitterUlps: 8 }));
    for (const o of g.outputs) {
      const want = ref[o.name].data;
      const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const slack = want.map((v, i) => 4 * Math.max(...jittered.map((x) => Math.abs(v - x[o.name].data[i]))));
      const tol = { atol: 1e-5 * (1 + scale), rtol: 1e-4 };
      expectClose(gots[k][o.name], want, tol, `${o.name}, value set ${k + 1}`, slack);
    }
  });
}

/** Three draws of params and inputs for one elaborated model. */
const threeFeedSets = (el: Elaborated, seed: number) => [0, 1, 2].map((k) => feedsFor(el, seed + k, lcg(seed + k + 1)));

const dim = (xs: number[]) => fc.constantFrom(...xs);
// P = 1 or d = 1 makes TokenLearner the identity (one token to weigh) or its weights moot (a layer
// norm of one value is β), so no direction moves the loss; they start at 2 here.
const tlArb = fc.record({
  B: dim([1, 2]),
  P: dim([2, 3, 5, 7]),
  d: dim([2, 3, 5]),
  n: dim([1, 2, 3]),
  hidden: dim([1, 3, 4]),
  seed: fc.nat(1000),
});
// heads divide d; the transformer's head width d / heads is 1, 2 or 3
const ttmArb = fc.record({
  B: dim([1, 2]),
  P: dim([1, 2, 5]),
  heads: dim([1, 2]),
  width: dim([1, 2, 3]),
  memory: dim([1, 2, 3]),
  read: dim([1, 2]),
  hidden: dim([1, 3]),
  seed: fc.nat(1000),
});

describe("TokenLearner", () => {
  test("gradients equal finite differences (float64 reference)", () => {
    fc.assert(
      fc.property(tlArb, ({ B, P, d, n, hidden, seed }) => {
        const el = elaborated(tokenLearner(d, n, hidden, P), B);
        const r = lcg(seed + 1);
        expectFiniteDifferences(el, feedsFor(el, seed, r), r);
      }),
      { numRuns: runs(32) },
    );
  });

  test("outputs and gradients on the GPU equal the reference", async () => {
    await fc.assert(
      fc.asyncProperty(tlArb, async ({ B, P, d, n, hidden, seed }) => {
        const el = elaborated(tokenLearner(d, n, hidden, P), B);
        await expectGpuMatches(el, threeFeedSets(el, seed));
      }),
      { numRuns: runs(2) },
    );
  }, 240_000); // 2 drawn sizes × 3 value sets: over 100 s beside other workers on lavapipe

  test("each output token is a convex combination of the input tokens (weights ≥ 0, summing to 1 over tokens)", () => {
    fc.assert(
      fc.property(tlArb, ({ B, P, d, n, hidden, seed }) => {
        const el = elaborated(tokenLearner(d, n, hidden, P), B);
        const feeds = feedsFor(el, seed, lcg(seed + 1));
        const y = runReference(el.graph, feeds, { exact: true }).y.data;
        // every coordinate of y[b, i] lies within that coordinate's range over x[b, :]
        for (let b = 0; b < B; b++) {
          for (let c = 0; c < d; c++) {
            const xs = Array.from({ length: P }, (_, p) => feeds.x[(b * P + p) * d + c]);
            for (let i = 0; i < n; i++) {
              const v = y[(b * n + i) * d + c];
              expect(v).toBeGreaterThanOrEqual(Math.min(...xs) - 1e-12);
              expect(v).toBeLessThanOrEqual(Math.max(...xs) + 1e-12);
            }
          }
        }
      }),
      { numRuns: runs(32) },
    );
  });
});

describe("one TTM step: TokenLearner read, transformer, TokenLearner write", () => {
  test("gradients equal finite differences (float64 reference)", () => {
    fc.assert(
      fc.property(ttmArb, ({ B, P, heads, width, memory, read, hidden, seed }) => {
        const el = elaborated(ttmStep(heads * width, memory, read, heads, hidden, P), B);
        const r = lcg(seed + 1);
        expectFiniteDifferences(el, feedsFor(el, seed, r), r);
      }),
      { numRuns: runs(24) },
    );
  });

  test("outputs and gradients on the GPU equal the reference", async () => {
    await fc.assert(
      fc.asyncProperty(ttmArb, async ({ B, P, heads, width, memory, read, hidden, seed }) => {
        const el = elaborated(ttmStep(heads * width, memory, read, heads, hidden, P), B);
        await expectGpuMatches(el, threeFeedSets(el, seed));
      }),
      { numRuns: runs(2) },
    );
    // A TTM step's forward and backward is ≈ 120 kernels, each a fresh shader for every drawn size:
    // with Mesa's shader cache cold (a bare CI machine) lavapipe's LLVM compiles them at ≈ 140 ms
    // each, ≈ 17 s a case alone and over 60 s beside another worker — hence more than the default 120 s.
  }, 360_000);
});

const varianceCosine = (d: number, N: number, gamma: number): Part => ({
  source: `import std.nn
import std.losses
model Part {
  input x: f32[B, ${N}, ${d}]
  input target: f32[B, ${N}, ${d}]
  let pred = Linear(${d}, ${d})(x)
  output total = VarianceCosineLoss(variance: 0.7, covariance: 1.3, gamma: ${gamma})(pred, target)
}
`,
});

const vcArb = fc.record({ B: dim([2, 3, 5]), N: dim([1, 2, 3]), d: dim([1, 2, 3, 5]), seed: fc.nat(1000) });

describe("VarianceCosineLoss (std.losses)", () => {
  // gamma 2 keeps every dimension's spread below the hinge's kink (inputs in [−1, 1], Linear's weights
  // small), where a finite difference would straddle it
  test("gradients equal finite differences (float64 reference)", () => {
    fc.assert(
      fc.property(vcArb, ({ B, N, d, seed }) => {
        const el = elaborated(varianceCosine(d, N, 2), B);
        const r = lcg(seed + 1);
        expectFiniteDifferences(el, feedsFor(el, seed, r), r);
      }),
      { numRuns: runs(24) },
    );
  });

  test("outputs and gradients on the GPU equal the reference", async () => {
    await fc.assert(
      fc.asyncProperty(vcArb, async ({ B, N, d, seed }) => {
        const el = elaborated(varianceCosine(d, N, 2), B);
        await expectGpuMatches(el, threeFeedSets(el, seed));
      }),
      { numRuns: runs(1) },
    );
  }, 240_000);

  test("predictions that are one vector per place pay the hinge in full; spread-out ones only the cosine", () => {
    const el = elaborated(
      {
        source: `import std.losses
model Part {
  input pred: f32[B, 1, 2]
  input target: f32[B, 1, 2]
  output cosine = CosineLoss()(pred, target)
  output total = VarianceCosineLoss(variance: 0.5, covariance: 1.0, gamma: 1.0, eps: 0.0)(pred, target)
}
`,
      },
      4,
    );
    const target = [1, 0, 1, 0, 1, 0, 1, 0];
    // the same prediction for every clip: both spreads 0, the hinge 1 on each
    const same = runReference(el.graph, { pred: [1, 2, 1, 2, 1, 2, 1, 2], target }, { exact: true });
    expect(same.total.data[0]).toBeCloseTo(same.cosine.data[0] + 0.5, 12);
    // the four corners (±2, ±2): spreads of 2 ≥ γ, and the two dimensions uncorrelated
    const apart = runReference(el.graph, { pred: [2, 2, 2, -2, -2, 2, -2, -2], target }, { exact: true });
    expect(apart.total.data[0]).toBeCloseTo(apart.cosine.data[0], 12);
    // (1, 1), (−1, −1) twice: correlated dimensions pay the covariance, the mean of 1² over the 2 off-diagonal
    // of 4 entries, and the hinge nothing at spread 1
    const together = runReference(el.graph, { pred: [1, 1, -1, -1, 1, 1, -1, -1], target }, { exact: true });
    expect(together.total.data[0]).toBeCloseTo(together.cosine.data[0] + 0.5, 12);
  });
});
