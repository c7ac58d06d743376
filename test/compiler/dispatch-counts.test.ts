// dispatch-counts.test.ts: the dispatch counts issue #20 sets, on this adapter's limits with parallel
// kernels on, and sequence kernels over arenas for the TTM step (compile only; parallel kernels are the
// default on GPU adapters, sequence kernels an option, both off on CPU ones for their cold compile:
// compiler/program.ts): launches, not arithmetic, are what batch-1 steps cost on llvmpipe (≈ 20–40 µs
// each) and on real GPUs (3–10 µs). Layer norm, softmax and cross-entropy are counted in row-fusion.test.ts.
import { describe, expect, test } from "vitest";
import { derive } from "../../api/decoder.js";
import { loadModel } from "../../api/model.js";
import { miraGraphs } from "../../bench/peers/mira.js";
import { type Program, compileGraph } from "../../compiler/program.js";
import { DEFAULT_ADAMW, buildTrainStep } from "../../compiler/train-step.js";
import { testGpu } from "../helpers/gpu.js";

const names = (p: Program) => p.dispatches.map((d) => p.kernels[d.kernel].name).join("\n");

describe("dispatches per step", () => {
  test("char_lm (d 64, 4 heads, 2 layers) decoding step with 1280-position caches: at most 26", async () => {
    // bench/decode.ts's case (89 per token before row kernels, 40 before parallel kernels, 28 before each
    // MLP's two matmuls ran as one kernel)
    const limits = (await testGpu()).limits;
    const dec = derive(loadModel("models/char_lm.mira", { set: ["max_len=1280"] }), 1280);
    const p = compileGraph(dec.step, limits, { parallel: true });
    expect(p.dispatches.length, names(p)).toBeLessThanOrEqual(26);
  });

  test("the peers' transformer block (B 8, T 128, d 128, 4 heads), forward and backward: at most 50", async () => {
    // bench/peers.ts's workload (94 before row kernels, 48 before parallel kernels)
    const limits = (await testGpu()).limits;
    const p = compileGraph(miraGraphs().forwardBackward, limits, { parallel: true });
    expect(p.dispatches.length, names(p)).toBeLessThanOrEqual(50);
  });

  test("the same block on the default path: heads split and merged inside its matmuls, no permute kernel", async () => {
    // matmuls read the head split through strides and store the merge permuted (fuse-views.ts): 17 → 13
    // dispatches forward, 47 → 39 forward and backward, without parallel kernels
    const limits = (await testGpu()).limits;
    const { forward, forwardBackward } = miraGraphs();
    const [f, fb] = [forward, forwardBackward].map((g) => compileGraph(g, limits));
    for (const p of [f, fb]) expect(names(p)).not.toMatch(/permute/);
    expect(f.dispatches.length, names(f)).toBeLessThanOrEqual(13);
    expect(fb.dispatches.length, names(fb)).toBeLessThanOrEqual(39);
  });

  describe("Mirasol tiny, TTM Combiner, 32 chunks, B 1, training step", () => {
    const set = ["chunks=32", "max_chunks=32", "combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)"];
    const step = () => {
      const el = loadModel("models/mirasol.mira", { preset: "tiny", set }).elaborate({ B: 1, L: 16 });
      return buildTrainStep(el.graph, el.objective ?? el.losses[0], DEFAULT_ADAMW, () => true);
    };

    test("with sequence kernels over arenas and parallel kernels: at most 40 per chunk", async () => {
      // ≈ 190 per chunk when issue #20 was filed; 57 with sequence kernels while each buffer took a binding
      // of its own (runs ended on the 16-binding limit every two or three stages); 14.2 over arenas, 13.1
      // with constant offsets taken out of stages (a step's slice)
      const st = step();
      const p = compileGraph(st.graph, (await testGpu()).limits, {
        updates: st.updates,
        parallel: true,
        sequence: true,
      });
      expect(p.buffers.some((b) => b.role === "arena")).toBe(true);
      expect(p.dispatches.length / 32, names(p)).toBeLessThanOrEqual(40);
      // the scan's steps share their sequence kernels (cut alike, offsets from a table): 305 dispatches
      // of 91 kernels; with offsets written into the code, 246 of 109
      const seq = new Set(p.kernels.flatMap((k, i) => (k.name.startsWith("seq") ? [i] : [])));
      const runs = p.dispatches.filter((d) => seq.has(d.kernel)).length;
      expect(runs).toBeGreaterThan(3 * seq.size);
      // every step's slice at its own offset is one stage (peelStage), not a kernel per step: 206 kernels
      // in all, 236 before
      expect(p.kernels.length).toBeLessThanOrEqual(210);
    });

    test("on this adapter's default path: at most 55 per chunk", async () => {
      // 99 per chunk before views were read through strides and the padded step gradients summed into
      // concats (3,174 → 2,472 dispatches; fuse-views.ts, passes/simplify-boxes.ts); 77 before each
      // weight's gradient summed over the steps became one matmul (2,175; passes/sum-of-products.ts), reductions
      // read views and a matmul's reshape to its own shape went (2,111); 66 before each MLP's two matmuls
      // ran as one kernel, forward and backward, with the layer norms before them inside (1,815;
      // fuse-chains.ts); 56.7 before each step's q, k and v projections became one matmul (1,755;
      // passes/shared-operand.ts)
      const st = step();
      const p = compileGraph(st.graph, (await testGpu()).limits, { updates: st.updates });
      expect(p.dispatches.length / 32).toBeLessThanOrEqual(55);
    });

    test("with parallel kernels alone: at most 65 per chunk", async () => {
      // 105 before parallel kernels, 63–72 with them (a regression bound for that path)
      const st = step();
      const p = compileGraph(st.graph, (await testGpu()).limits, { updates: st.updates, parallel: true });
      expect(p.dispatches.length / 32).toBeLessThanOrEqual(65);
    });
  });
});
