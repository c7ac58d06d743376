// stream.test.ts (mirasol): streaming A/V encoding on the GPU (apps/mirasol/stream.ts, runtime/stream.ts) — Mirasol
// tiny with random (seeded, untrained) weights and a random clip, fed chunk by chunk through the derived
// per-chunk program: the memory the text decoder reads equals the whole clip's (max relative difference
// below 1e-4, f32 kernels in other orders), and greedy answers from it equal those of the whole model
// recomputed per token (full-length answers, then up to eos), for two clips through one stream.
import { describe, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { ClipStream, chunkedModel, deriveModelStream } from "../../../apps/mirasol/stream.js";
import { ModelError, loadModel, modelFromSource } from "../../../api/model.js";
import { initParams } from "../../../compiler/lower.js";
import { keptValues, memoryName } from "../../../compiler/stream.js";
import { compileFor } from "../../../runtime/autotune-cache.js";
import { getGpu } from "../../../runtime/device.js";
import { Executor } from "../../../runtime/executor.js";
import { argmax } from "../../../runtime/sampling.js";
import { randomClip } from "../../helpers/clip.js";

const SLOW = 900_000;
const TTM = "combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)";

async function streamAgainstWhole(set: string[], C: number): Promise<void> {
  const gpu = await getGpu();
  const model = loadModel("models/mirasol.mira", { preset: "tiny", set });
  const L = 8;
  const elab = chunkedModel(model);
  const whole = elab(C, L);
  const params = initParams(whole.params, 3);
  const load = (ex: Executor, names: readonly string[]) => names.forEach((n) => ex.write(n, params.get(n)!));
  const clip1 = randomClip(whole.inputs, 40);

  const s = await ClipStream.open(gpu, model, load, { maxChunks: 4 });
  // The whole clip: the same values from the model at C chunks, and its logits for greedy answers.
  const kept = keptValues(elab, C, model.sources);
  const logits = whole.graph.outputs.find((o) => o.name === "logits")!;
  const ex = await Executor.create(
    gpu,
    compileFor(gpu, {
      nodes: whole.graph.nodes,
      outputs: [logits, ...kept.map((id, i) => ({ name: memoryName(i), id }))],
    }),
  );
  try {
    load(
      ex,
      ex.program.params.map((p) => p.name),
    );
    if (ex.program.inputs.some((i) => i.name === "loss_mask")) ex.write("loss_mask", new Float32Array(L));
    // Two clips through the same stream (reset between them), the same decoders reused.
    for (const clip of [clip1, Object.fromEntries(Object.entries(clip1).map(([k, v]) => [k, v.slice().reverse()]))]) {
      const seen: number[] = [];
      const results = await s.encode(clip, C, (r) => seen.push(r.chunk));
      expect(seen).toEqual([...Array(C).keys()]); // each chunk's result before the next chunk is fed
      expect(results.length).toBe(C);
      const memory = s.encoder.memory();
      ex.write("video", clip.video);
      ex.write("spectrogram", clip.spectrogram);
      const ids = [5, 9, 3];
      ex.write(
        "text",
        Int32Array.from({ length: L }, (_, k) => ids[k] ?? 0),
      );
      const want = await ex.run(kept.map((_, i) => memoryName(i)));
      kept.forEach((_, i) => {
        const got = memory[memoryName(i)];
        const w = want[memoryName(i)];
        expect(got.length).toBe(w.length);
        let worst = 0;
        for (let k = 0; k < w.length; k++) worst = Math.max(worst, Math.abs(got[k] - w[k]) / (1e-3 + Math.abs(w[k])));
        expect(worst, memoryName(i)).toBeLessThan(1e-4);
      });
      // Greedy answers, never stopping early (eos −1), then with the model's eos.
      for (const eos of [-1, 2]) {
        const produced: number[] = [];
        while (ids.length + produced.length < L) {
          const text = [...ids, ...produced];
          ex.write(
            "text",
            Int32Array.from({ length: L }, (_, k) => text[k] ?? 0),
          );
          const row = (await ex.run([logits.name]))[logits.name];
          const vocab = row.length / L;
          const best = argmax(row.subarray((text.length - 1) * vocab, text.length * vocab));
          if (best === eos) break;
          produced.push(best);
        }
        expect(await s.answer(ids, L, eos), `eos ${eos}`).toEqual(produced);
      }
    }
    expect(s.flopsPerChunk).toBeGreaterThan(0);
  } finally {
    ex.destroy();
    s.destroy();
  }
}

describe("streaming encoding equals whole-clip encoding (GPU)", () => {
  test("Mirasol tiny, Transformer combiner, 3 chunks", () => streamAgainstWhole([], 3), SLOW);
  test("Mirasol tiny, TTM combiner, 3 chunks", () => streamAgainstWhole([TTM], 3), SLOW);
});

test("a model that mixes chunks is a ModelError showing M3008 at its line", () => {
  // std.chunks' AR model with mask: none, declared in the model's file
  const nonCausal =
    "module NonCausalAR(heads: int, depth: int) implements ChunkAR {\n  let h = reshape(x, [B, T * M, d])\n" +
    "  repeat depth as blocks {\n    h = TransformerBlock(d, heads)(h, mask: none)\n  }\n" +
    "  return LayerNorm(d)(h)\n}\n\nmodel Mirasol {";
  const text = readFileSync("models/mirasol.mira", "utf8").replace("model Mirasol {", nonCausal);
  const model = modelFromSource(text, "models/mirasol.mira", {
    preset: "tiny",
    set: ["ar=NonCausalAR(heads, ar_depth)"],
  });
  expect(() => deriveModelStream(model)).toThrow(ModelError);
  expect(() => deriveModelStream(model)).toThrow(
    new RegExp(
      /error M3008 cannot derive a streaming encoder: attention mixes chunks \(attention with mask /.source +
        /none over the chunks[\s\S]*in TransformerBlock, called here/.source,
    ),
  );
  expect(() => deriveModelStream(loadModel("models/char_lm.mira", { preset: "tiny" }))).toThrow(
    /streaming needs the chunk count as an int config value 'chunks'/,
  );
});
