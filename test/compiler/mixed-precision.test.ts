// mixed-precision.test.ts: training a model whose values are f16 (precision: f16). The step keeps f32
// master weights and moments and runs forward and backward in f16 (compiler/precision.ts masterWeights),
// starts the backward pass from a loss scale S = 2^(10 + e) and unscales every gradient by 1/S
// (train-step.ts LOSS_SCALE); e and the run of finite steps are optimizer state updated on the device.
// Checked on the GPU: the master copy, an overflow that skips the step and lowers the scale, growth after
// `every` finite steps, and char_lm's loss over 20 steps within 1 % of f32 training's.
import { describe, expect, test } from "vitest";
import { loadModel, modelFromSource } from "../../api/model.js";
import { initParams } from "../../compiler/lower.js";
import { trainableModel } from "../../compiler/train-model.js";
import { DEFAULT_ADAMW, LOSS_SCALE, momentName } from "../../compiler/train-step.js";
import { Trainer } from "../../runtime/trainer.js";
import { testGpu } from "../helpers/gpu.js";

// loss = mean((x·w − y)²) · k: k scales every gradient, so a large k overflows f16 at a large loss scale
const SOURCE = `model Fit {
  config { k: float = 1.0, precision: dtype = f16 }
  input x: f32[B, 4]
  input y: f32[B, 3]
  param w: f32[4, 3] = normal(0.5)
  output out = x @ w
  loss l = mean((out - y) * (out - y)) * k
  objective = l
}`;

const batch = { x: [0.5, -1, 0.25, 2, 1, 0.5, -0.5, 0.75], y: [1, 0, -1, 0.5, 0.25, 2] };

async function trainerFor(k: number): Promise<Trainer> {
  const el = modelFromSource(SOURCE, "fit.mira", { set: [`k=${k}`] }).elaborate({ B: 2 });
  const t = await Trainer.create(await testGpu(), trainableModel(el, "l"), DEFAULT_ADAMW);
  t.initialize(initParams(el.params, 3));
  return t;
}

const state = async (t: Trainer) => {
  const r = await t.step.read(["w", momentName("m", "w"), LOSS_SCALE.exponent, LOSS_SCALE.finiteSteps]);
  return {
    w: Array.from(r.w),
    m: Array.from(r[momentName("m", "w")]),
    e: r[LOSS_SCALE.exponent][0],
    c: r[LOSS_SCALE.finiteSteps][0],
  };
};

describe("mixed-precision training (precision f16)", () => {
  test("master weights and moments are f32, the forward pass reads them as f16", async () => {
    const t = await trainerFor(1);
    const dtypes = Object.fromEntries(t.step.program.params.map((p) => [p.name, p.dtype]));
    expect(dtypes.w).toBe("f32");
    expect(dtypes[momentName("m", "w")]).toBe("f32");
    expect(t.step.program.graph.nodes.some((n) => n.op === "cast" && n.dtype === "f16")).toBe(true);
    expect(t.stateNames).toContain(LOSS_SCALE.exponent);
  });

  test("a finite step updates at S = 2^10 and counts; an overflow skips the step and halves S", async () => {
    const t = await trainerFor(20);
    const before = await state(t);
    expect(before).toMatchObject({ e: 0, c: 0 });
    const r1 = await t.train(1, batch, 1e-2, true);
    expect(r1).toMatchObject({ lossScale: 1024, skipped: false });
    const after1 = await state(t);
    expect(after1.w).not.toEqual(before.w);
    expect(after1).toMatchObject({ e: 0, c: 1 });
    // at S = 2^15 the scaled gradients (k = 20) pass f16's 65504: the step is skipped
    t.step.write(LOSS_SCALE.exponent, [5]);
    const r2 = await t.train(2, batch, 1e-2, true);
    expect(r2?.lossScale).toBe(2 ** 15);
    expect(Number.isFinite(r2!.loss)).toBe(true);
    expect(Number.isFinite(r2!.gradNorm)).toBe(false);
    expect(r2?.skipped).toBe(true);
    const after2 = await state(t);
    expect(after2.w).toEqual(after1.w);
    expect(after2.m).toEqual(after1.m);
    expect(after2).toMatchObject({ e: 4, c: 0 });
  });

  test(`${LOSS_SCALE.every} finite steps in a row double S, up to 2^15`, async () => {
    const t = await trainerFor(1);
    t.step.write(LOSS_SCALE.finiteSteps, [LOSS_SCALE.every - 1]);
    await t.train(1, batch, 1e-3, false);
    expect(await state(t)).toMatchObject({ e: 1, c: 0 });
    t.step.write(LOSS_SCALE.exponent, [LOSS_SCALE.highest]);
    t.step.write(LOSS_SCALE.finiteSteps, [LOSS_SCALE.every - 1]);
    await t.train(2, batch, 1e-3, false);
    expect(await state(t)).toMatchObject({ e: LOSS_SCALE.highest, c: 0 });
  });

  test("char_lm tiny: 20 steps in f16 follow f32's loss within 1 %", async () => {
    const gpu = await testGpu();
    const text = "the quick brown fox jumps over the lazy dog. ".repeat(20);
    const ids = Array.from(text, (c) => c.charCodeAt(0) % 96);
    const losses = async (set: string[]) => {
      const el = loadModel("models/char_lm.mira", { preset: "tiny", set }).elaborate({ B: 4, T: 32 });
      const t = await Trainer.create(gpu, trainableModel(el, el.objective!), DEFAULT_ADAMW);
      t.initialize(
        initParams(
          el.params.map((p) => ({ ...p, dtype: "f32" as const })),
          1,
        ),
      );
      const out: number[] = [];
      for (let s = 1; s <= 20; s++) {
        const at = (s * 37) % (ids.length - 128);
        const r = await t.train(s, { tokens: ids.slice(at, at + 128) }, 3e-3, s % 5 === 0);
        if (r) out.push(r.loss);
      }
      return out;
    };
    const full = await losses([]);
    const half = await losses(["precision=f16"]);
    expect(full[3]).toBeLessThan(full[0]); // it learns at all
    half.forEach((l, k) => expect(Math.abs(l - full[k]), `step ${(k + 1) * 5}`).toBeLessThan(0.01 * full[k]));
  });
});
