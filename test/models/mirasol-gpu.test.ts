// mirasol-gpu.test.ts: tiny Mirasol's forward on the GPU equals the reference interpreter, with the
// Transformer, TTM and Concat Combiners — every output, losses included.
import { describe, test } from "vitest";
import { loadModel } from "../../api/model.js";
import { initParams } from "../../compiler/lower.js";
import { runReference } from "../../compiler/reference.js";
import { expectClose } from "../helpers/close.js";
import { runOnGpu } from "../helpers/gpu.js";

describe("mirasol tiny on the GPU", () => {
  test.each([[[]], [["combiner=TTM(memory: 8, read: 4)"]], [["combiner=Concat"]]])(
    "forward with %j equals the reference",
    async (set) => {
      const el = loadModel("models/mirasol.mira", { preset: "tiny", set }).elaborate({ B: 2, L: 8 });
      const feeds: Record<string, ArrayLike<number>> = Object.fromEntries(initParams(el.params, 5));
      for (const i of el.inputs) {
        const len = i.shape.at(-1)!;
        feeds[i.name] = Array.from({ length: i.shape.reduce((a, b) => a * b, 1) }, (_, k) =>
          i.dtype === "i32" ? (k * 7 + 3) % 64 : i.name === "loss_mask" ? (k % len >= 4 ? 1 : 0) : Math.sin(k * 0.37),
        );
      }
      const ref = runReference(el.graph, feeds);
      const gpu = await runOnGpu(el.graph, feeds);
      for (const name of Object.keys(ref)) expectClose(gpu[name], ref[name].data, { atol: 2e-5, rtol: 1e-4 }, name);
    },
  );
});
