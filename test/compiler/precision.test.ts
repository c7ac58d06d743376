// precision.test.ts: a model's `precision` setting (compiler/precision.ts). At f16 every f32 value is
// stored in f16 — parameters, inputs, activations — while kernels compute and accumulate in f32; ops that
// always give f32 keep it; node ids stay, so the elaborator's records hold. On the GPU, char_lm's outputs
// at f16 are within 1 % of the largest f32 output (measured 0.2 %) and its buffers about half the size. A
// model declares `precision: dtype = f32`, and `--set precision=f16` switches it.
import { describe, expect, test } from "vitest";
import { loadModel, modelFromSource } from "../../api/model.js";
import { initParams } from "../../compiler/lower.js";
import { compileGraph } from "../../compiler/program.js";
import { precisionOf, storeInF16 } from "../../compiler/precision.js";
import type { Graph } from "../../compiler/ir.js";
import { Executor } from "../../runtime/executor.js";
import { testGpu } from "../helpers/gpu.js";

const SOURCE = `model Tiny {
  config { d: int = 8, precision: dtype = f32 }
  input x: f32[B, 4]
  input ids: i32[B]
  param w: f32[4, d] = normal(0.5)
  param table: f32[5, d] = normal(0.5)
  output out = softmax(x @ w + gather(table, ids), axis: 1)
}`;

describe("precision f16", () => {
  test("stores every f32 value in f16, keeps other dtypes and the node ids", () => {
    const el = modelFromSource(SOURCE, "tiny.mira").elaborate({ B: 3 });
    const g = storeInF16(el.graph);
    expect(g.nodes.map((n) => n.id)).toEqual(el.graph.nodes.map((n) => n.id));
    el.graph.nodes.forEach((n, k) => {
      expect(g.nodes[k].dtype, `${n.op} %${n.id}`).toBe(n.dtype === "f32" ? "f16" : n.dtype);
    });
  });

  test("a model's precision key chooses it, and --set precision=… switches it", () => {
    const at = (set?: string[]) => modelFromSource(SOURCE, "tiny.mira", { set }).elaborate({ B: 2 });
    expect(precisionOf(at().config)).toBe("f32");
    expect(at().params.map((p) => p.dtype)).toEqual(["f32", "f32"]);
    const half = at(["precision=f16"]);
    expect(precisionOf(half.config)).toBe("f16");
    expect(half.params.map((p) => p.dtype)).toEqual(["f16", "f16"]);
    expect(half.inputs.map((i) => i.dtype)).toEqual(["f16", "i32"]);
    expect(half.graph.nodes.filter((n) => n.dtype === "f32")).toEqual([]);
  });

  // (Mirasol at f16 through the derived decoder: test/api/large-model-path.test.ts)
  test.each([["models/char_lm.mira", { B: 2, T: 16 }, "logits"]])(
    "%s: outputs within 1%% of f32's, in about half the memory",
    async (file, batch, output) => {
      const gpu = await testGpu();
      const el = loadModel(file, { preset: "tiny" }).elaborate(batch);
      const init = initParams(el.params, 1);
      const run = async (g: Graph) => {
        const p = compileGraph({ ...g, outputs: g.outputs.filter((o) => o.name === output) }, gpu.limits);
        const ex = await Executor.create(gpu, p);
        try {
          for (const [n, v] of init) ex.write(n, v);
          for (const i of el.inputs) {
            const n = i.shape.reduce((a, b) => a * b, 1);
            ex.write(
              i.name,
              Array.from({ length: n }, (_, k) => (i.dtype === "i32" ? 3 + ((k * 7) % 26) : Math.sin(k) * 0.5)),
            );
          }
          const values = Array.from((await ex.run([output]))[output] as ArrayLike<number>);
          return { values, bytes: p.buffers.reduce((a, b) => a + b.bytes, 0) };
        } finally {
          ex.destroy();
        }
      };
      const full = await run(el.graph);
      const half = await run(storeInF16(el.graph));
      const scale = Math.max(...full.values.map(Math.abs));
      const worst = Math.max(...full.values.map((v, k) => Math.abs(v - half.values[k])));
      expect(worst).toBeLessThan(0.01 * scale);
      expect(half.bytes).toBeLessThan(0.6 * full.bytes);
    },
  );
});
