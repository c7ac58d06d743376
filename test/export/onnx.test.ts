// onnx.test.ts: the ONNX file `mira export --format onnx` writes runs in onnxruntime (CPU) and its
// outputs equal mira's float64 reference on the same weights (mira's initialisers at seed 1): char_lm
// tiny's logits, and tiny Mirasol's whole forward from video, spectrogram and text to latents and logits
// with each Combiner (Transformer, TTM, Concat, MeanPool, Perceiver). The file is exported once, with
// symbolic batch dims, and run at sizes other than the export's probe (4): char_lm at two of them,
// one the full position table (T = max_len).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { exportModel } from "../../api/export.js";
import { loadModel } from "../../api/model.js";
import { initParams } from "../../compiler/lower.js";
import { runReference } from "../../compiler/reference.js";
import type { Tolerance } from "../../compiler/ops/spec.js";
import { expectClose } from "../helpers/close.js";

/** onnxruntime computes in f32 (its own kernel orders) what the reference computes in float64 rounded
 *  after every op: the GPU suites' bound. */
const TOLERANCE: Tolerance = { atol: 2e-5, rtol: 1e-4 };

const CASES = [
  { name: "char_lm tiny", model: "models/char_lm.mira", set: [] as string[], batch: { B: 3, T: 9 } },
  { name: "char_lm tiny at T = max_len", model: "models/char_lm.mira", set: [] as string[], batch: { B: 1, T: 64 } },
  { name: "Mirasol tiny, TransformerCombiner", model: "models/mirasol.mira", set: [], batch: { B: 2, L: 6 } },
  {
    name: "Mirasol tiny, TTM",
    model: "models/mirasol.mira",
    set: ["combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)"],
    batch: { B: 2, L: 6 },
  },
  { name: "Mirasol tiny, Concat", model: "models/mirasol.mira", set: ["combiner=Concat"], batch: { B: 1, L: 6 } },
  { name: "Mirasol tiny, MeanPool", model: "models/mirasol.mira", set: ["combiner=MeanPool"], batch: { B: 1, L: 6 } },
  {
    name: "Mirasol tiny, Perceiver",
    model: "models/mirasol.mira",
    set: ["combiner=Perceiver(m: 4, heads: 2)"],
    batch: { B: 1, L: 6 },
  },
] as const;

describe("mira export --format onnx", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "mira-export-onnx-"));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test.each(CASES.map((c) => [c.name, c] as const))(
    "%s: onnxruntime's outputs equal the reference (atol 2e-5, rtol 1e-4)",
    async (_, c) => {
      const out = join(dir, c.name.replace(/\W+/g, "_"));
      const r = exportModel({ model: c.model, preset: "tiny", set: c.set, format: "onnx", out });
      expect(r.dynamic.length).toBe(2);
      const el = loadModel(c.model, { preset: "tiny", set: c.set }).elaborate(c.batch);
      const feeds: Record<string, ArrayLike<number>> = Object.fromEntries(initParams(el.params, 1));
      const session = await ort.InferenceSession.create(readFileSync(join(out, "model.onnx")));
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const i of el.inputs) {
        const n = i.shape.reduce((a, b) => a * b, 1);
        const values =
          i.dtype === "i32"
            ? Int32Array.from({ length: n }, (_, k) => (k * 7 + 3) % 60)
            : Float32Array.from({ length: n }, (_, k) => Math.sin(k * 0.37));
        feeds[i.name] = values;
        if (session.inputNames.includes(i.name))
          ortFeeds[i.name] = new ort.Tensor(i.dtype === "i32" ? "int32" : "float32", values, [...i.shape]);
      }
      // The inference graph: the declared outputs, not the losses (so Mirasol's loss_mask is no input).
      expect([...session.outputNames].sort()).toEqual([...el.outputs].sort());
      expect(session.inputNames).not.toContain("loss_mask");
      const got = await session.run(ortFeeds);
      const ref = runReference(el.graph, feeds);
      for (const name of el.outputs) {
        expect(got[name].dims).toEqual(ref[name].shape);
        expectClose(got[name].data as Float32Array, ref[name].data, TOLERANCE, `${c.name}: ${name}`);
      }
      await session.release();
    },
    300_000,
  );
});
