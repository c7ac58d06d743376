// limit-profiles.test.ts: compiling for another device's limits (`mira compile --limits NAME|FILE`) and
// the report's peak-memory split. Compile-only: no GPU is touched, because the limits are given.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { compileFile } from "../../api/compile.js";
import { InputError } from "../../base/errors.js";
import { compileCommand, resolveLimits } from "../../cli/commands/compile.js";
import { describeFailure } from "../../cli/errors.js";
import { LIMIT_PROFILES, LimitError, parseLimits } from "../../compiler/limits.js";
import { compileGraph } from "../../compiler/program.js";
import { singleOp } from "./gen.js";

describe("limit profiles", () => {
  // f32[2^26] is 256 MiB: past WebGPU's 128 MiB default binding (two windows), within its 256 MiB buffer;
  // 320 MB is past that buffer, within an NVIDIA GPU's 4 GiB
  const windowed = singleOp("exp", [{ dtype: "f32", shape: [2 ** 26] }]);
  const big = singleOp("exp", [{ dtype: "f32", shape: [80_000_000] }]);

  test("a tensor that fits nvidia-vulkan but not webgpu-default is a LimitError naming it", () => {
    expect(() => compileGraph(big, LIMIT_PROFILES["nvidia-vulkan"])).not.toThrow();
    expect(() => compileGraph(big, LIMIT_PROFILES["webgpu-default"])).toThrow(LimitError);
    expect(() => compileGraph(big, LIMIT_PROFILES["webgpu-default"])).toThrow(
      new RegExp(
        /^tensor %0 f32\[80000000\] \(input 'x0'\) needs 305\.2 MiB, /.source +
          /but a buffer on this device holds at most 256\.0 MiB/.source,
      ),
    );
  });

  test("a tensor past webgpu-default's binding size is bound as two windows there, whole on nvidia-vulkan", () => {
    const windows = (l: keyof typeof LIMIT_PROFILES) =>
      compileGraph(windowed, LIMIT_PROFILES[l]).dispatches.map((d) => d.buffers.length);
    expect(windows("webgpu-default")).toEqual([4]);
    expect(windows("nvidia-vulkan")).toEqual([2]);
  });

  test("every profile is whole and no smaller than WebGPU's defaults", () => {
    const base = LIMIT_PROFILES["webgpu-default"];
    for (const [name, l] of Object.entries(LIMIT_PROFILES)) {
      expect(Object.keys(l).sort(), name).toEqual(Object.keys(base).sort());
      for (const k of Object.keys(base) as (keyof typeof base)[]) {
        if (typeof base[k] === "number")
          expect(l[k] as number, `${name}.${k}`).toBeGreaterThanOrEqual(base[k] as number);
      }
      expect(l.maxStorageBufferBindingSize % 4, name).toBe(0);
    }
  });

  test("--limits takes a profile name or a JSON file over WebGPU's defaults", () => {
    expect(resolveLimits("nvidia-vulkan")).toBe(LIMIT_PROFILES["nvidia-vulkan"]);
    const dir = mkdtempSync(join(tmpdir(), "mira-limits-"));
    const file = join(dir, "big.json");
    writeFileSync(file, JSON.stringify({ maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 }));
    const l = resolveLimits(file);
    expect(l.maxStorageBufferBindingSize).toBe(2 ** 30);
    expect(l.maxStorageBuffersPerShaderStage).toBe(8);
    expect(() => compileGraph(big, l)).not.toThrow();
    expect(() => resolveLimits(join(dir, "missing.json"))).toThrow(
      /--limits takes a profile \(webgpu-default, nvidia-vulkan\) or a JSON file/,
    );
  });

  test("mira compile --limits: a program past the named limits is a LimitError that names them, exit 3", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mira-limits-"));
    const file = join(dir, "small.json");
    writeFileSync(file, JSON.stringify({ maxBufferSize: 1024 }));
    const values = { preset: "tiny", batch: ["B=2,T=16"], emit: "report", limits: file };
    const err = await compileCommand({ values, positionals: ["models/char_lm.mira"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitError);
    const { text, code } = describeFailure(err, false);
    expect(code).toBe(3);
    expect(text).toMatch(
      new RegExp(
        /^mira: does not fit this device: tensor .* needs .* a buffer on this device holds at most 1\.0 KiB/.source +
          /.*\(compiled for --limits .*small\.json\)$/.source,
      ),
    );
  });

  test("a limits file with a bad key or value is a one-line bad-input error", () => {
    const dir = mkdtempSync(join(tmpdir(), "mira-limits-"));
    const file = join(dir, "typo.json");
    writeFileSync(file, JSON.stringify({ maxBufferSise: 4096 }));
    let err: unknown;
    try {
      resolveLimits(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const { text, code } = describeFailure(err, false);
    expect(code).toBe(2);
    expect(text.split("\n")).toHaveLength(1);
    expect(text).toMatch(
      /typo\.json: unknown limit 'maxBufferSise'; known limits: maxStorageBufferBindingSize, maxBufferSize/,
    );
    expect(() => parseLimits('{"shaderF16": "yes"}', "l.json")).toThrow(
      "l.json: limit 'shaderF16' must be true or false, got \"yes\"",
    );
    expect(() => parseLimits('{"maxBufferSize": -1}', "l.json")).toThrow(
      "limit 'maxBufferSize' must be a positive integer, got -1",
    );
    expect(() => parseLimits("[1]", "l.json")).toThrow(InputError);
    expect(() => parseLimits("{", "l.json")).toThrow(/^l\.json: not JSON/);
  });
});

describe("peak memory split", () => {
  const options = { preset: "tiny", set: [], batch: { B: 2, T: 16 }, limits: LIMIT_PROFILES["webgpu-default"] };

  test("a training step: parameters, gradients, optimizer state and activations add up to the total", async () => {
    const c = await compileFile("models/char_lm.mira", { ...options, step: "train" });
    const r = c.report();
    const m = r.memory;
    expect(m.parameters + m.gradients + m.optimizerState + m.activations).toBe(m.total);
    expect(m.total).toBe(r.bufferBytes);
    const paramBytes = r.params * 4; // f32, and char_lm's shapes need no padding
    expect(m.parameters).toBe(paramBytes);
    expect(m.gradients).toBe(paramBytes); // one gradient per parameter, each held at once by AdamW
    expect(m.optimizerState).toBe(2 * paramBytes); // AdamW's m and v
    expect(m.activations).toBeGreaterThan(0);
  });

  test("a forward pass has no gradients and no optimizer state", async () => {
    const r = (await compileFile("models/char_lm.mira", options)).report();
    expect(r.memory).toMatchObject({ gradients: 0, optimizerState: 0, parameters: r.params * 4 });
    expect(r.memory.parameters + r.memory.activations).toBe(r.bufferBytes);
  });
});
