// profile.test.ts: per-dispatch device times (timestamp queries) summed per kernel and per kind.
import { describe, expect, it } from "vitest";
import { profileModel } from "../../api/profile.js";
import { kernelFamily, summarise } from "../../runtime/profile.js";
import { testGpu } from "../helpers/gpu.js";

describe("kernel families", () => {
  it("drop sizes, axes and suffixes, keep the ops", () => {
    expect(kernelFamily("reduce_mean_128x16x32_axes2")).toBe("reduce_mean");
    expect(kernelFamily("matmul_tb_mul_128x2x16x16x16")).toBe("matmul_tb_mul");
    expect(kernelFamily("mul_sub_mul_add_and_1_more_128x28x32_inplace")).toBe("mul_sub_mul_add_and");
    expect(kernelFamily("adamw")).toBe("adamw");
  });
});

describe("summarise", () => {
  it("adds dispatch times per kernel and per family, largest first, losing none", () => {
    const names = ["matmul_4x4x4", "matmul_8x8x8", "gelu_16"];
    const kernelOf = [0, 2, 1, 0, 2];
    const ms = [1, 0.5, 4, 2, 0.25];
    const { kernels, families } = summarise(names, kernelOf, ms);
    expect(kernels.map((k) => [k.name, k.dispatches, k.ms])).toEqual([
      ["matmul_8x8x8", 1, 4],
      ["matmul_4x4x4", 2, 3],
      ["gelu_16", 2, 0.75],
    ]);
    expect(families.map((f) => [f.family, f.kernels, f.dispatches, f.ms])).toEqual([
      ["matmul", 2, 3, 7],
      ["gelu", 1, 2, 0.75],
    ]);
  });
});

describe("profileModel on the adapter", () => {
  it("times every dispatch of a training step once per kernel row", async () => {
    const gpu = await testGpu();
    expect(
      gpu.hasTimestamps,
      "the lavapipe adapter offers timestamp-query; without it profiles stop with a clear error",
    ).toBe(true);
    const r = await profileModel("models/char_lm.mira", {
      preset: "tiny",
      batch: { B: 2, T: 8 },
      step: "train",
      runs: 2,
    });
    expect(r.kernels.reduce((s, k) => s + k.dispatches, 0)).toBe(r.dispatches);
    expect(r.families.reduce((s, f) => s + f.dispatches, 0)).toBe(r.dispatches);
    for (const k of r.kernels) expect(k.ms).toBeGreaterThanOrEqual(0);
    expect(r.deviceMs).toBeGreaterThan(0);
    expect(r.families.reduce((s, f) => s + f.ms, 0)).toBeCloseTo(r.deviceMs, 6);
    expect(r.kernels.some((k) => k.name.startsWith("matmul"))).toBe(true);
  }, 120_000);
});
