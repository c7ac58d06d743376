// stream.test.ts: the streaming encoder derived from mirasol.mira (compiler/stream.ts), on the float64
// reference interpreter: chunk by chunk, with only the K/V caches and the TTM memory carried between
// runs, it yields the values the text decoder reads as the whole clip does; its per-chunk program is
// one graph whatever t is (so its FLOPs are); models that mix chunks get M3008 at the op's line.
import { describe, expect, test } from "vitest";
import { type LoadedModel, loadModel, modelFromSource } from "../../api/model.js";
import type { Graph } from "../../compiler/ir.js";
import { initParams } from "../../compiler/lower.js";
import { runReference } from "../../compiler/reference.js";
import { graphFlops } from "../../compiler/report.js";
import { compileGraph } from "../../compiler/program.js";
import { DEFAULT_LIMITS } from "../../compiler/limits.js";
import {
  CHUNK,
  type ElabAt,
  StreamError,
  cacheWrite,
  deriveStream,
  joinChunks,
  keptValues,
  memoryName,
} from "../../compiler/stream.js";
import { chunkOf } from "../../runtime/stream.js";
import { readFileSync } from "node:fs";
import { randomClip } from "../helpers/clip.js";

const FILE = "models/mirasol.mira";
const TTM = "combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)";

/** mirasol.mira (or a variant of its text) elaborated at C chunks and text length T. */
export function mirasolAt(
  set: readonly string[] = [],
  source?: string,
  B = 1,
): { elab: ElabAt; model: (C: number) => LoadedModel } {
  const models = new Map<number, LoadedModel>();
  const model = (C: number): LoadedModel => {
    let m = models.get(C);
    if (!m) {
      const opts = { preset: "tiny", set: [...set, `chunks=${C}`] };
      m = source === undefined ? loadModel(FILE, opts) : modelFromSource(source, FILE, opts);
      models.set(C, m);
    }
    return m;
  };
  return { elab: (C, T) => model(C).elaborate({ B, L: T }), model };
}

/** Streams C chunks of a random clip through the per-chunk program on the reference interpreter and
 *  compares the joined rows with the whole clip's values. */
function streamEqualsWhole(set: readonly string[], C: number, B = 1, source?: string): void {
  const { elab, model } = mirasolAt(set, source, B);
  const stream = deriveStream(elab, { maxChunks: 5, sources: model(2).sources });
  const whole = elab(C, 3);
  const params: Record<string, ArrayLike<number>> = Object.fromEntries(initParams(whole.params, 5));
  const clip = randomClip(whole.inputs, 17);
  const kept = keptValues(elab, C, model(C).sources);
  const g: Graph = { nodes: whole.graph.nodes, outputs: kept.map((id, i) => ({ name: memoryName(i), id })) };
  const want = runReference(g, {
    ...params,
    ...clip,
    text: new Array(B * 3).fill(0),
    loss_mask: new Array(B * 3).fill(0),
  });

  const carried: Record<string, ArrayLike<number>> = Object.fromEntries(
    stream.carried.map((c) => [c.name, new Array(c.shape.reduce((a, b) => a * b, 1)).fill(c.init)]),
  );
  const rows: ArrayLike<number>[][] = stream.rows.map(() => []);
  for (let t = 0; t < C; t++) {
    const feeds: Record<string, ArrayLike<number>> = { ...params, ...carried, [CHUNK]: [t] };
    for (const i of stream.inputs) feeds[i.name] = chunkOf(clip[i.name], i, C, t);
    const out = runReference(stream.graph, feeds);
    stream.rows.forEach((r, i) => rows[i].push(out[r.name].data));
    for (const c of stream.carried)
      carried[c.name] = (
        out[cacheWrite(c.name)] ?? out[Object.keys(stream.updates).find((k) => stream.updates[k] === c.name)!]
      ).data;
  }
  stream.rows.forEach((r, i) => {
    const got = joinChunks(rows[i], r.shape, r.axis);
    const w = want[memoryName(i)];
    expect(w.shape[r.axis]).toBe(C * r.rows);
    expect(got.length).toBe(w.data.length);
    let worst = 0;
    for (let k = 0; k < got.length; k++)
      worst = Math.max(worst, Math.abs(got[k] - w.data[k]) / (1e-3 + Math.abs(w.data[k])));
    expect(worst, `${memoryName(i)}: worst relative difference`).toBeLessThan(1e-4);
  });
}

describe("streaming encoding equals whole-clip encoding (reference interpreter)", () => {
  test("Mirasol tiny, Transformer combiner: 3 chunks", () => streamEqualsWhole([], 3));
  test("Mirasol tiny, TTM combiner (the memory carried as a state): 3 chunks, 2 batch rows", () =>
    streamEqualsWhole([TTM], 3, 2));
  test.each([
    "ConcatCombiner()",
    "MeanPoolCombiner(m: 4)",
    "PerceiverCombiner(m: 4, heads: 2)",
    "TokenLearnerCombiner(m: 4, hidden: 8)",
    "LastTokensCombiner(depth: 1, heads: 2, m: 4)",
  ])("Mirasol tiny, %s: 2 chunks", (c) => streamEqualsWhole([`combiner=${c}`], 2));
  // chunk positions computed from the chunk index (std.chunks) rather than read from a learned table; sparse tubes
  test.each([
    "ar=SinCos(heads, ar_depth)",
    "ar=Rotary(heads, ar_depth)",
    "video_encoder=SparseTubeViT(d, heads, video_depth, patch)",
  ])("Mirasol tiny, %s: 3 chunks", (set) => streamEqualsWhole([set], 3));
  test("a scan over the chunks written in the model (no carry), 3 chunks", () => {
    const text = readFileSync(FILE, "utf8").replace(
      "output latents = combiner(v, a)",
      "output latents = scan t over chunks {\n    yield v[:, t, :4] + a[:, t, :4]\n  }",
    );
    streamEqualsWhole([], 3, 1, text);
  });
  // (Mirasol needs 2 chunks or more: its latent loss compares chunk t + 1 with chunk t)
  test("2 chunks, and as many as the caches hold", () => {
    streamEqualsWhole([TTM], 2);
    streamEqualsWhole([], 5);
  });
});

describe("the per-chunk program", () => {
  test("Transformer combiner: the clip's chunk, the chunk index, a K/V cache per AR layer, no other state", () => {
    const { elab, model } = mirasolAt();
    const s = deriveStream(elab, { maxChunks: 8, sources: model(2).sources });
    expect(s.inputs.map((i) => [i.name, i.shape])).toEqual([
      ["video", [1, 4, 16, 16, 3]],
      ["spectrogram", [1, 16, 32]],
    ]);
    expect(
      s.graph.nodes
        .filter((n) => n.op === "input")
        .map((n) => n.attrs.name)
        .sort(),
    ).toEqual(["spectrogram", CHUNK, "video"]);
    expect(s.carried.map((c) => [c.name, c.shape])).toEqual([
      ["stream.cache.0.k", [1, 2, 32, 16]],
      ["stream.cache.0.v", [1, 2, 32, 16]],
    ]);
    expect(s.updates).toEqual({});
    // the text decoder's cross-attention K and V (one layer): 4 latents per chunk
    expect(s.rows.map((r) => [r.shape, r.axis, r.rows])).toEqual([
      [[1, 2, 4, 16], 2, 4],
      [[1, 2, 4, 16], 2, 4],
    ]);
  });

  test("TTM combiner: its memory is a state copied back after each chunk", () => {
    const { elab, model } = mirasolAt([TTM]);
    const s = deriveStream(elab, { maxChunks: 8, sources: model(2).sources });
    expect(s.carried.map((c) => [c.name, c.shape])).toEqual([
      ["stream.state.0", [1, 8, 32]],
      ["stream.cache.0.k", [1, 2, 32, 16]],
      ["stream.cache.0.v", [1, 2, 32, 16]],
    ]);
    expect(Object.values(s.updates)).toEqual(["stream.state.0"]);
  });

  test("its FLOPs do not depend on the chunk index or the chunk count", () => {
    const { elab, model } = mirasolAt();
    const s4 = deriveStream(elab, { maxChunks: 4, sources: model(2).sources });
    const s8 = deriveStream(elab, { maxChunks: 8, sources: model(2).sources });
    // t is an input: one graph for every chunk; caches of 8 chunks against 4 change only the attention
    // over the cache (masked keys are skipped by the kernels but counted here)
    const attention = (g: Graph) => g.nodes.filter((n) => n.op === "attention").length;
    expect(attention(s4.graph)).toBe(attention(s8.graph));
    expect(graphFlops(s4.graph)).toBeGreaterThan(0);
    // the whole clip's encoding grows with C; one chunk's does not
    const perChunk = graphFlops(s4.graph);
    expect(perChunk).toBeLessThan(graphFlops(elab(2, 2).graph));
  });

  test("as compiled: one chunk costs what each chunk of the whole clip costs, whatever t is", () => {
    const { elab, model } = mirasolAt();
    const s = deriveStream(elab, { maxChunks: 4, sources: model(2).sources });
    const perChunk = graphFlops(compileGraph(s.graph, DEFAULT_LIMITS, { updates: s.updates }).graph);
    const whole = [2, 3, 4].map((C) => {
      const e = elab(C, 2);
      const kept = keptValues(elab, C, model(C).sources);
      return graphFlops(
        compileGraph(
          { nodes: e.graph.nodes, outputs: kept.map((id, i) => ({ name: `kept.${i}`, id })) },
          DEFAULT_LIMITS,
        ).graph,
      );
    });
    // the whole clip grows with C (about linearly: its AR attention is C·M × C·M)
    expect(Math.abs((whole[2] - whole[1]) / (whole[1] - whole[0]) - 1)).toBeLessThan(0.01);
    // attention over the cache counts every row it holds
    expect(Math.abs(perChunk - (whole[2] - whole[1])) / perChunk).toBeLessThan(0.02);
  });

  test("caches of more chunks than the model has chunk positions are refused", () => {
    const { elab, model } = mirasolAt();
    expect(() => deriveStream(elab, { maxChunks: 17, sources: model(2).sources })).toThrow(
      /reads 17 rows of a table of 16/,
    );
  });
});

describe("models that mix chunks get M3008 at the op's line", () => {
  const source = readFileSync(FILE, "utf8");
  const derive = (text: string, set: readonly string[] = []) => {
    const { elab, model } = mirasolAt(set, text);
    return () => deriveStream(elab, { maxChunks: 4, sources: model(2).sources });
  };
  const line = (needle: string): number => source.split("\n").findIndex((l) => l.includes(needle)) + 1;

  test("non-causal attention over the chunks (the AR model with mask: none)", () => {
    // std.chunks' AR model with mask: none, declared in the model's file
    const nonCausal =
      "module NonCausalAR(heads: int, depth: int) implements ChunkAR {\n  let h = reshape(x, [B, T * M, d])\n" +
      "  repeat depth as blocks {\n    h = TransformerBlock(d, heads)(h, mask: none)\n  }\n" +
      "  return LayerNorm(d)(h)\n}\n\nmodel Mirasol {";
    const text = source.replace("model Mirasol {", nonCausal);
    const f = derive(text, ["ar=NonCausalAR(heads, ar_depth)"]);
    const at = text.split("\n").findIndex((l) => l.includes("mask: none")) + 1;
    expect(f).toThrow(StreamError);
    try {
      f();
    } catch (e) {
      const err = e as StreamError;
      expect(err.diagnostic?.code).toBe("M3008");
      expect(err.message).toMatch(/attention .*mixes chunks \(attention with mask none over the chunks/);
      expect(err.message).toContain(`TransformerBlock called at models/mirasol.mira:${at}`);
    }
  });

  test("a mean over the chunks", () => {
    const text = source.replace(
      "let h = ar(latents)",
      "let h = ar(latents - broadcast(mean(latents, axis: 1, keep: true), [B, chunks, m, d]))",
    );
    expect(derive(text)).toThrow(
      new RegExp(
        `reduce_mean at models/mirasol.mira:${line("let h = ar(latents)")}:\\d+ mixes chunks ` +
          `\\(it reduces over the chunks\\)`,
      ),
    );
  });

  test("a scan whose steps use the chunk index as a number", () => {
    const text = source.replace(
      "output latents = combiner(v, a)",
      "output latents = scan t over chunks {\n    yield v[:, t, :4] * (t + 1)\n  }",
    );
    expect(derive(text)).toThrow(/mirasol\.mira:\d+:\d+ .*differs from step to step of a scan over the chunks/);
  });

  test("a combiner looking at the next chunk", () => {
    const text = source.replace("let h = ar(latents)", "let h = ar(concat([latents[:, 1:], latents[:, :1]], axis: 1))");
    expect(derive(text)).toThrow(/mirasol\.mira:\d+:\d+ .*(mixes chunks|drops or adds chunks)/);
  });
});
