// doctor-fit.test.ts: what `mira doctor` says fits a device, on small models: compiled for the limits
// (a LimitError is "does not fit", with its message as the reason), or estimated from elaborated sizes,
// and the lines that print it. Compile-only: no GPU.
import { describe, expect, test } from "vitest";
import { type CaseFit, PRESET_CASES, fitByCompiling, fitByEstimate, fitCase } from "../../api/fit.js";
import { modelFromSource } from "../../api/model.js";
import { decidingLimits, describeFits } from "../../cli/commands/doctor.js";
import { DEFAULT_LIMITS, type DeviceLimits } from "../../compiler/limits.js";

const limits = (l: Partial<DeviceLimits>): DeviceLimits => ({ ...DEFAULT_LIMITS, ...l });

// 4 × 256 f32 weights: 4 KiB, the largest tensor of the model
const SOURCE = `model Tiny {
  config { d: int = 256 }
  input x: f32[B, 4]
  input y: f32[B, d]
  param w: f32[4, d] = normal(0.02)
  output out = x @ w
  loss l = mean((out - y) * (out - y))
  objective = l
}`;
const tiny = modelFromSource(SOURCE, "tiny.mira");
const el = tiny.elaborate({ B: 2 });

describe("fit by compiling", () => {
  test("within the limits, forward and training step fit, with their peak memory", () => {
    for (const step of ["forward", "train"] as const) {
      const f = fitByCompiling(el, DEFAULT_LIMITS, step);
      expect(f).toMatchObject({ step, fits: true, how: "compiled" });
      expect(f.peakBytes).toBeGreaterThanOrEqual(4096);
    }
    expect(fitByCompiling(el, DEFAULT_LIMITS, "train").peakBytes).toBeGreaterThan(
      fitByCompiling(el, DEFAULT_LIMITS, "forward").peakBytes!,
    );
  });

  test("a weight past the binding size is bound as windows and fits; past the buffer size it does not", () => {
    expect(fitByCompiling(el, limits({ maxStorageBufferBindingSize: 2048 }), "forward").fits).toBe(true);
    const f = fitByCompiling(el, limits({ maxBufferSize: 2048 }), "forward");
    expect(f.fits).toBe(false);
    expect(f.reason).toMatch(
      /^tensor %\d+ f32\[4, 256\] \(param 'w'\) needs 4\.0 KiB, but a buffer on this device holds at most 2\.0 KiB/,
    );
    expect(f.reason).not.toContain("\n");
    expect(fitByCompiling(el, limits({ maxBufferSize: 2048 }), "train").fits).toBe(false);
    // 4 KiB in windows of 256 B: 16 bindings for w alone, past the 8 a kernel has
    const w = fitByCompiling(el, limits({ maxStorageBufferBindingSize: 256 }), "forward");
    expect(w.fits).toBe(false);
    expect(w.reason).toMatch(/'w' f32\[4, 256\] \(4\.0 KiB, 16 windows\).* needs \d+ storage buffers/);
  });
});

describe("fit by estimate", () => {
  test("agrees with compiling on a parameter past the binding size or the buffer size", () => {
    expect(fitByEstimate(el, DEFAULT_LIMITS, "forward")).toEqual({ step: "forward", fits: true, how: "estimated" });
    expect(fitByEstimate(el, limits({ maxStorageBufferBindingSize: 2048 }), "train").fits).toBe(true);
    const f = fitByEstimate(el, limits({ maxBufferSize: 2048 }), "train");
    expect(f).toMatchObject({ step: "train", fits: false, how: "estimated" });
    expect(f.reason).toMatch(
      /^tensor %\d+ f32\[4, 256\] \(param 'w'\) needs 4\.0 KiB, but a buffer on this device holds at most 2\.0 KiB/,
    );
    const w = fitByEstimate(el, limits({ maxStorageBufferBindingSize: 256 }), "forward");
    expect(w.reason).toMatch(/\(param 'w'\) needs 4\.0 KiB: 16 windows of 256 B, more than a kernel binds/);
  });

  test("an activation past the buffer size, with parameters that fit", () => {
    const big = tiny.elaborate({ B: 8 }); // y and out are f32[8, 256]: 8 KiB
    const f = fitByEstimate(big, limits({ maxBufferSize: 4096 }), "forward");
    expect(f.fits).toBe(false);
    expect(f.reason).toMatch(/f32\[8, 256\] .* needs 8\.0 KiB/);
  });
});

describe("cases and their lines", () => {
  test("with the device's memory known, a step whose buffers exceed it does not fit, and says so", () => {
    const roomy = fitCase({ label: "tiny", file: "tiny.mira", batch: { B: 2 } }, DEFAULT_LIMITS, tiny, 2 ** 30);
    expect(roomy).toMatchObject({ forward: { fits: true }, train: { fits: true } });
    const peak = roomy.train.peakBytes!;
    const tight = fitCase({ label: "tiny", file: "tiny.mira", batch: { B: 2 } }, DEFAULT_LIMITS, tiny, peak - 1);
    expect(tight.forward.fits).toBe(roomy.forward.peakBytes! <= peak - 1);
    expect(tight.train).toMatchObject({ fits: false, how: "compiled" });
    expect(tight.train.reason).toMatch(/^needs .* of buffers, but this device has .* of memory$/);
  });

  test("fitCase elaborates once and judges both steps", () => {
    const c = fitCase({ label: "tiny", file: "tiny.mira", batch: { B: 2 } }, DEFAULT_LIMITS, tiny);
    expect(c).toMatchObject({ label: "tiny", params: 1024, forward: { fits: true }, train: { fits: true } });
    const e = fitCase(
      { label: "tiny", file: "tiny.mira", batch: { B: 2 }, estimate: true },
      limits({ maxBufferSize: 1024 }),
      tiny,
    );
    expect(e).toMatchObject({ forward: { fits: false, how: "estimated" }, train: { fits: false, how: "estimated" } });
  });

  test("the presets doctor judges are char_lm and mirasol tiny, default and 3b, at files that exist", async () => {
    const { existsSync } = await import("node:fs");
    expect(PRESET_CASES.map((c) => c.label)).toEqual([
      "char_lm (default)",
      "mirasol tiny",
      "mirasol (default)",
      "mirasol 3b",
    ]);
    for (const c of PRESET_CASES) expect(existsSync(c.file), c.file).toBe(true);
  });

  test("doctor prints the deciding limits, then inference and training per model with the first reason", () => {
    expect(decidingLimits(DEFAULT_LIMITS, ["subgroups"])).toBe(
      "binding 128.0 MiB, buffer 256.0 MiB, workgroup storage 16.0 KiB, shader-f16 no, subgroups yes",
    );
    const fits: CaseFit[] = [
      {
        label: "big",
        batch: { B: 1, L: 16 },
        params: 3.0e9,
        seconds: 12.34,
        forward: { step: "forward", fits: true, how: "compiled", peakBytes: 2 ** 30 },
        train: { step: "train", fits: false, how: "compiled", reason: "tensor %3 f32[8] (add) needs 1 GiB" },
      },
    ];
    expect(describeFits(DEFAULT_LIMITS, [], fits)).toEqual([
      "fits       binding 128.0 MiB, buffer 256.0 MiB, workgroup storage 16.0 KiB, shader-f16 no, subgroups no",
      "           big: 3.0 B parameters, batch B=1,L=16, compiled in 12.3 s",
      "             inference fits (peak 1.0 GiB of buffers)",
      "             training  does not fit: tensor %3 f32[8] (add) needs 1 GiB",
    ]);
  });
});
