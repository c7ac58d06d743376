// chunks.test.ts: std.chunks (the time-aligned AR model, with chunk positions learned, sin/cos or
// rotary, chosen by `--set ar=…`), std.combiners' LastTokensCombiner (the paper's "last m of
// [v ; a]") and std.vit's SparseTubeViT (sparse tubes of two shapes, `--set video_encoder=…`): each
// choice elaborates and runs Mirasol tiny forward; the defaults are the model as it was before the
// choices existed (same parameters, same logits); every choice's output for the first chunks
// ignores later chunks; rotary reads only distances between chunks (a later start gives the same
// outputs), and every choice reads chunk order; rotary's gradients against finite differences, and on
// the GPU against the reference.
import { describe, expect, test } from "vitest";
import { grad } from "../../compiler/grad.js";
import { type Elaborated, elaborate, initParams } from "../../compiler/lower.js";
import { runReference } from "../../compiler/reference.js";
import { check, formatDiagnostics } from "../../dsl/index.js";
import { alongRandomDirection } from "../compiler/grad-suite.js";
import { MODELS, readModel } from "../dsl/harness.js";
import { expectClose } from "../helpers/close.js";
import { runOnGpu } from "../helpers/gpu.js";

const FILE = `${MODELS}/mirasol.mira`;
const SOURCE = readModel("mirasol.mira");

function elaborated(src: string, file: string, set: string[], batch: Record<string, number>, preset?: string) {
  const c = check(src, file, { preset, set });
  expect(formatDiagnostics(c.diagnostics, c.sources)).toBe("");
  const e = elaborate(c.result, { batch });
  expect(formatDiagnostics(e.diagnostics, c.sources)).toBe("");
  return e.result!;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 8) / 2 ** 24;
}

/** Params from the model's initialisers (seeded); float inputs uniform in [−1, 1], token ids below 64. */
function feedsFor(el: Elaborated, seed: number): Record<string, number[]> {
  const r = lcg(seed + 1);
  const feeds: Record<string, number[]> = Object.fromEntries(
    [...initParams(el.params, seed)].map(([k, v]) => [k, Array.from(v)]),
  );
  for (const i of el.inputs) {
    const n = i.shape.reduce((a, b) => a * b, 1);
    feeds[i.name] = Array.from({ length: n }, (_, k) =>
      i.dtype === "i32" ? Math.floor(r() * 64) : i.name === "loss_mask" ? k % 2 : 2 * r() - 1,
    );
  }
  return feeds;
}

const AR_CHOICES = [
  "LearnedChunkAR(heads, ar_depth, max_chunks, chunk_position_std)",
  "SinCosChunkAR(heads, ar_depth)",
  "RotaryChunkAR(heads, ar_depth)",
];

describe("Mirasol tiny with each AR model and the paper's Transformer Combiner", () => {
  test.each([
    ...AR_CHOICES.map((ar) => `ar=${ar}`),
    "ar=SinCos(heads, ar_depth)",
    "ar=Rotary(heads, ar_depth, start: 3)",
    "combiner=LastTokens(depth: 1, heads: 2, m: 4)",
    "combiner=LastTokensCombiner(depth: 2, heads: 2, m: 3)",
    "video_encoder=SparseTubeViT(d, heads, video_depth, patch)",
  ])("%s elaborates and runs forward with the expected shapes", (set) => {
    const m = elaborated(SOURCE, FILE, [set, "lambda_latent=0.5", "lambda_recon=1"], { B: 2, L: 8 }, "tiny");
    const r = runReference(m.graph, feedsFor(m, 3));
    const out = set.includes("m: 3") ? 3 : 4;
    expect(r.latents.shape).toEqual([2, 2, out, 32]);
    expect(r.logits.shape).toEqual([2, 8, 64]);
    for (const name of ["latents", "logits", "objective"])
      expect(Array.from(r[name].data).every(Number.isFinite), name).toBe(true);
  });

  test("sin/cos and rotary positions learn nothing: the learned table is the only parameter they drop", () => {
    const [learned, sincos, rotary] = AR_CHOICES.map((ar) =>
      elaborated(SOURCE, FILE, [`ar=${ar}`], { B: 1, L: 8 }, "tiny"),
    );
    const names = (m: Elaborated) => m.params.map((p) => `${p.name} ${p.shape}`);
    expect(names(sincos)).toEqual(names(learned).filter((n) => !n.startsWith("ar.chunk_positions ")));
    expect(names(rotary)).toEqual(names(sincos));
    expect(learned.paramCount - rotary.paramCount).toBe(16 * 32); // max_chunks × d
  });
});

describe("the default AR model and video encoder are the ones before the choices existed", () => {
  // The model as it was: its own TimeAlignedAR module, constructed in the body as `ar`.
  const OLD_AR = [
    "module TimeAlignedAR(d: int, heads: int, depth: int, max_chunks: int, position_std: float)" +
      "(x: f32[B, T, M, d]) -> f32[B, T * M, d] {",
    "  param chunk_positions: f32[max_chunks, d] = normal(position_std)",
    "  let pos = broadcast(reshape(chunk_positions[:T, :], [1, T, 1, d]), [B, T, M, d])",
    "  let h = reshape(x + pos, [B, T * M, d])",
    "  repeat depth as blocks {",
    "    h = TransformerBlock(d, heads)(h, mask: block_causal(M))",
    "  }",
    "  return LayerNorm(d)(h)",
    "}",
    "",
    "",
  ].join("\n");
  // ... and its video encoder constructed in the body, not a config value
  const before = (): string => {
    const key = /\n\s*ar: ChunkAR = [^\n]*/;
    const call = "  let h = ar(latents)";
    const encoderKey = /\n\s*video_encoder: VideoEncoder = [^\n]*/;
    const audio = "  let audio_encoder = ";
    for (const k of [key, encoderKey]) expect(SOURCE).toMatch(k);
    for (const c of [call, audio]) expect(SOURCE).toContain(c);
    return SOURCE.replace(key, "")
      .replace(encoderKey, "")
      .replace(call, "  let ar = TimeAlignedAR(d, heads, ar_depth, max_chunks, chunk_position_std)\n" + call)
      .replace(audio, "  let video_encoder = VideoViT(d, heads, video_depth, tube, patch)\n" + audio)
      .replace("model Mirasol {", `${OLD_AR}model Mirasol {`);
  };

  test.each([["tiny"], [undefined], ["small"]])("preset %s: same parameters, same logits and losses", (preset) => {
    const now = elaborated(SOURCE, FILE, [], { B: 1, L: 4 }, preset);
    const old = elaborated(before(), FILE, [], { B: 1, L: 4 }, preset);
    expect(now.params).toEqual(old.params);
    expect(now.paramCount).toBe(old.paramCount);
    if (preset !== "tiny") return; // the reference interpreter runs only the tiny one, quickly
    const feeds = feedsFor(now, 5);
    const a = runReference(now.graph, feeds);
    const b = runReference(old.graph, feeds);
    for (const name of ["latents", "logits", "text_loss", "latent", "recon", "objective"])
      expect(Array.from(a[name].data), name).toEqual(Array.from(b[name].data));
  });
});

/** The AR model alone over x: f32[B, T, M, d], with loss = mean(y · w). */
const arPart = (ar: string, T: number, M: number, d: number): string => `import std.chunks
model Part {
  config {
    heads: int = 2
    ar_depth: int = 2
    max_chunks: int = 8
    chunk_position_std: float = 1.0
    ar: ChunkAR = ${ar}
  }
  input x: f32[B, ${T}, ${M}, ${d}]
  input w: f32[B, ${T * M}, ${d}]
  output y = ar(x)
  loss total = mean(y * w)
  objective = total
}
`;
const PART = `${MODELS}/part_case.mira`;
const part = (ar: string, T: number, M = 3, d = 8, set: string[] = []) =>
  elaborated(arPart(ar, T, M, d), PART, set, { B: 2 });

/** x laid out [B, T, M, d] from per-(b, t) chunks; `chunk(b, t)` gives M·d values. */
function clip(B: number, T: number, chunk: (b: number, t: number) => number[]): number[] {
  return Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => chunk(b, t)).flat(2)).flat();
}

test("sparse tubes: 1 × 4 × 4 image tubes on a chunk's first frame and 4 × 8 × 8 tubes over all its frames", () => {
  // tiny: 4 frames of 16 × 16 a chunk, patch 4: 16 image tubes and 4 long ones, against 16 tubelets of 4 × 4 × 4
  const sparse = elaborated(
    SOURCE,
    FILE,
    ["video_encoder=SparseTubeViT(d, heads, video_depth, patch)"],
    { B: 1, L: 4 },
    "tiny",
  );
  const shapes = Object.fromEntries(sparse.params.map((p) => [p.name, p.shape]));
  expect(shapes["video_encoder.image_tubes.linear.w"]).toEqual([1 * 4 * 4 * 3, 32]);
  expect(shapes["video_encoder.long_tubes.linear.w"]).toEqual([4 * 8 * 8 * 3, 32]);
  expect(shapes["video_encoder.encoder.positions"]).toEqual([16 + 4, 32]);
  const r = runReference(sparse.graph, feedsFor(sparse, 2));
  expect(r.latents.shape).toEqual([1, 2, 4, 32]);
});

describe("how each AR model reads chunk order", () => {
  const M = 3;
  const d = 8;
  const r = lcg(11);
  const chunks = Array.from({ length: 2 * 6 }, () => Array.from({ length: M * d }, () => 2 * r() - 1));
  const chunk = (b: number, t: number) => chunks[b * 6 + t];

  test.each(AR_CHOICES)("%s: the first chunks' outputs ignore later chunks (block-causal)", (ar) => {
    const short = part(ar, 3);
    const long = part(ar, 6);
    const params = Object.fromEntries(initParams(short.params, 2));
    const y = (m: Elaborated, T: number) =>
      runReference(m.graph, { ...params, x: clip(2, T, chunk), w: new Array(2 * T * M * d).fill(0) }, { exact: true }).y
        .data;
    const ys = y(short, 3);
    const yl = y(long, 6);
    for (let b = 0; b < 2; b++)
      expectClose(
        Array.from(yl).slice(b * 6 * M * d, (b * 6 + 3) * M * d),
        Array.from(ys).slice(b * 3 * M * d, (b + 1) * 3 * M * d),
        { atol: 1e-12, rtol: 1e-12 },
        `batch ${b}`,
      );
  });

  test.each(AR_CHOICES)("%s reads order: swapping the first two chunks changes the last chunk's output", (ar) => {
    const m = part(ar, 4);
    const params = Object.fromEntries(initParams(m.params, 2));
    const y = (order: number[]) =>
      Array.from(
        runReference(
          m.graph,
          { ...params, x: clip(2, 4, (b, t) => chunk(b, order[t])), w: new Array(2 * 4 * M * d).fill(0) },
          { exact: true },
        ).y.data,
      );
    const last = (v: number[]) => v.slice(3 * M * d, 4 * M * d); // batch 0, chunk 3
    const diff = Math.max(...last(y([0, 1, 2, 3])).map((v, i) => Math.abs(v - last(y([1, 0, 2, 3]))[i])));
    expect(diff).toBeGreaterThan(1e-4);
  });

  test("rotary reads only distances between chunks: a clip started at chunk 5 gives the same outputs", () => {
    const at0 = part("RotaryChunkAR(heads, ar_depth)", 4);
    const at5 = part("RotaryChunkAR(heads, ar_depth, start: 5)", 4);
    const params = Object.fromEntries(initParams(at0.params, 4));
    const feeds = { ...params, x: clip(2, 4, chunk), w: new Array(2 * 4 * M * d).fill(0) };
    const a = Array.from(runReference(at0.graph, feeds, { exact: true }).y.data);
    const b = Array.from(runReference(at5.graph, feeds, { exact: true }).y.data);
    expectClose(b, a, { atol: 1e-10, rtol: 1e-10 }, "start 5 against start 0");
  });
});

describe("rotary chunk positions: gradients", () => {
  const small = () => part("RotaryChunkAR(heads, ar_depth)", 3, 2, 4, ["ar_depth=1"]);
  const feeds = (el: Elaborated, seed: number) => feedsFor(el, seed);

  test("equal finite differences along random directions (float64 reference)", () => {
    for (const seed of [1, 2, 3]) {
      const el = small();
      const r = lcg(seed + 7);
      const { an, fd, mass } = alongRandomDirection(
        el.graph,
        "total",
        el.params.map((p) => p.name),
        feeds(el, seed),
        r,
        1e-4,
      );
      expect(mass).toBeGreaterThan(1e-9);
      expect(Math.abs(fd - an), `seed ${seed}: fd ${fd} vs grad() ${an}`).toBeLessThanOrEqual(1e-8 + 1e-6 * mass);
    }
  });

  test("outputs and gradients on the GPU equal the reference", async () => {
    const el = small();
    const g = grad(el.graph, "total");
    const f = feeds(el, 9);
    const got = await runOnGpu(g, f);
    const ref = runReference(g, f);
    for (const o of g.outputs) {
      const want = ref[o.name].data;
      const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expectClose(got[o.name], want, { atol: 1e-5 * (1 + scale), rtol: 1e-4 }, o.name);
    }
  }, 240_000);
});
