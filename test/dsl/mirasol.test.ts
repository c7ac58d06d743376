// mirasol.test.ts: models/mirasol.mira — every Combiner checks clean, elaborates and runs forward on the
// reference interpreter with the expected shapes; presets; the 3b parameter count; and a TTM run chunk
// by chunk (memory carried outside, one chunk per program) equals the unrolled scan.
import { describe, expect, test } from "vitest";
import { grad, gradName } from "../../compiler/grad.js";
import { type Elaborated, elaborate, initParams } from "../../compiler/lower.js";
import { runReference } from "../../compiler/reference.js";
import { check, formatDiagnostics } from "../../dsl/index.js";
import { MODELS, readModel } from "./harness.js";

const FILE = `${MODELS}/mirasol.mira`;
const SOURCE = readModel("mirasol.mira");

function elaborated(
  src: string,
  file: string,
  opts: { preset?: string; set?: string[] },
  batch: Record<string, number>,
): Elaborated {
  const c = check(src, file, opts);
  expect(formatDiagnostics(c.diagnostics, c.sources)).toBe("");
  const e = elaborate(c.result, { batch });
  expect(formatDiagnostics(e.diagnostics, c.sources)).toBe("");
  return e.result!;
}

/** Deterministic inputs: smooth values for media, token ids below 64, answers in the second half. */
function feedsFor(m: Elaborated, seed = 7): Record<string, ArrayLike<number>> {
  const feeds: Record<string, ArrayLike<number>> = Object.fromEntries(initParams(m.params, seed));
  for (const i of m.inputs) {
    const n = i.shape.reduce((a, b) => a * b, 1);
    const len = i.shape.at(-1) ?? 1;
    feeds[i.name] = Array.from({ length: n }, (_, k) =>
      i.dtype === "i32"
        ? (k * 7 + 3) % 64
        : i.name === "loss_mask"
          ? k % len >= len / 2
            ? 1
            : 0
          : Math.sin(k * 0.37 + seed),
    );
  }
  return feeds;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

describe("mirasol tiny: each Combiner checks, elaborates and runs forward", () => {
  // tiny: d = 32, 2 chunks, Nv = (4/4)·(16/4)·(16/4) = 16 video and Na = (16/8)·(32/8) = 8 audio tokens.
  const cases: [string | undefined, number][] = [
    [undefined, 4], // the preset's TransformerCombiner(m: 4)
    ["TransformerCombiner(depth: 2, heads: 2, m: 3)", 3],
    ["TTMCombiner(memory: 32, read: 8)", 8],
    ["TTMCombiner(memory: 8, read: 4, depth: 1, heads: 2)", 4],
    ["ConcatCombiner()", 24],
    ["MeanPoolCombiner(m: 6)", 6],
    ["PerceiverCombiner(m: 5, heads: 2)", 5],
    ["TokenLearnerCombiner(m: 2)", 2],
  ];
  test.each(cases)("combiner=%s → latents [B, 2, %i, 32]", (combiner, out) => {
    const lambdas = ["lambda_latent=0.25", "lambda_recon=2"];
    const m = elaborated(
      SOURCE,
      FILE,
      { preset: "tiny", set: combiner ? [`combiner=${combiner}`, ...lambdas] : lambdas },
      { B: 2, L: 8 },
    );
    expect(m.inputs.map((i) => [i.name, i.dtype, i.shape])).toEqual([
      ["video", "f32", [2, 8, 16, 16, 3]],
      ["spectrogram", "f32", [2, 32, 32]],
      ["text", "i32", [2, 8]],
      ["loss_mask", "f32", [2, 8]],
    ]);
    const r = runReference(m.graph, feedsFor(m));
    expect(r.latents.shape).toEqual([2, 2, out, 32]);
    expect(r.logits.shape).toEqual([2, 8, 64]);
    for (const name of ["latents", "logits", "text_loss", "latent", "recon", "objective"])
      expect(Array.from(r[name].data).every(Number.isFinite), name).toBe(true);
    for (const name of ["text_loss", "latent", "recon", "objective"]) expect(r[name].shape, name).toEqual([]);
    // Untrained: the text loss is near ln(vocab); the objective is the λ-weighted sum.
    expect(Math.abs(r.text_loss.data[0] - Math.log(64))).toBeLessThan(1.5);
    expect(r.objective.data[0]).toBeCloseTo(r.text_loss.data[0] + 0.25 * r.latent.data[0] + 2 * r.recon.data[0], 4);
    expect(m.generate).toEqual({ input: "text", from: "logits", until: 2 });
    expect(m.config.combiner).toBe(combiner?.split("(")[0] ?? "TransformerCombiner");
  });

  test("the text loss counts only the positions the mask marks; padding after them is ignored", () => {
    const m = elaborated(SOURCE, FILE, { preset: "tiny" }, { B: 2, L: 8 });
    const feeds = feedsFor(m);
    const text = Array.from(feeds.text);
    const loss = (t: number[], mask: number[]) =>
      runReference(m.graph, { ...feeds, text: t, loss_mask: mask }).text_loss.data[0];
    expect(
      loss(
        text,
        text.map(() => 0),
      ),
    ).toBe(0); // nothing counted: sum(nll · 0) / max(0, 1)
    const only5 = text.map((_, k) => (k === 5 ? 1 : 0)); // row 0, answer token 5
    const base = loss(text, only5);
    // Tokens after position 5 (padding) cannot change its prediction: the decoder is causal.
    expect(
      loss(
        text.map((t, k) => (k === 6 || k === 7 ? 0 : t)),
        only5,
      ),
    ).toBeCloseTo(base, 6);
    // The counted token itself, and the tokens before it, do.
    expect(
      loss(
        text.map((t, k) => (k === 5 ? (t + 1) % 64 : t)),
        only5,
      ),
    ).not.toBeCloseTo(base, 3);
    expect(
      loss(
        text.map((t, k) => (k === 2 ? (t + 1) % 64 : t)),
        only5,
      ),
    ).not.toBeCloseTo(base, 3);
  });

  test("the latent loss is chosen by config: cosine by default, L2 by --set", () => {
    const cos = elaborated(SOURCE, FILE, { preset: "tiny" }, { B: 2, L: 8 });
    const l2 = elaborated(
      SOURCE,
      FILE,
      { preset: "tiny", set: ["latent_loss=L2Loss()", "lambda_latent=0.5", "lambda_recon=1"] },
      { B: 2, L: 8 },
    );
    const a = runReference(cos.graph, feedsFor(cos));
    const b = runReference(l2.graph, feedsFor(l2));
    expect(a.latent.data[0]).not.toBeCloseTo(b.latent.data[0], 3);
    expect(b.objective.data[0]).toBeCloseTo(b.text_loss.data[0] + 0.5 * b.latent.data[0] + b.recon.data[0], 4);
    // The latent target is held fixed: its value passes through a stop_gradient.
    expect(cos.graph.nodes.some((n) => n.op === "stop_gradient")).toBe(true);
  });
});

describe("mirasol presets", () => {
  test("every preset checks clean", () => {
    for (const preset of [undefined, "tiny", "small", "3b"]) {
      const c = check(SOURCE, FILE, { preset });
      expect(formatDiagnostics(c.diagnostics, c.sources), preset).toBe("");
    }
  });

  test("3b has 3.0 B parameters within 10 %, about half in the audio-video part, without allocating weights", () => {
    const m = elaborated(SOURCE, FILE, { preset: "3b" }, { B: 1, L: 16 });
    expect(Math.abs(m.paramCount - 3.0e9) / 3.0e9).toBeLessThan(0.1);
    const text = m.params
      .filter((p) => p.name.startsWith("decoder.") || p.name.startsWith("to_text."))
      .reduce((s, p) => s + size(p.shape), 0);
    expect(text / m.paramCount).toBeGreaterThan(0.4);
    expect(text / m.paramCount).toBeLessThan(0.6);
    // Parameters are graph inputs with shapes only; nothing of their 12 GB exists.
    expect(m.graph.nodes.filter((n) => n.op === "param").length).toBe(m.params.length);
  });

  test("every Combiner swaps in at 3b by --set alone", () => {
    for (const c of [
      "TTMCombiner(memory: 64, read: 16, heads: 12)",
      "ConcatCombiner()",
      "MeanPoolCombiner(m: 32)",
      "PerceiverCombiner(m: 32, heads: 12)",
    ]) {
      const m = elaborated(SOURCE, FILE, { preset: "3b", set: [`combiner=${c}`] }, { B: 1, L: 16 });
      expect(Math.abs(m.paramCount - 3.0e9) / 3.0e9, c).toBeLessThan(0.1);
    }
  });
});

describe("TTM chunk by chunk equals the unrolled scan", () => {
  // The scan body of TTMCombiner is one TTMStep (`combiner.step.*`); std's TTMStream applies the same
  // step to one chunk with the memory as an input and an output, and bound as `combiner` has the same
  // parameter names. Here the unrolled Combiner runs over 3 chunks, the one-chunk program 3 times,
  // each fed the memory the previous run returned.
  const unrolled = `import std.combiners
model Unrolled {
  config {
    d: int = 8
    combiner: Combiner = TTMCombiner(memory: 5, read: 3, depth: 1, heads: 2, hidden: 8)
  }
  input v: f32[B, T, 4, d]
  input a: f32[B, T, 2, d]
  output latents = combiner(v, a)
}
`;
  const stream = `import std.combiners
model Stream {
  config { d: int = 8 }
  input memory_in: f32[B, 5, d]
  input v: f32[B, 4, d]
  input a: f32[B, 2, d]
  let combiner = TTMStream(5, 3, 1, 2, 8)
  let r = combiner(memory_in, v, a)
  output latents = r[:, :3]
  output memory_out = r[:, 3:]
}
`;
  test("the Combiner alone: same outputs, chunk by chunk, with the memory carried between programs", () => {
    const file = `${MODELS}/ttm_case.mira`;
    const full = elaborated(unrolled, file, {}, { B: 2, T: 3 });
    const step = elaborated(stream, file, {}, { B: 2 });
    expect(step.params.map((p) => p.name).sort()).toEqual(full.params.map((p) => p.name).sort());
    const params = Object.fromEntries(initParams(full.params, 11));
    const [B, T, d] = [2, 3, 8];
    const v = Array.from({ length: B * T * 4 * d }, (_, k) => Math.sin(k * 0.61));
    const a = Array.from({ length: B * T * 2 * d }, (_, k) => Math.cos(k * 0.29));
    const want = runReference(full.graph, { ...params, v, a }).latents; // [B, T, 3, d]
    expect(want.shape).toEqual([B, T, 3, d]);
    let memory: ArrayLike<number> = new Array(B * 5 * d).fill(0); // M_0 = 0
    for (let t = 0; t < T; t++) {
      const r = runReference(step.graph, {
        ...params,
        memory_in: memory,
        v: chunkOf(v, B, T, 4 * d, t),
        a: chunkOf(a, B, T, 2 * d, t),
      });
      expectClose(r.latents.data, chunkOf(Array.from(want.data), B, T, 3 * d, t));
      memory = r.memory_out.data;
    }
    // The memory matters: a run from zeros at chunk 2 gives other outputs.
    const fresh = runReference(step.graph, {
      ...params,
      memory_in: new Array(B * 5 * d).fill(0),
      v: chunkOf(v, B, T, 4 * d, 2),
      a: chunkOf(a, B, T, 2 * d, 2),
    });
    expect(Math.abs(fresh.latents.data[0] - want.data[2 * 3 * d])).toBeGreaterThan(1e-4);
  });
  // Mirasol's whole A/V front chunk by chunk, derived from mirasol.mira itself (block-causal K/V cache,
  // TTM memory as a state): test/compiler/stream.test.ts and test/apps/mirasol/stream.test.ts.
});

/** Chunk t of a [B, T, …] array whose chunks hold `per` values each, as [B, …]. */
function chunkOf(x: readonly number[], B: number, T: number, per: number, t: number): number[] {
  return Array.from({ length: B * per }, (_, k) => x[Math.floor(k / per) * T * per + t * per + (k % per)]);
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++)
    if (!(Math.abs(got[i] - want[i]) <= 1e-5 + 1e-5 * Math.abs(want[i])))
      expect.fail(`index ${i}: ${got[i]} vs ${want[i]}`);
}

describe("mirasol tiny gradients (float64 reference)", () => {
  // A random direction over every parameter; the directional derivative from grad() against central
  // finite differences. This runs every part backwards: both ViTs, the Combiner (TokenLearner read
  // and write inside the TTM scan), block-causal and cross attention, and the three losses.
  function directional(set: string[], loss: string, only?: (name: string) => boolean) {
    const m = elaborated(SOURCE, FILE, { preset: "tiny", set }, { B: 1, L: 6 });
    const g = grad(m.graph, loss);
    const init = initParams(m.params, 3);
    let s = 12345;
    const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 8) / 2 ** 24 - 0.5;
    const dir = new Map(
      m.params.map((p) => [p.name, Float64Array.from(init.get(p.name)!, () => (only && !only(p.name) ? 0 : rand()))]),
    );
    const inputs = feedsFor(m);
    const feeds = (eps: number): Record<string, ArrayLike<number>> => {
      const f: Record<string, ArrayLike<number>> = {
        video: inputs.video,
        spectrogram: inputs.spectrogram,
        text: inputs.text,
        loss_mask: inputs.loss_mask,
      };
      for (const p of m.params)
        f[p.name] = Float64Array.from(init.get(p.name)!, (v, i) => v + eps * dir.get(p.name)![i]);
      return f;
    };
    const at = runReference(g, feeds(0), { exact: true });
    let analytic = 0;
    for (const p of m.params) {
      const gp = at[gradName(p.name)].data;
      const d = dir.get(p.name)!;
      for (let i = 0; i < d.length; i++) analytic += gp[i] * d[i];
    }
    const h = 1e-5;
    const fd =
      (runReference(g, feeds(h), { exact: true })[loss].data[0] -
        runReference(g, feeds(-h), { exact: true })[loss].data[0]) /
      (2 * h);
    return { analytic, fd };
  }

  // FD sees through stop_gradient and grad() does not, so the latent loss is checked along the
  // parameters that do not feed its target (the AR model and the predictor); the other losses along all.
  const ttm = ["combiner=TTM(memory: 4, read: 2, depth: 1, heads: 2, hidden: 8)"];
  const predictorSide = (n: string) => n.startsWith("ar.") || n.startsWith("predict_latent.");
  test.each([
    ["text_loss", [], undefined],
    ["text_loss", ttm, undefined],
    ["recon", ttm, undefined],
    ["latent", ttm, predictorSide],
    // g = 1: the target passes its whole gradient, so grad() sees what finite differences see, encoders included
    ["latent", ["latent_target_grad=1"], undefined],
  ] as const)(
    "%s with %j: grad() matches finite differences",
    (loss, set, only) => {
      const { analytic, fd } = directional([...set], loss, only);
      expect(Math.abs(analytic)).toBeGreaterThan(1e-6); // the direction moves the loss at all
      expect(Math.abs(fd - analytic)).toBeLessThanOrEqual(1e-7 + 1e-6 * Math.abs(analytic));
    },
    60_000,
  );

  test("the latent target is stop-gradient: along the encoders' weights, " +
    "grad() leaves out what finite differences see through it", () => {
    // Moving the encoder weights moves both the prediction and the target; the gradient counts only
    // the prediction's side, so it must differ from the finite difference, by far more than rounding.
    const { analytic, fd } = directional([], "latent", (n) => n.startsWith("video_encoder."));
    expect(Math.abs(fd - analytic)).toBeGreaterThan(1e-3 * Math.max(Math.abs(fd), 1e-3));
  }, 60_000);

  test("latent_target_grad = 0 (the default) is the plain stop-gradient target: " +
    "the same latent loss and gradients", () => {
    const plain = SOURCE.replace(
      /^  let target = latent_target_grad \*.*$/m,
      "  let target = stop_gradient(next_latents)",
    );
    expect(plain).not.toBe(SOURCE);
    const [ours, theirs] = [SOURCE, plain].map((src) => {
      const m = elaborated(src, FILE, { preset: "tiny" }, { B: 1, L: 6 });
      return { out: runReference(grad(m.graph, "latent"), feedsFor(m), { exact: true }), params: m.params };
    });
    const names = ["latent", ...ours.params.map((p) => gradName(p.name))];
    expect(names.length).toBeGreaterThan(50);
    for (const name of names) {
      const [a, b] = [ours.out[name].data, theirs.out[name].data];
      expect(a.length, name).toBe(b.length);
      for (let i = 0; i < a.length; i++)
        if (Math.abs(a[i] - b[i]) > 1e-12 * (1 + Math.abs(b[i]))) expect.fail(`${name}[${i}]: ${a[i]} vs ${b[i]}`);
    }
  }, 60_000);
});
