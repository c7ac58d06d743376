// checkpoint.ts: safetensors files, our own reader and writer, to the format's spec: an 8-byte
// little-endian header length, a JSON header mapping each tensor to {dtype, shape, data_offsets} plus
// string `__metadata__`, then the tensor bytes. Keys are written sorted and the header is padded to 8
// bytes, so save → load → save is byte-identical. Files are written to a temporary name, fsynced and
// renamed, so a crash leaves the previous checkpoint whole. Any damage is one clear error: `__metadata__`
// carries CRC-32 checksums of each tensor's bytes and of the header itself, so every flipped byte is caught
// (a CRC-32 detects any error burst up to 32 bits long). Files without them (older mira, other writers) load
// unchecked.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import * as zlib from "node:zlib";
import type { DType } from "../compiler/dtype.js";
import { bug, errorOf } from "../base/errors.js";

/** A checkpoint that cannot be read or does not fit the model: an input the user named (exit 2). */
export class CheckpointError extends errorOf("CheckpointError", "bad-input") {}

/** A checkpoint that could not be written (a full disk, a read-only or missing directory): this machine
 *  lacks what the run needs (exit 3). The file it would have replaced is left as it was. */
export class CheckpointWriteError extends errorOf("CheckpointWriteError", "setup") {}

export interface StoredTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** little-endian bytes, as the tensor is stored on the device (bool as one byte per element) */
  readonly bytes: Uint8Array;
}

export interface Checkpoint {
  readonly tensors: ReadonlyMap<string, StoredTensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

const TO_ST: Record<DType, string> = { f32: "F32", f16: "F16", i32: "I32", u32: "U32", bool: "BOOL" };
const FROM_ST: Record<string, DType> = { F32: "f32", F16: "f16", I32: "i32", U32: "u32", BOOL: "bool" };
const WIDTH: Record<string, number> = { F32: 4, F16: 2, I32: 4, U32: 4, BOOL: 1 };

/** CRC-32 (IEEE, as zip and PNG), one table lookup per byte: the fallback where node:zlib has no crc32
 *  (Node before 20.15). */
export function crc32Table(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
/** node:zlib's native CRC-32 (several GB/s) where it exists. */
export const crc32: (bytes: Uint8Array) => number = zlib.crc32 ?? crc32Table;

/** Metadata keys of the checksums: of every tensor's bytes (a JSON object, name → 8 hex digits), and of the
 *  header (its 8-byte length and JSON, with this value's own 8 digits counted as zeros). Two keys, so one
 *  damaged byte cannot make a checked file pass for an unchecked one: that needs both gone. */
const CRC_TENSORS = "crc32_tensors";
const CRC_HEADER = "crc32_header";
const CRC_HEADER_AT = Buffer.from(`"${CRC_HEADER}":"`);
const UNSET = "00000000";
const hex8 = (n: number): string => n.toString(16).padStart(8, "0");

/** Where the header checksum's 8 digits start in `head` (the file's first 8 + n bytes); -1 unless once. */
function headerCrcAt(head: Uint8Array): number {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const at = b.indexOf(CRC_HEADER_AT);
  return at >= 0 && b.lastIndexOf(CRC_HEADER_AT) === at ? at + CRC_HEADER_AT.byteLength : -1;
}

/** CRC-32 of the header bytes with the header checksum's digits as zeros. */
function headerCrc(head: Uint8Array, at: number): number {
  const zeroed = head.slice();
  zeroed.set(Buffer.from(UNSET), at);
  return crc32(zeroed);
}

const sortedObject = <T>(entries: [string, T][]): Record<string, T> =>
  Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export function encodeSafetensors(c: Checkpoint): Uint8Array {
  const names = [...c.tensors.keys()].sort();
  let offset = 0;
  const header: Record<string, unknown> = {};
  const crcs = Object.fromEntries(names.map((name) => [name, hex8(crc32(c.tensors.get(name)!.bytes))]));
  const metadata = { ...c.metadata, [CRC_TENSORS]: JSON.stringify(crcs), [CRC_HEADER]: UNSET };
  header.__metadata__ = sortedObject(Object.entries(metadata));
  for (const name of names) {
    const t = c.tensors.get(name)!;
    const expected = t.shape.reduce((a, d) => a * d, 1) * WIDTH[TO_ST[t.dtype]];
    if (t.bytes.byteLength !== expected)
      bug(`tensor '${name}' has ${t.bytes.byteLength} bytes, its shape needs ${expected}`);
    header[name] = { dtype: TO_ST[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + expected] };
    offset += expected;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += " ";
  const head = Buffer.from(json, "utf8");
  const out = new Uint8Array(8 + head.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.byteLength), true);
  out.set(head, 8);
  const headEnd = 8 + head.byteLength;
  const at = headerCrcAt(out.subarray(0, headEnd));
  if (at < 0) bug(`the header checksum's key appears more than once (a metadata value or tensor name holds it)`);
  out.set(Buffer.from(hex8(headerCrc(out.subarray(0, headEnd), at))), at);
  let pos = headEnd;
  for (const name of names) {
    const t = c.tensors.get(name)!;
    out.set(t.bytes, pos);
    pos += t.bytes.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, what = "checkpoint"): Checkpoint {
  const bad = (why: string): never => {
    throw new CheckpointError(`${what} is not a valid safetensors file: ${why}`);
  };
  const damaged = (why: string): never => {
    throw new CheckpointError(`${what} is damaged: ${why}; resume from an earlier checkpoint or retrain`);
  };
  if (bytes.byteLength < 8) bad(`it is ${bytes.byteLength} bytes long (truncated?)`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > bytes.byteLength - 8 || n > 100 * 2 ** 20)
    bad(`its header claims ${n} bytes but the file has ${bytes.byteLength - 8} after the length (truncated?)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch {
    return bad("its header is not valid JSON (corrupt?)");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header))
    return bad("its header is not a JSON object");
  const sums = checksums((header as { __metadata__?: unknown }).__metadata__);
  if (sums === "partial") return damaged(`its __metadata__ holds only one of ${CRC_HEADER} and ${CRC_TENSORS}`);
  if (sums) {
    const head = bytes.subarray(0, 8 + n);
    const at = headerCrcAt(head);
    const stored = at < 0 ? "" : new TextDecoder().decode(head.subarray(at, at + 8));
    if (stored !== sums.header || !/^[0-9a-f]{8}$/.test(stored) || hex8(headerCrc(head, at)) !== stored)
      damaged("its header does not match its CRC-32 checksum");
  }
  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  const tensors = new Map<string, StoredTensor>();
  let metadata: Record<string, string> = {};
  const spans: [start: number, end: number, name: string][] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof v !== "object" || v === null || Object.values(v).some((x) => typeof x !== "string"))
        bad("__metadata__ must map names to strings");
      const { [CRC_HEADER]: _h, [CRC_TENSORS]: _t, ...rest } = v as Record<string, string>;
      metadata = rest;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof e?.dtype === "string" ? FROM_ST[e.dtype] : undefined;
    if (!dtype) bad(`tensor '${name}' has an unsupported dtype ${JSON.stringify(e?.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0))
      bad(`tensor '${name}' has a bad shape`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isInteger(x) && x >= 0) || off[0] > off[1])
      bad(`tensor '${name}' has bad data_offsets`);
    const [s, t] = off as [number, number];
    const shape = e.shape as number[];
    if (t > dataLen) bad(`tensor '${name}' ends at byte ${t} but the file holds ${dataLen} bytes of data (truncated?)`);
    if (t - s !== shape.reduce((a, d) => a * d, 1) * WIDTH[TO_ST[dtype!]])
      bad(
        `tensor '${name}' has ${t - s} bytes, ` +
          `its shape [${shape.join(", ")}] needs ${shape.reduce((a, d) => a * d, 1) * WIDTH[TO_ST[dtype!]]}`,
      );
    spans.push([s, t, name]);
    tensors.set(name, { dtype: dtype!, shape, bytes: bytes.slice(dataStart + s, dataStart + t) });
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) if (spans[i][0] < spans[i - 1][1]) bad("two tensors overlap");
  const end = spans.length ? spans[spans.length - 1][1] : 0;
  if (end !== dataLen) bad(`${dataLen - end} bytes after the last tensor`);
  if (sums) {
    let want: Record<string, unknown> = {};
    try {
      want = JSON.parse(sums.tensors) as Record<string, unknown>;
    } catch {
      damaged(`its ${CRC_TENSORS} is not valid JSON`);
    }
    if (Object.keys(want).length !== tensors.size) damaged(`its ${CRC_TENSORS} does not list its tensors`);
    for (const [, , name] of spans)
      if (want[name] !== hex8(crc32(tensors.get(name)!.bytes)))
        damaged(`the bytes of tensor '${name}' do not match their CRC-32 checksum`);
  }
  return { tensors, metadata };
}

/** The checksums a header's `__metadata__` holds: undefined when it holds none (an unchecked file),
 *  "partial" when only one. */
function checksums(meta: unknown): { header: string; tensors: string } | "partial" | undefined {
  if (typeof meta !== "object" || meta === null) return undefined;
  const m = meta as Record<string, unknown>;
  const header = m[CRC_HEADER];
  const tensors = m[CRC_TENSORS];
  if (header === undefined && tensors === undefined) return undefined;
  if (typeof header !== "string" || typeof tensors !== "string") return "partial";
  return { header, tensors };
}

export interface WriteHooks {
  /** Called after the temporary file is complete and fsynced, before the rename (tests crash here). */
  readonly beforeRename?: (tmpPath: string) => void;
  /** Writes part of the file, as fs.writeSync (tests fill the disk here). */
  readonly write?: (fd: number, bytes: Uint8Array, offset: number, length: number) => number;
}

const WRITE_FAILURES: Record<string, string> = {
  ENOSPC: "the disk is full",
  EDQUOT: "the disk quota is used up",
  EROFS: "the file system is read-only",
  EACCES: "permission denied",
  ENOENT: "its directory does not exist",
  EIO: "an I/O error",
};

/** Writes `bytes` to `path` atomically: temporary file in the same directory, fsync, rename, fsync dir.
 *  A failed write removes the temporary file and leaves `path` as it was. */
export function writeFileAtomic(path: string, bytes: Uint8Array, hooks: WriteHooks = {}): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  const write = hooks.write ?? ((fd, b, off, len) => writeSync(fd, b, off, len));
  try {
    const fd = openSync(tmp, "w");
    try {
      let off = 0;
      while (off < bytes.byteLength) off += write(fd, bytes, off, bytes.byteLength - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (!code) throw e;
    const why = WRITE_FAILURES[code] ?? code;
    throw new CheckpointWriteError(`cannot write ${path}: ${why} (${code}); the file there is unchanged`);
  }
  hooks.beforeRename?.(tmp);
  renameSync(tmp, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export function saveCheckpoint(path: string, c: Checkpoint, hooks: WriteHooks = {}): void {
  writeFileAtomic(path, encodeSafetensors(c), hooks);
}

export function loadCheckpoint(path: string): Checkpoint {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(
      `cannot read checkpoint ${path}: ${code === "ENOENT" ? "no such file" : (code ?? String(e))}`,
    );
  }
  return decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), `checkpoint ${path}`);
}
