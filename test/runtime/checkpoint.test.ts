// safetensors checkpoints: the format's layout, byte-identical round trips, atomic writes that survive a
// crash before the rename, and one clear error for truncated or corrupt files.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { type Checkpoint, CheckpointError, decodeSafetensors, encodeSafetensors, loadCheckpoint, saveCheckpoint } from "../../runtime/checkpoint.js";

const dir = mkdtempSync(join(tmpdir(), "mira-ckpt-"));

function sample(seed: number): Checkpoint {
  const f = new Float32Array(6).map((_, i) => Math.sin(i + seed));
  const h = new Uint16Array([0x3c00, 0xc000, seed & 0xffff]);
  return {
    tensors: new Map([
      ["layers.0.w", { dtype: "f32", shape: [2, 3], bytes: new Uint8Array(f.buffer) }],
      ["emb", { dtype: "f16", shape: [3], bytes: new Uint8Array(h.buffer) }],
      ["count", { dtype: "i32", shape: [], bytes: new Uint8Array(new Int32Array([seed]).buffer) }],
    ]),
    metadata: { step: String(seed), model: "models/char_lm.mira" },
  };
}

describe("safetensors", () => {
  test("header: 8-byte little-endian length, JSON with dtype/shape/data_offsets and __metadata__", () => {
    const bytes = encodeSafetensors(sample(7));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header.__metadata__).toEqual({ model: "models/char_lm.mira", step: "7" });
    expect(header.emb).toEqual({ dtype: "F16", shape: [3], data_offsets: [4, 10] });
    expect(header["layers.0.w"]).toEqual({ dtype: "F32", shape: [2, 3], data_offsets: [10, 34] });
    expect(header.count).toEqual({ dtype: "I32", shape: [], data_offsets: [0, 4] });
    expect(bytes.byteLength).toBe(8 + n + 24 + 6 + 4);
  });

  test("save → load → save is byte-identical", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), (seed) => {
        const a = join(dir, `a${seed}.safetensors`);
        saveCheckpoint(a, sample(seed));
        const first = readFileSync(a);
        saveCheckpoint(a, loadCheckpoint(a));
        expect(Buffer.compare(first, readFileSync(a))).toBe(0);
      }),
      { numRuns: 20 },
    );
  });

  test("a crash between writing and renaming leaves the previous checkpoint loadable", () => {
    const path = join(dir, "crash.safetensors");
    saveCheckpoint(path, sample(1));
    expect(() =>
      saveCheckpoint(path, sample(2), {
        beforeRename: () => {
          throw new Error("simulated crash");
        },
      }),
    ).toThrow("simulated crash");
    expect(loadCheckpoint(path).metadata.step).toBe("1");
  });

  test("truncated files give one clear error", () => {
    const bytes = encodeSafetensors(sample(3));
    for (const cut of [0, 5, 8, 20, bytes.byteLength - 1]) {
      expect(() => decodeSafetensors(bytes.subarray(0, cut), "checkpoint x")).toThrow(CheckpointError);
    }
    expect(() => decodeSafetensors(bytes.subarray(0, bytes.byteLength - 1), "checkpoint x")).toThrow(/truncated/);
  });

  test("random corruption never loads silently wrong: it throws CheckpointError or decodes to a consistent file", () => {
    const bytes = encodeSafetensors(sample(4));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.byteLength - 1 }), fc.integer({ min: 1, max: 255 }), (pos, x) => {
        const bad = bytes.slice();
        bad[pos] ^= x;
        try {
          const c = decodeSafetensors(bad, "checkpoint x");
          // Flipped tensor bytes are undetectable without a checksum; the structure must still be valid.
          for (const t of c.tensors.values()) expect(t.bytes.byteLength).toBeGreaterThanOrEqual(0);
        } catch (e) {
          expect(e).toBeInstanceOf(CheckpointError);
          expect(String((e as Error).message).split("\n")).toHaveLength(1);
        }
      }),
      { numRuns: 300 },
    );
  });

  test("a missing file is a CheckpointError naming it", () => {
    expect(() => loadCheckpoint(join(dir, "nope.safetensors"))).toThrow(/nope\.safetensors: no such file/);
    writeFileSync(join(dir, "junk.safetensors"), "not a checkpoint at all");
    expect(() => loadCheckpoint(join(dir, "junk.safetensors"))).toThrow(CheckpointError);
    expect(existsSync(dir)).toBe(true);
  });
});
