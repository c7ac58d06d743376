// decode.test.ts: the decoder derivation without a GPU — the tags it gives char_lm's graph, prefill +
// steps run on the float64 reference interpreter against the forward pass at every length (char_lm and
// a model that prepends a start token), and the diagnostic naming the op and line of a model that
// mixes positions (a mean, a softmax or non-causal attention over the sequence, a slice picking the
// last position, a second input indexed by position).
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { derive, elaborateAt } from "../../api/decoder.js";
import { type LoadedModel, ModelError, loadModel, modelFromSource } from "../../api/model.js";
import { DecodeError, type Decoder, LENGTHS, NEXT, POS, SAMPLE, deriveDecoder } from "../../compiler/decode.js";
import type { Graph } from "../../compiler/ir.js";
import { initParams } from "../../compiler/lower.js";
import { runReference } from "../../compiler/reference.js";
import { prod } from "../../compiler/shape.js";
import { argmax } from "../../runtime/sampling.js";
import { expectClose } from "../helpers/close.js";
import { prng } from "../helpers/prng.js";

const ROOT = join(import.meta.dirname, "../..");
const charLm = (): LoadedModel => loadModel("models/char_lm.mira", { preset: "tiny", set: ["depth=2"] });
const fromSource = (src: string, name = "case.mira"): LoadedModel => modelFromSource(src, join(ROOT, "models", name));

test("char_lm: tokens and everything they reach are rows, positions a positional source, two caches per layer", () => {
  const d = derive(charLm(), 32);
  const an = d.analysis;
  expect(an.role.get(an.input.id)).toBe("row");
  expect(an.causal).toHaveLength(2);
  expect(an.memo).toEqual([]);
  expect(d.otherInputs).toEqual([]);
  expect(d.width).toBe(96);
  const slices = [...an.sources].map((id) => an.byId.get(id)!);
  expect(slices.map((n) => n.op)).toEqual(["slice"]); // table[:T] of LearnedPositions
  expect(an.role.get(slices[0].id)).toBe("positional");
  expect(d.caches.map((c) => `${c.name} ${c.shape.join("x")}`)).toEqual([
    "decode.cache.0.k 1x2x32x16",
    "decode.cache.0.v 1x2x32x16",
    "decode.cache.1.k 1x2x32x16",
    "decode.cache.1.v 1x2x32x16",
  ]);
  // One row per step: the step reads one token and writes one row into each cache.
  expect(d.step.nodes.find((n) => n.op === "input" && n.attrs.name === "tokens")!.shape).toEqual([1, 1]);
  expect(
    d.step.nodes
      .filter((n) => n.op === "write_rows")
      .map((n) => n.inputs.slice(0, 2).map((i) => d.step.nodes[i].shape[2])),
  ).toEqual(Array(4).fill([32, 1]));
});

test("caches longer than the learned positions are refused, naming the table's slice", () => {
  expect(() => derive(charLm(), 65)).toThrow(
    new RegExp(
      /models\/std\/nn\.mira:\d+:\d+ error M3007 cannot derive an incremental decoder: /.source +
        /slice reads 65 rows of a table of 64: caches of 65 positions exceed the model's length/.source,
    ),
  );
  expect(() => derive(charLm(), 64)).not.toThrow();
});

/** Prefill + steps on the reference, threading cache and memo params through the runs by hand (on
 *  the GPU they are updated in place). Returns the next-token row of each position. */
function referenceDecode(
  d: Decoder,
  weights: ReadonlyMap<string, Float32Array>,
  tokens: readonly number[],
  P: number,
): Float64Array[] {
  const state = new Map<string, ArrayLike<number>>([
    ...d.caches.map((c) => [c.name, new Float64Array(prod(c.shape))] as const),
  ]);
  const greedy = { [SAMPLE.seed]: [0], [SAMPLE.temperature]: [0], [SAMPLE.topK]: [d.width], [SAMPLE.topP]: [2] };
  const feeds = (g: Graph, extra: Record<string, ArrayLike<number>>): Record<string, ArrayLike<number>> => {
    const f: Record<string, ArrayLike<number>> = { ...greedy, ...extra };
    for (const n of g.nodes)
      if (n.op === "param")
        f[n.attrs.name!] = state.get(n.attrs.name!) ?? weights.get(n.attrs.name!) ?? new Float64Array(prod(n.shape));
    return f;
  };
  const rows: Float64Array[] = [];
  const pre = d.prefill(P);
  const r = runReference(pre.graph, feeds(pre.graph, { [d.input]: tokens.slice(0, P) }), { exact: true });
  for (const c of d.caches) state.set(c.name, r[`${c.name}.write`].data);
  for (const [out, param] of Object.entries(pre.updates)) state.set(param, r[out].data);
  rows.push(r[NEXT].data);
  expect(r[SAMPLE.token].data[0]).toBe(argmax(r[NEXT].data)); // the sampler, greedy
  // The step's cache writes as outputs, so the reference's new caches can be fed to the next step.
  const writes = d.step.nodes
    .filter((n) => n.op === "write_rows")
    .map((n) => ({ name: d.step.nodes[n.inputs[0]].attrs.name!, id: n.id }));
  const step: Graph = { nodes: d.step.nodes, outputs: [...d.step.outputs, ...writes] };
  for (let t = P; t < tokens.length; t++) {
    const s = runReference(step, feeds(step, { [d.input]: [tokens[t]], [POS]: [t] }), { exact: true });
    for (const w of writes) state.set(w.name, s[w.name].data);
    rows.push(s[NEXT].data);
    expect(s[SAMPLE.token].data[0]).toBe(argmax(s[NEXT].data));
  }
  return rows;
}

function expectStepsMatchForward(model: LoadedModel, maxLen: number, P: number, seed: number): void {
  const r = prng(seed);
  const elab = elaborateAt(model);
  const weights = initParams(elab(2).params, seed);
  for (const v of weights.values()) for (let i = 0; i < v.length; i++) v[i] += 0.2 * (r() - 0.5);
  const d = deriveDecoder(elab, { maxLen });
  const tokens = Array.from({ length: maxLen }, () => Math.floor(r() * d.width));
  const rows = referenceDecode(d, weights, tokens, P);
  const el = elab(maxLen);
  const out = el.graph.outputs.find((o) => o.name === el.generate!.from)!;
  const feeds: Record<string, ArrayLike<number>> = { [d.input]: tokens };
  for (const p of el.params) feeds[p.name] = weights.get(p.name)!;
  const full = runReference({ nodes: el.graph.nodes, outputs: [out] }, feeds, { exact: true })[out.name].data;
  rows.forEach((row, i) => {
    const t = P - 1 + i;
    expectClose(
      row,
      full.subarray(t * d.width, (t + 1) * d.width),
      { atol: 1e-9, rtol: 1e-9 },
      `P = ${P}, position ${t}`,
    );
  });
}

// A model that prepends its start token itself (shared by the step and ragged-batch cases).
const startToken = `import std.nn
model StartToken {
  config { vocab: int = 11, d: int = 8, heads: int = 2, max_len: int = 16 }
  input tokens: i32[B, T]
  let ids = concat([full([B, 1], 1, dtype: i32), tokens], axis: 1)
  let x = LearnedPositions(max_len, d)(Embedding(vocab, d)(ids))
  x = TransformerBlock(d, heads)(x, mask: causal)
  let all = Linear(d, vocab)(x)
  output logits = all[:, 1:]
  generate tokens from logits
}
`;

describe("prefill + steps on the reference equal the forward pass at every position", () => {
  test.each([1, 2, 5])("char_lm, prompt of %i", (P) => expectStepsMatchForward(charLm(), 9, P, P));
  test.each([1, 3])("a start token prepended inside the model, prompt of %i", (P) =>
    expectStepsMatchForward(fromSource(startToken), 7, P, 10 + P),
  );
});

/** A batch of rows with prompts of different lengths, each then stepping from its own position
 *  (POS per row), on the reference: every row's next-token row equals the forward pass of that row
 *  alone at every position it reaches. */
function expectRaggedMatchesForward(
  model: LoadedModel,
  maxLen: number,
  lengths: readonly number[],
  seed: number,
): void {
  const r = prng(seed);
  const B = lengths.length;
  const weights = initParams(elaborateAt(model)(2).params, seed);
  for (const v of weights.values()) for (let i = 0; i < v.length; i++) v[i] += 0.2 * (r() - 0.5);
  const d = deriveDecoder(elaborateAt(model, { B }), { maxLen });
  expect(d.step.nodes.find((n) => n.op === "input" && n.attrs.name === POS)!.shape).toEqual([B]);
  const seqs = lengths.map(() => Array.from({ length: maxLen }, () => Math.floor(r() * d.width)));
  const el = elaborateAt(model)(maxLen);
  const out = el.graph.outputs.find((o) => o.name === el.generate!.from)!;
  const alone = seqs.map((tokens) => {
    const feeds: Record<string, ArrayLike<number>> = { [d.input]: tokens };
    for (const p of el.params) feeds[p.name] = weights.get(p.name)!;
    return runReference({ nodes: el.graph.nodes, outputs: [out] }, feeds, { exact: true })[out.name].data;
  });
  const state = new Map<string, ArrayLike<number>>(d.caches.map((c) => [c.name, new Float64Array(prod(c.shape))]));
  const greedy = { [SAMPLE.seed]: [0], [SAMPLE.temperature]: [0], [SAMPLE.topK]: [d.width], [SAMPLE.topP]: [2] };
  const feeds = (g: Graph, extra: Record<string, ArrayLike<number>>): Record<string, ArrayLike<number>> => {
    const f: Record<string, ArrayLike<number>> = { ...greedy, ...extra };
    for (const n of g.nodes)
      if (n.op === "param") f[n.attrs.name!] = state.get(n.attrs.name!) ?? weights.get(n.attrs.name!)!;
    return f;
  };
  const check = (rows: ArrayLike<number>, at: readonly number[], active: readonly boolean[]): void => {
    at.forEach((t, b) => {
      if (!active[b]) return;
      const row = Array.from(rows).slice(b * d.width, (b + 1) * d.width);
      expectClose(
        row,
        alone[b].subarray(t * d.width, (t + 1) * d.width),
        { atol: 1e-9, rtol: 1e-9 },
        `row ${b} (prompt ${lengths[b]}), position ${t}`,
      );
    });
  };
  const P = Math.max(...lengths);
  const pre = d.prefill(P);
  const padded = seqs.flatMap((s, b) => [...s.slice(0, lengths[b]), ...Array<number>(P - lengths[b]).fill(0)]);
  const r0 = runReference(pre.graph, feeds(pre.graph, { [d.input]: padded, [LENGTHS]: lengths }), { exact: true });
  for (const c of d.caches) state.set(c.name, r0[`${c.name}.write`].data);
  check(
    r0[NEXT].data,
    lengths.map((n) => n - 1),
    lengths.map(() => true),
  );
  const writes = d.step.nodes
    .filter((n) => n.op === "write_rows")
    .map((n) => ({ name: d.step.nodes[n.inputs[0]].attrs.name!, id: n.id }));
  const step: Graph = { nodes: d.step.nodes, outputs: [...d.step.outputs, ...writes] };
  const pos = [...lengths];
  while (pos.some((t) => t < maxLen)) {
    const active = pos.map((t) => t < maxLen);
    const at = pos.map((t) => Math.min(t, maxLen - 1));
    const s = runReference(step, feeds(step, { [d.input]: at.map((t, b) => seqs[b][t]), [POS]: at }), { exact: true });
    for (const w of writes) state.set(w.name, s[w.name].data);
    check(s[NEXT].data, at, active);
    pos.forEach((t, b) => active[b] && (pos[b] = t + 1));
  }
}

describe("a ragged batch on the reference: each row equals its forward pass alone", () => {
  test("char_lm (learned positions)", () => expectRaggedMatchesForward(charLm(), 8, [3, 1, 6], 1));
  const sinCos = `import std.nn
model SinCos {
  config { vocab: int = 13, d: int = 8, heads: int = 2 }
  input tokens: i32[B, T]
  let x = SinCosPositions(d)(Embedding(vocab, d)(tokens))
  x = TransformerBlock(d, heads)(x, mask: causal)
  output logits = Linear(d, vocab)(x)
  generate tokens from logits
}
`;
  test("sin/cos positions (an iota over the sequence)", () =>
    expectRaggedMatchesForward(fromSource(sinCos, "sincos.mira"), 7, [2, 5], 2));
  test("a start token prepended inside the model", () =>
    expectRaggedMatchesForward(fromSource(startToken), 7, [1, 4, 2], 3));
});

/** The error deriving the decoder of `body` (inside a model with tokens: i32[B, T]) gives. */
function decodeError(body: string, extraInputs = ""): DecodeError {
  const src = `import std.nn
model M {
  config { vocab: int = 16, d: int = 8 }
  input tokens: i32[B, T]${extraInputs}
  let h = Embedding(vocab, d)(tokens)
${body}
  generate tokens from logits
}
`;
  const model = fromSource(src, "mixing.mira");
  try {
    deriveDecoder(elaborateAt(model), { maxLen: 8, sources: model.sources });
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
  throw new Error("derived a decoder for a model that mixes positions");
}

describe("a model that mixes positions gets a diagnostic naming the op and its line", () => {
  test("a mean over the sequence", () => {
    const e = decodeError(
      "  let ctx = mean(h, axis: 1)\n  output logits = Linear(d, vocab)(h + reshape(ctx, [B, 1, d]))",
    );
    expect(e.message).toBe(
      "cannot derive an incremental decoder: reduce_mean at models/mixing.mira:6:13 mixes positions " +
        "(it reduces over the sequence)",
    );
    expect(e.diagnostic?.code).toBe("M3007");
  });

  test("a softmax over the sequence", () => {
    expect(decodeError("  output logits = Linear(d, vocab)(h * softmax(h, axis: 1))").message).toMatch(
      new RegExp(
        /^cannot derive an incremental decoder: softmax at models\/mixing\.mira:6:40 mixes /.source +
          /positions \(it normalises over the sequence\)$/.source,
      ),
    );
  });

  test("a shift by one position (a slice dropping the newest)", () => {
    expect(decodeError("  output logits = Linear(d, vocab)(concat([h[:, :1], h[:, :-1]], axis: 1))").message).toMatch(
      new RegExp(
        /^cannot derive an incremental decoder: slice at models\/mixing\.mira:6:\d+ mixes /.source +
          /positions \(the slice picks or drops positions\)$/.source,
      ),
    );
  });

  test("attention without a causal mask, inside std.nn, points at the user's call too", () => {
    const e = decodeError("  output logits = Linear(d, vocab)(TransformerBlock(d, 2)(h, mask: none))");
    expect(e.message).toMatch(
      new RegExp(
        /^cannot derive an incremental decoder: attention at models\/std\/nn\.mira:\d+:\d+ /.source +
          /\(TransformerBlock called at models\/mixing\.mira:6:36, /.source +
          /MultiHeadAttention called at models\/std\/nn\.mira:\d+:\d+\) mixes positions \(attention /.source +
          /with mask none over the sequence; only causal self-attention can be cached\)$/.source,
      ),
    );
    expect(e.diagnostic?.notes?.at(-1)?.span.file).toMatch(/mixing\.mira$/);
  });

  test("a second input indexed by position", () => {
    expect(
      decodeError("  output logits = Linear(d, vocab)(h * reshape(weights, [B, T, 1]))", "\n  input weights: f32[B, T]")
        .message,
    ).toMatch(/input 'weights' has a sequence axis but is not the generated input 'tokens'/);
  });

  test("through the API it is a ModelError with the diagnostic printed and the way out", () => {
    const model = fromSource(
      `import std.nn
model M {
  config { vocab: int = 16, d: int = 8 }
  input tokens: i32[B, T]
  let h = Embedding(vocab, d)(tokens)
  output logits = Linear(d, vocab)(h - reshape(mean(h, axis: 1), [B, 1, d]))
  generate tokens from logits
}
`,
      "mixing.mira",
    );
    expect(() => derive(model, 8)).toThrow(ModelError);
    expect(() => derive(model, 8)).toThrow(
      new RegExp(
        /models\/mixing\.mira:6:48 error M3007 cannot derive an incremental decoder: /.source +
          /reduce_mean mixes positions \(it reduces over the sequence\)[\s\S]*--no-cache/.source,
      ),
    );
  });
});
