// sequence.test.ts: sequence kernels (compiler/sequence.ts) — runs of small dispatches as one
// single-workgroup kernel. A stage runs its kernel's own WGSL, so a sequence must give the same bits as
// one dispatch per kernel: random graphs, a training step and a decoding step are compared exactly, at
// the portable limit of 8 storage buffers (short runs, many splits) and at this adapter's.
import { describe, expect, test } from "vitest";
import { testGpu } from "../helpers/gpu.js";
import { charLmDecodeCase, charLmTrainCase, compareOption, randomGraphsMerged } from "../helpers/variants.js";

describe("sequence kernels equal one dispatch per kernel, bit for bit", () => {
  test("random graphs, at 8 storage buffers per stage and at this adapter's limit", async () => {
    // the property spoke of sequences, not of programs left as they were (parallel kernels off in both)
    expect(await randomGraphsMerged("sequence", { parallel: false })).toBeGreaterThan(8);
  });

  test("char_lm: three training steps (loss, gradients through AdamW, updated weights)", async () => {
    const c = charLmTrainCase();
    const gpu = await testGpu();
    const { merged, plain } = await compareOption(
      "sequence",
      c.graph,
      gpu.limits,
      c.feeds,
      { parallel: false, updates: c.updates },
      3,
    );
    expect(merged.dispatches.length * 2).toBeLessThan(plain.dispatches.length);
  }, 400_000); // two programs compiled cold: a sequence kernel compiles slowly on llvmpipe (sequence.ts)

  test("char_lm decoding step: sampled token and logits", async () => {
    const c = charLmDecodeCase();
    const { merged, plain } = await compareOption("sequence", c.graph, (await testGpu()).limits, () => c.feeds, {
      parallel: false,
    });
    expect(merged.dispatches.length * 2).toBeLessThan(plain.dispatches.length);
  }, 300_000);
});
