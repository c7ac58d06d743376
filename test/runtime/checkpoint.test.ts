// safetensors checkpoints: the format's layout, byte-identical round trips, atomic writes that survive a
// crash before the rename or a disk that fills up, and one clear error for truncated or corrupt files.
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  type Checkpoint,
  CheckpointError,
  CheckpointWriteError,
  decodeSafetensors,
  encodeSafetensors,
  loadCheckpoint,
  saveCheckpoint,
} from "../../runtime/checkpoint.js";
import { describeFailure } from "../../cli/errors.js";

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

  test(
    "a disk that fills up partway through a write: one line, the previous checkpoint intact, " + "no temporary file",
    () => {
      const path = join(dir, "full.safetensors");
      saveCheckpoint(path, sample(1));
      const before = readFileSync(path);
      let written = 0;
      const full = (fd: number, bytes: Uint8Array, offset: number, length: number): number => {
        if (written > 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        written = writeSync(fd, bytes, offset, Math.min(length, 16));
        return written;
      };
      let err: unknown;
      try {
        saveCheckpoint(path, sample(2), { write: full });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CheckpointWriteError);
      const { text, code } = describeFailure(err, false);
      expect(text).toBe(`mira: cannot write ${path}: the disk is full (ENOSPC); the file there is unchanged`);
      expect(code).toBe(3);
      expect(readFileSync(path).equals(before)).toBe(true);
      expect(readdirSync(dir).filter((f) => f.startsWith(".full.safetensors.tmp-"))).toEqual([]);
    },
  );

  test("truncated files give one clear error", () => {
    const bytes = encodeSafetensors(sample(3));
    for (const cut of [0, 5, 8, 20, bytes.byteLength - 1]) {
      expect(() => decodeSafetensors(bytes.subarray(0, cut), "checkpoint x")).toThrow(CheckpointError);
    }
    expect(() => decodeSafetensors(bytes.subarray(0, bytes.byteLength - 1), "checkpoint x")).toThrow(/truncated/);
  });

  // The format carries no checksum (runtime/checkpoint.ts writes none), so a flipped byte cannot always be caught.
  // What must hold is that it is either a one-line CheckpointError naming the file, or a load whose damage is exactly
  // the flipped byte: inside tensor data, that byte of that tensor and nothing else; inside the header, tensor bytes
  // and shapes bit-identical to what was saved (only a name, a same-width dtype or a metadata string can change).
  test("a flipped byte is a one-line error naming the file, or a load differing from the saved one only there", () => {
    const saved = sample(4);
    const bytes = encodeSafetensors(saved);
    const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const contents = (c: Checkpoint) => [...c.tensors.values()].map((t) => ({ shape: t.shape, bytes: [...t.bytes] }));
    const original = ["count", "emb", "layers.0.w"].map((k) => saved.tensors.get(k)!); // the file's data order
    const outcomes = { error: 0, dataFlip: 0, headerFlip: 0 };
    const check = (pos: number, x: number) => {
      const bad = bytes.slice();
      bad[pos] ^= x;
      let c: Checkpoint;
      try {
        c = decodeSafetensors(bad, "checkpoint x.safetensors");
      } catch (e) {
        expect(e).toBeInstanceOf(CheckpointError);
        expect((e as Error).message).toMatch(/^checkpoint x\.safetensors is not a valid safetensors file: [^\n]+$/);
        outcomes.error++;
        return;
      }
      if (pos >= dataStart) {
        expect(c.metadata).toEqual(saved.metadata);
        const want = original.map((t) => ({ shape: t.shape, bytes: [...t.bytes] }));
        const flat = want.flatMap((t) => t.bytes);
        flat[pos - dataStart] ^= x;
        let at = 0;
        for (const t of want) t.bytes = flat.slice(at, (at += t.bytes.length));
        expect(contents(c)).toEqual(want);
        for (const k of saved.tensors.keys()) expect(c.tensors.get(k)?.dtype).toBe(saved.tensors.get(k)!.dtype);
        outcomes.dataFlip++;
      } else {
        // a renamed key may reorder the map; sizes (4, 6, 24) give the file's order back
        const got = contents(c).sort((a, b) => a.bytes.length - b.bytes.length);
        expect(got).toEqual(original.map((t) => ({ shape: t.shape, bytes: [...t.bytes] })));
        outcomes.headerFlip++;
      }
    };
    for (let pos = 0; pos < bytes.byteLength; pos++) for (const x of [1, 2, 4, 8, 16, 32, 64, 128, 255]) check(pos, x);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.byteLength - 1 }), fc.integer({ min: 1, max: 255 }), (pos, x) => {
        check(pos, x);
      }),
      { numRuns: 300 },
    );
    // Every flip inside tensor data loads (no checksum); most header flips are caught.
    expect(outcomes.dataFlip).toBeGreaterThanOrEqual((bytes.byteLength - dataStart) * 9);
    expect(outcomes.error).toBeGreaterThan(outcomes.headerFlip);
  });

  test("a missing file is a CheckpointError naming it", () => {
    expect(() => loadCheckpoint(join(dir, "nope.safetensors"))).toThrow(/nope\.safetensors: no such file/);
    writeFileSync(join(dir, "junk.safetensors"), "not a checkpoint at all");
    expect(() => loadCheckpoint(join(dir, "junk.safetensors"))).toThrow(CheckpointError);
    expect(existsSync(dir)).toBe(true);
  });
});
