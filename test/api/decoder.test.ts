// decoder.test.ts: the derived decoder (prefill + cached steps) against full recomputation of the
// forward pass, on the GPU: at every position the same next-token logits within f32 tolerance and the
// same greedy token, for char_lm and for variant models written here (post-norm blocks, parallel
// attention + MLP blocks, two stacks, tied embeddings, sin/cos positions, a prepended start token) and
// Mirasol tiny (its text decoder reading the A/V memory through cross-attention),
// over random weights, prompts of length 1 and primes, and batch rows. Both decoders are fed the same
// tokens (the recomputation's greedy choice), so agreeing at every position means the two greedy
// generations are identical; a disagreement is accepted only at a near tie of the top two logits.
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, test } from "vitest";
import { elaborateAt, openDecoder, openIncremental } from "../../api/decoder.js";
import { type LoadedModel, loadModel, modelFromSource } from "../../api/model.js";
import { initParams } from "../../compiler/lower.js";
import type { Tolerance } from "../../compiler/ops/spec.js";
import type { IncrementalDecoder, TokenDecoder, WeightLoader } from "../../runtime/decode.js";
import { decodeRows } from "../../runtime/generate-rows.js";
import { GREEDY, sampleToken } from "../../runtime/sampling.js";
import { firstMismatch } from "../helpers/close.js";
import { testGpu } from "../helpers/gpu.js";
import { prng } from "../helpers/prng.js";

const ROOT = join(import.meta.dirname, "../..");

/** f32 logits of a few layers: cached and recomputed rows may differ in summation order (on llvmpipe
 *  they have come out bit-identical: masked cache rows add exact zeros). */
const TOL: Tolerance = { atol: 1e-4, rtol: 1e-4 };

/** Initial weights (seeded) with every entry moved a little, so LayerNorm gains and biases are not
 *  the trivial ones and the test sees every parameter. */
function weights(model: LoadedModel, seed: number): WeightLoader {
  const el = elaborateAt(model)(2);
  const r = prng(seed);
  const values = initParams(el.params, seed);
  for (const v of values.values()) for (let i = 0; i < v.length; i++) v[i] += 0.2 * (r() - 0.5);
  return (ex, names) => {
    for (const n of names) ex.write(n, values.get(n)!);
  };
}

const argmax = (xs: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
};

/** Whether the top two entries are within the tolerance of each other (argmax may differ there). */
function nearTie(xs: ArrayLike<number>): boolean {
  const top = argmax(xs);
  let second = -Infinity;
  for (let i = 0; i < xs.length; i++) if (i !== top) second = Math.max(second, xs[i]);
  return xs[top] - second <= 2 * (TOL.atol + TOL.rtol * Math.abs(xs[top]));
}

interface Pair {
  readonly cached: TokenDecoder;
  readonly full: TokenDecoder;
}

/** Decoder pairs by model, length, seed and dims: a test that needs the same pair as another reuses it,
 *  with the programs (and prefills) already compiled. */
const open = new Map<string, Promise<Pair>>();
afterAll(async () => {
  for (const p of open.values()) {
    const { cached, full } = await p;
    cached.destroy();
    full.destroy();
  }
});

/** One cache length for every model decoded here: a model's step, recomputation and prefill programs at
 *  a prompt length are then the same kernels in every test, which the shader cache compiles once. */
const MAX_LEN = 16;

function pair(model: LoadedModel, maxLen: number, seed: number, dims: Record<string, number> = {}): Promise<Pair> {
  const key = JSON.stringify([model.path, model.sourceHash, model.preset, model.set, maxLen, seed, dims]);
  let p = open.get(key);
  if (!p) {
    p = (async () => {
      const gpu = await testGpu();
      const load = weights(model, seed);
      return {
        cached: await openDecoder(gpu, model, { maxLen, load, dims }),
        full: await openDecoder(gpu, model, { maxLen, load, dims, cache: false }),
      };
    })();
    open.set(key, p);
  }
  return p;
}

/** Prefills a random prompt of P tokens per row into both, then n greedy steps. Throws on a logit
 *  mismatch beyond TOL or a greedy disagreement off a near tie. */
async function agree(
  { cached, full }: Pair,
  P: number,
  n: number,
  seed: number,
  feeds: Record<string, ArrayLike<number>> = {},
): Promise<void> {
  const r = prng(seed);
  const { batch, width } = full;
  const prompt = Array.from({ length: batch * P }, () => Math.floor(r() * width));
  let a = await cached.prefill(prompt, feeds);
  let b = await full.prefill(prompt, feeds);
  for (let step = 0; ; step++) {
    const bad = firstMismatch(a, b, TOL);
    if (bad) throw new Error(`P = ${P}, position ${P + step - 1}: ${bad}`);
    const next: number[] = [];
    for (let row = 0; row < batch; row++) {
      const ra = a.subarray(row * width, (row + 1) * width);
      const rb = b.subarray(row * width, (row + 1) * width);
      if (argmax(ra) !== argmax(rb) && !nearTie(rb))
        throw new Error(
          `P = ${P}, position ${P + step - 1}, row ${row}: greedy tokens differ ` +
            `(${argmax(ra)} cached, ${argmax(rb)} recomputed)`,
        );
      next.push(argmax(rb));
    }
    if (step === n) break;
    a = await cached.step(next);
    b = await full.step(next);
  }
  expect(cached.position).toBe(P + n);
}

/** Prompt lengths drawn from `pool` (1 and primes), with steps up to the caches' end. Each length compiles
 *  a prefill program: char_lm draws from every length, the model variants from 1 and 5, the lengths the
 *  ragged-batch tests below decode alone (so those prefills are compiled once for both). */
const lengths = (maxLen: number, pool: readonly number[] = [1, 2, 3, 5, 7, 13]) =>
  fc.record({
    P: fc.constantFrom(...pool.filter((p) => p < maxLen)),
    n: fc.integer({ min: 1, max: 9 }),
    seed: fc.nat(),
  });
const FEW = [1, 5];

const VARIANTS = `import std.nn

// Post-norm: normalise after each residual add.
module PostNormBlock(d: int, heads: int)(x: f32[B, T, d]) -> f32[B, T, d] {
  let attn = MultiHeadAttention(d, heads)
  let ln1 = LayerNorm(d)
  let mlp = MLP(d)
  let ln2 = LayerNorm(d)
  let y = ln1(x + attn(x, x, mask: causal))
  return ln2(y + mlp(y))
}

// Parallel: attention and MLP read the same normalised input.
module ParallelBlock(d: int, heads: int)(x: f32[B, T, d]) -> f32[B, T, d] {
  let ln = LayerNorm(d)
  let attn = MultiHeadAttention(d, heads)
  let mlp = MLP(d)
  let h = ln(x)
  return x + attn(h, h, mask: causal) + mlp(h)
}

model Variants {
  config { vocab: int = 29, d: int = 16, heads: int = 2 }
  input tokens: i32[B, T]
  param table: f32[vocab, d] = normal(0.5)
  let x = SinCosPositions(d)(gather(table, tokens, axis: 0))
  repeat 2 as post { x = PostNormBlock(d, heads)(x) }
  repeat 1 as par { x = ParallelBlock(d, heads)(x) }
  output logits = LayerNorm(d)(x) @ permute(table, [1, 0])  // tied: the embedding, transposed
  loss lm = cross_entropy(logits[:, :-1], tokens[:, 1:])
  objective = lm
  generate tokens from logits
}
`;

const START_TOKEN = `import std.nn

// A start token prepended inside the model (as Mirasol's text decoder does): position t of the
// sequence is row t + 1 of the blocks, and the output drops row 0.
model StartToken {
  config { vocab: int = 23, d: int = 16, heads: int = 4, max_len: int = 40 }
  input tokens: i32[B, T]
  let ids = concat([full([B, 1], 1, dtype: i32), tokens], axis: 1)
  let x = LearnedPositions(max_len, d)(Embedding(vocab, d)(ids))
  repeat 2 as layers { x = TransformerBlock(d, heads)(x, mask: causal) }
  let all = Linear(d, vocab)(LayerNorm(d)(x))
  output logits = all[:, 1:]
  loss lm = cross_entropy(all[:, :-1], tokens)
  objective = lm
  generate tokens from logits
}
`;

/** Each prompt length compiles a prefill program: a second or two of shader compilation, much more on
 *  a loaded machine, hence the generous limit (not a timing assertion) and no shrinking (endOnFailure:
 *  a shrunk case is a new prompt length, compiled again; the failure message names P and the position). */
const SLOW = 900_000;

describe("cached decoding equals full recomputation", () => {
  test(
    "char_lm (tiny, two layers), prompt lengths 1 and primes",
    async () => {
      const p = await pair(loadModel("models/char_lm.mira", { preset: "tiny", set: ["depth=2"] }), MAX_LEN, 11);
      await fc.assert(
        fc.asyncProperty(lengths(MAX_LEN), async ({ P, n, seed }) => agree(p, P, Math.min(n, MAX_LEN - P), seed)),
        { numRuns: 6, endOnFailure: true },
      );
    },
    SLOW,
  );

  test(
    "char_lm with two batch rows",
    async () => {
      const p = await pair(loadModel("models/char_lm.mira", { preset: "tiny" }), MAX_LEN, 5, { B: 2 });
      await agree(p, 5, 10, 3);
      await agree(p, 1, 15, 4);
    },
    SLOW,
  );

  test(
    "post-norm and parallel blocks in two stacks, tied embeddings, sin/cos positions",
    async () => {
      const p = await pair(modelFromSource(VARIANTS, join(ROOT, "models", "variants.mira")), MAX_LEN, 7);
      await fc.assert(
        fc.asyncProperty(lengths(MAX_LEN, FEW), async ({ P, n, seed }) => agree(p, P, Math.min(n, MAX_LEN - P), seed)),
        { numRuns: 4, endOnFailure: true },
      );
    },
    SLOW,
  );

  test(
    "Mirasol tiny: the text decoder cross-attends to an A/V memory the prefill encodes once",
    async () => {
      const model = loadModel("models/mirasol.mira", { preset: "tiny" });
      const p = await pair(model, 12, 13);
      const r = prng(21);
      const feeds: Record<string, Float32Array> = {};
      for (const i of elaborateAt(model)(2).inputs)
        if (i.name === "video" || i.name === "spectrogram")
          feeds[i.name] = Float32Array.from({ length: i.shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1);
      await agree(p, 3, 9, 1, feeds);
      await agree(p, 1, 11, 2, feeds);
      for (const v of Object.values(feeds)) v.reverse(); // another clip: the prefill replaces the memory
      await agree(p, 3, 9, 3, feeds); // the first prompt's length: its prefill program encodes the new clip
    },
    SLOW,
  );

  test(
    "a start token prepended inside the model",
    async () => {
      const p = await pair(modelFromSource(START_TOKEN, join(ROOT, "models", "start_token.mira")), MAX_LEN, 9);
      await fc.assert(
        fc.asyncProperty(lengths(MAX_LEN, FEW), async ({ P, n, seed }) => agree(p, P, Math.min(n, MAX_LEN - P), seed)),
        { numRuns: 4, endOnFailure: true },
      );
      await agree(p, 1, MAX_LEN - 1, 1); // to the caches' last row
    },
    SLOW,
  );
});

test(
  "the programs' sampler draws the host reference's token from the same logits, row by row",
  async () => {
    // The two-batch-row pair above, and its prompt length (5): no program to compile here.
    const { cached } = await pair(loadModel("models/char_lm.mira", { preset: "tiny" }), MAX_LEN, 5, { B: 2 });
    const dec = cached as IncrementalDecoder;
    const o = { temperature: 1.2, topK: 30, topP: 0.9, seed: 42 };
    let out = await dec.prefillSample([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], { sampling: o, step: 0, logits: true });
    for (let step = 0; ; step++) {
      const host = [0, 1].map((r) => sampleToken(out.logits!.subarray(r * dec.width, (r + 1) * dec.width), o, step, r));
      expect(Array.from(out.tokens), `step ${step}`).toEqual(host);
      if (dec.position === dec.capacity) break;
      out = await dec.stepSample(out.tokens, { sampling: o, step: step + 1, logits: true });
    }
  },
  SLOW,
);

describe("a ragged batch (prompts of different lengths, one prefill) decodes each row as it decodes alone", () => {
  /** Greedy from each prompt alone (batch 1) and all together (one row each), with a stop token taken
   *  from the first row's text, and a row that fills the caches. */
  async function expectRowsAsAlone(model: LoadedModel, seed: number): Promise<void> {
    const gpu = await testGpu();
    const maxLen = MAX_LEN;
    const load = weights(model, seed);
    const r = prng(seed);
    const alone = await openIncremental(gpu, model, { maxLen, load });
    const together = await openIncremental(gpu, model, { maxLen, load, dims: { B: 3 } });
    try {
      const width = alone.width;
      const prompts = [5, 1, 14].map((n) => Array.from({ length: n }, () => Math.floor(r() * width)));
      const o = { sampling: GREEDY, maxTokens: 9 };
      const free = [];
      for (const p of prompts) free.push(await decodeRows(alone, [p], o));
      const got = await decodeRows(together, prompts, o);
      expect(got.tokens).toEqual(free.map((f) => f.tokens[0]));
      expect(got.stoppedBy).toEqual(["max-tokens", "max-tokens", "full"]);
      expect(got.tokens[2]).toHaveLength(3); // positions 14, 15: two steps after the prefill's token
      // A stop token ends each row at its own place (the first row's third token, say).
      const stop = [free[0].tokens[0][2]];
      const cut = (ts: number[]): number[] => (ts.includes(stop[0]) ? ts.slice(0, ts.indexOf(stop[0])) : ts);
      const stopped = await decodeRows(together, prompts, { ...o, stop });
      expect(stopped.tokens).toEqual(got.tokens.map(cut));
      expect(stopped.stoppedBy[0]).toBe("stop-token");
      // Fewer prompts than rows: the spare rows idle. (The last two prompts: their longest is the longest of
      // all three, whose prefill program is compiled already.)
      expect((await decodeRows(together, prompts.slice(1), o)).tokens).toEqual(got.tokens.slice(1));
    } finally {
      alone.destroy();
      together.destroy();
    }
  }

  test(
    "char_lm (tiny, two layers)",
    () => expectRowsAsAlone(loadModel("models/char_lm.mira", { preset: "tiny", set: ["depth=2"] }), 31),
    SLOW,
  );
  test(
    "post-norm and parallel blocks, tied embeddings, sin/cos positions",
    () => expectRowsAsAlone(modelFromSource(VARIANTS, join(ROOT, "models", "variants.mira")), 32),
    SLOW,
  );
  test(
    "a start token prepended inside the model",
    () => expectRowsAsAlone(modelFromSource(START_TOKEN, join(ROOT, "models", "start_token.mira")), 33),
    SLOW,
  );
});
