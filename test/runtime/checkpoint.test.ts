// safetensors checkpoints: the format's layout, byte-identical round trips, atomic writes that survive a
// crash before the rename or a disk that fills up, one clear error for truncated or corrupt files, and
// CRC-32 checksums that catch every flipped byte while files without them still load; streamed saves and
// reads, one tensor at a time, of the same files.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  type Checkpoint,
  CheckpointError,
  CheckpointWriteError,
  crc32,
  crc32Table,
  decodeSafetensors,
  encodeSafetensors,
  loadCheckpoint,
  openCheckpoint,
  saveCheckpoint,
  saveCheckpointStreaming,
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
    const { crc32_header, crc32_tensors, ...metadata } = header.__metadata__;
    expect(metadata).toEqual({ model: "models/char_lm.mira", step: "7" });
    expect(crc32_header).toMatch(/^[0-9a-f]{8}$/);
    expect(Object.keys(JSON.parse(crc32_tensors))).toEqual(["count", "emb", "layers.0.w"]);
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

  // The header's `__metadata__` holds CRC-32s of each tensor's bytes and of the header itself, so every flip of
  // every byte is a one-line CheckpointError naming the file; a flip inside tensor data names that tensor.
  test("every single-byte flip, in the header or the data, is a one-line error naming the file", () => {
    const bytes = encodeSafetensors(sample(4));
    const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const tensorAt = (pos: number) => (pos < dataStart + 4 ? "count" : pos < dataStart + 10 ? "emb" : "layers.0.w");
    let damaged = 0;
    for (let pos = 0; pos < bytes.byteLength; pos++) {
      for (let x = 1; x < 256; x++) {
        const bad = bytes.slice();
        bad[pos] ^= x;
        let err: unknown;
        try {
          decodeSafetensors(bad, "checkpoint x.safetensors");
        } catch (e) {
          err = e;
        }
        expect(err, `byte ${pos} ^ ${x} loaded`).toBeInstanceOf(CheckpointError);
        const message = (err as Error).message;
        expect(message).toMatch(/^checkpoint x\.safetensors is (not a valid safetensors file|damaged): [^\n]+$/);
        if (pos >= dataStart)
          expect(message).toBe(
            `checkpoint x.safetensors is damaged: the bytes of tensor '${tensorAt(pos)}' do not match their ` +
              "CRC-32 checksum; resume from an earlier checkpoint or retrain",
          );
        if (message.includes(" is damaged: ")) damaged++;
      }
    }
    // a flip that leaves valid JSON and a sound layout is caught by the header's checksum
    expect(damaged).toBeGreaterThan((bytes.byteLength - dataStart) * 255);
  });

  test("a file without checksums (older mira, other writers) loads as it is", () => {
    const saved = sample(5);
    const names = [...saved.tensors.keys()].sort();
    let offset = 0;
    const header: Record<string, unknown> = { __metadata__: saved.metadata };
    for (const name of names) {
      const t = saved.tensors.get(name)!;
      header[name] = {
        dtype: t.dtype.toUpperCase(),
        shape: t.shape,
        data_offsets: [offset, (offset += t.bytes.length)],
      };
    }
    const json = Buffer.from(JSON.stringify(header));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.byteLength));
    const path = join(dir, "unchecked.safetensors");
    writeFileSync(path, Buffer.concat([length, json, ...names.map((k) => saved.tensors.get(k)!.bytes)]));
    const c = loadCheckpoint(path);
    expect(c.metadata).toEqual(saved.metadata);
    for (const name of names) expect(c.tensors.get(name)).toEqual(saved.tensors.get(name));
    // unchecked, a flipped data byte loads: the checksum is what catches it
    const bad = readFileSync(path);
    bad[bad.byteLength - 1] ^= 1;
    expect(() => decodeSafetensors(bad, "x")).not.toThrow();
  });

  test("a checksum entry lost on its own is damage, not a file without checksums", () => {
    const bytes = encodeSafetensors(sample(6));
    const text = Buffer.from(bytes).toString("latin1");
    for (const key of ["crc32_header", "crc32_tensors"]) {
      const bad = Buffer.from(text.replace(`"${key}"`, `"${key.replace("crc", "crd")}"`), "latin1");
      expect(() => decodeSafetensors(bad, "checkpoint y")).toThrow(
        "checkpoint y is damaged: its __metadata__ holds only one of crc32_header and crc32_tensors; " +
          "resume from an earlier checkpoint or retrain",
      );
    }
  });

  test("CRC-32: node:zlib's and the table fallback agree, and give the standard check value", () => {
    expect(crc32Table(Buffer.from("123456789"))).toBe(0xcbf43926);
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    for (const n of [0, 1, 7, 1000]) {
      const b = randomBytes(n);
      expect(crc32Table(b)).toBe(crc32(b));
    }
  });

  test("a missing file is a CheckpointError naming it", () => {
    expect(() => loadCheckpoint(join(dir, "nope.safetensors"))).toThrow(/nope\.safetensors: no such file/);
    writeFileSync(join(dir, "junk.safetensors"), "not a checkpoint at all");
    expect(() => loadCheckpoint(join(dir, "junk.safetensors"))).toThrow(CheckpointError);
    expect(existsSync(dir)).toBe(true);
  });
});

describe("streamed checkpoints (one tensor at a time)", () => {
  test("a streamed save writes the bytes saveCheckpoint writes; openCheckpoint reads each tensor back", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1000 }), async (seed) => {
        const c = sample(seed);
        const whole = join(dir, `whole-${seed}.safetensors`);
        const streamed = join(dir, `streamed-${seed}.safetensors`);
        saveCheckpoint(whole, c);
        const progress: number[] = [];
        await saveCheckpointStreaming(
          streamed,
          c.tensors,
          async (name) => c.tensors.get(name)!.bytes,
          c.metadata,
          (done, total) => progress.push(done / total),
        );
        expect(readFileSync(streamed)).toEqual(readFileSync(whole));
        expect(progress.at(-1)).toBe(1);
        expect(progress).toEqual([...progress].sort((a, b) => a - b));
        const r = openCheckpoint(streamed);
        try {
          expect(r.metadata).toEqual(c.metadata);
          for (const [name, t] of c.tensors) {
            expect(r.infos.get(name)).toMatchObject({ dtype: t.dtype, shape: t.shape });
            expect(r.read(name)).toEqual(t.bytes);
          }
        } finally {
          r.close();
        }
      }),
      { numRuns: 20 },
    );
  });

  test("a flipped byte is caught when its tensor is read; a truncated file when it is opened", async () => {
    const path = join(dir, "streamed-damaged.safetensors");
    const c = sample(3);
    await saveCheckpointStreaming(path, c.tensors, async (n) => c.tensors.get(n)!.bytes, c.metadata);
    const bytes = readFileSync(path);
    bytes[bytes.byteLength - 2] ^= 0x10; // inside the last tensor's data
    writeFileSync(path, bytes);
    const r = openCheckpoint(path);
    const damaged = [...r.infos.keys()].filter((n) => {
      try {
        r.read(n);
        return false;
      } catch (e) {
        expect((e as Error).message).toMatch(/is damaged: the bytes of tensor '.*' do not match their CRC-32/);
        return true;
      }
    });
    r.close();
    expect(damaged).toHaveLength(1);
    writeFileSync(path, bytes.subarray(0, bytes.byteLength - 5));
    expect(() => openCheckpoint(path)).toThrow(/truncated|bytes after the last tensor|holds .* bytes of data/);
    expect(() => openCheckpoint(join(dir, "none.safetensors"))).toThrow(/no such file/);
  });

  test("a tensor that cannot be read leaves the previous file whole and no temporary file", async () => {
    const path = join(dir, "streamed-kept.safetensors");
    const c = sample(5);
    saveCheckpoint(path, c);
    const before = readFileSync(path);
    const failing = async (name: string) => {
      if (name === "layers.0.w") throw new Error("the device was lost");
      return c.tensors.get(name)!.bytes;
    };
    await expect(saveCheckpointStreaming(path, c.tensors, failing, c.metadata)).rejects.toThrow("the device was lost");
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.startsWith(".streamed-kept"))).toEqual([]);
  });
});
