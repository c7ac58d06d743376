// checkpoint.ts: safetensors files, our own reader and writer, to the format's spec: an 8-byte
// little-endian header length, a JSON header mapping each tensor to {dtype, shape, data_offsets} plus
// string `__metadata__`, then the tensor bytes. Keys are written sorted and the header is padded to 8
// bytes, so save → load → save is byte-identical. Files are written to a temporary name, fsynced and
// renamed, so a crash leaves the previous checkpoint whole. Any damage is one clear error: `__metadata__`
// carries CRC-32 checksums of each tensor's bytes and of the header itself, so every flipped byte is caught
// (a CRC-32 detects any error burst up to 32 bits long). Files without them (older mira, other writers) load
// unchecked.
import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
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

/** What a header says of one tensor. */
export interface TensorInfo {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

const byteLength = (t: TensorInfo): number => t.shape.reduce((a, d) => a * d, 1) * WIDTH[TO_ST[t.dtype]];

/** The file's first bytes — the 8-byte length and the JSON header, padded to 8, its own checksum set —
 *  for tensors `names` (sorted) with checksums `crcs` (8 hex digits each), and the data bytes after it. */
function headerOf(
  names: readonly string[],
  infos: ReadonlyMap<string, TensorInfo>,
  crcs: Readonly<Record<string, string>>,
  metadata: Readonly<Record<string, string>>,
): { head: Uint8Array; dataBytes: number } {
  let offset = 0;
  const header: Record<string, unknown> = {};
  const meta = { ...metadata, [CRC_TENSORS]: JSON.stringify(crcs), [CRC_HEADER]: UNSET };
  header.__metadata__ = sortedObject(Object.entries(meta));
  for (const name of names) {
    const t = infos.get(name)!;
    const n = byteLength(t);
    header[name] = { dtype: TO_ST[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += " ";
  const body = Buffer.from(json, "utf8");
  const head = new Uint8Array(8 + body.byteLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(body.byteLength), true);
  head.set(body, 8);
  const at = headerCrcAt(head);
  if (at < 0) bug(`the header checksum's key appears more than once (a metadata value or tensor name holds it)`);
  head.set(Buffer.from(hex8(headerCrc(head, at))), at);
  return { head, dataBytes: offset };
}

export function encodeSafetensors(c: Checkpoint): Uint8Array {
  const names = [...c.tensors.keys()].sort();
  for (const name of names) {
    const t = c.tensors.get(name)!;
    if (t.bytes.byteLength !== byteLength(t))
      bug(`tensor '${name}' has ${t.bytes.byteLength} bytes, its shape needs ${byteLength(t)}`);
  }
  const crcs = Object.fromEntries(names.map((name) => [name, hex8(crc32(c.tensors.get(name)!.bytes))]));
  const { head, dataBytes } = headerOf(names, c.tensors, crcs, c.metadata);
  const out = new Uint8Array(head.byteLength + dataBytes);
  out.set(head, 0);
  let pos = head.byteLength;
  for (const name of names) {
    const t = c.tensors.get(name)!;
    out.set(t.bytes, pos);
    pos += t.bytes.byteLength;
  }
  return out;
}

interface Placed extends TensorInfo {
  /** byte range within the data, after the header */
  readonly start: number;
  readonly end: number;
}

interface Parsed {
  readonly placed: ReadonlyMap<string, Placed>;
  readonly metadata: Record<string, string>;
  /** each tensor's CRC-32 (8 hex digits) where the file carries them */
  readonly crcs?: Readonly<Record<string, unknown>>;
}

/** Errors about a file named `what`: not safetensors at all, or damaged (its checksums disagree). */
function failures(what: string): { bad: (why: string) => never; damaged: (why: string) => never } {
  return {
    bad: (why) => {
      throw new CheckpointError(`${what} is not a valid safetensors file: ${why}`);
    },
    damaged: (why) => {
      throw new CheckpointError(`${what} is damaged: ${why}; resume from an earlier checkpoint or retrain`);
    },
  };
}

/** The header length the file's first 8 bytes give, checked against the file's size. */
function headerLength(first8: Uint8Array, fileBytes: number, what: string): number {
  const { bad } = failures(what);
  if (fileBytes < 8) bad(`it is ${fileBytes} bytes long (truncated?)`);
  const n = Number(new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true));
  if (n > fileBytes - 8 || n > 100 * 2 ** 20)
    bad(`its header claims ${n} bytes but the file has ${fileBytes - 8} after the length (truncated?)`);
  return n;
}

/** The header (`head`: the file's first 8 + n bytes) checked against itself and `dataLen` bytes of data. */
function parseHeader(head: Uint8Array, dataLen: number, what: string): Parsed {
  const { bad, damaged } = failures(what);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(8)));
  } catch {
    return bad("its header is not valid JSON (corrupt?)");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header))
    return bad("its header is not a JSON object");
  const sums = checksums((header as { __metadata__?: unknown }).__metadata__);
  if (sums === "partial") return damaged(`its __metadata__ holds only one of ${CRC_HEADER} and ${CRC_TENSORS}`);
  if (sums) {
    const at = headerCrcAt(head);
    const stored = at < 0 ? "" : new TextDecoder().decode(head.subarray(at, at + 8));
    if (stored !== sums.header || !/^[0-9a-f]{8}$/.test(stored) || hex8(headerCrc(head, at)) !== stored)
      damaged("its header does not match its CRC-32 checksum");
  }
  const placed = new Map<string, Placed>();
  let metadata: Record<string, string> = {};
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
    const [start, end] = off as [number, number];
    const t: TensorInfo = { dtype: dtype!, shape: e.shape as number[] };
    if (end > dataLen)
      bad(`tensor '${name}' ends at byte ${end} but the file holds ${dataLen} bytes of data (truncated?)`);
    if (end - start !== byteLength(t))
      bad(`tensor '${name}' has ${end - start} bytes, its shape [${t.shape.join(", ")}] needs ${byteLength(t)}`);
    placed.set(name, { ...t, start, end });
  }
  const spans = [...placed.values()].sort((x, y) => x.start - y.start);
  for (let i = 1; i < spans.length; i++) if (spans[i].start < spans[i - 1].end) bad("two tensors overlap");
  const last = spans.length ? spans[spans.length - 1].end : 0;
  if (last !== dataLen) bad(`${dataLen - last} bytes after the last tensor`);
  if (!sums) return { placed, metadata };
  let crcs: Record<string, unknown> = {};
  try {
    crcs = JSON.parse(sums.tensors) as Record<string, unknown>;
  } catch {
    damaged(`its ${CRC_TENSORS} is not valid JSON`);
  }
  if (Object.keys(crcs).length !== placed.size) damaged(`its ${CRC_TENSORS} does not list its tensors`);
  return { placed, metadata, crcs };
}

/** A tensor's bytes, checked against the checksum the header gives for it (if the file carries them). */
function checked(name: string, bytes: Uint8Array, p: Parsed, what: string): Uint8Array {
  if (p.crcs && p.crcs[name] !== hex8(crc32(bytes)))
    failures(what).damaged(`the bytes of tensor '${name}' do not match their CRC-32 checksum`);
  return bytes;
}

export function decodeSafetensors(bytes: Uint8Array, what = "checkpoint"): Checkpoint {
  const n = headerLength(bytes.subarray(0, 8), bytes.byteLength, what);
  const p = parseHeader(bytes.subarray(0, 8 + n), bytes.byteLength - 8 - n, what);
  const data = 8 + n;
  const tensors = new Map<string, StoredTensor>();
  for (const [name, t] of p.placed)
    tensors.set(name, { dtype: t.dtype, shape: t.shape, bytes: bytes.slice(data + t.start, data + t.end) });
  // checked in file order, as they lie
  for (const [name, t] of [...tensors].sort(([a], [b]) => p.placed.get(a)!.start - p.placed.get(b)!.start))
    checked(name, t.bytes, p, what);
  return { tensors, metadata: p.metadata };
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

const tmpFor = (path: string): string => join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);

/** A failed write: the temporary file removed, a CheckpointWriteError naming why (or `e` itself). */
function writeFailed(e: unknown, path: string, tmp: string): never {
  rmSync(tmp, { force: true });
  const code = (e as NodeJS.ErrnoException).code;
  if (!code) throw e;
  const why = WRITE_FAILURES[code] ?? code;
  throw new CheckpointWriteError(`cannot write ${path}: ${why} (${code}); the file there is unchanged`);
}

/** The complete, fsynced temporary file renamed over `path`, and the directory fsynced. */
function commit(tmp: string, path: string, hooks: WriteHooks): void {
  hooks.beforeRename?.(tmp);
  renameSync(tmp, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** A writer of a whole buffer to `fd`, in as many writes as it takes. */
const writerOf =
  (fd: number, hooks: WriteHooks) =>
  (bytes: Uint8Array): void => {
    const write = hooks.write ?? ((f, b, off, len) => writeSync(f, b, off, len));
    let off = 0;
    while (off < bytes.byteLength) off += write(fd, bytes, off, bytes.byteLength - off);
  };

/** A writable temporary file for `path`, its descriptor; a failure to open it is a CheckpointWriteError. */
function openTemp(path: string, tmp: string): number {
  try {
    return openSync(tmp, "w");
  } catch (e) {
    return writeFailed(e, path, tmp);
  }
}

/** Closes the temporary file — fsynced first unless writing it `failed` — and reports any failure. */
function closeTemp(fd: number, path: string, tmp: string, failed?: { error: unknown }): void {
  let error = failed;
  try {
    if (!error) fsyncSync(fd);
  } catch (e) {
    error = { error: e };
  } finally {
    closeSync(fd);
  }
  if (error) writeFailed(error.error, path, tmp);
}

/** `path` written atomically by `body` (given a sequential writer and the descriptor): a temporary file in
 *  the same directory, fsync, rename, fsync of the directory. A failure removes the temporary file and
 *  leaves `path` as it was. */
async function writeAtomic(
  path: string,
  body: (write: (bytes: Uint8Array) => void, fd: number) => Promise<void>,
  hooks: WriteHooks = {},
): Promise<void> {
  const tmp = tmpFor(path);
  const fd = openTemp(path, tmp);
  let failed: { error: unknown } | undefined;
  try {
    await body(writerOf(fd, hooks), fd);
  } catch (e) {
    failed = { error: e };
  }
  closeTemp(fd, path, tmp, failed);
  commit(tmp, path, hooks);
}

/** Writes `bytes` to `path` atomically: temporary file in the same directory, fsync, rename, fsync dir.
 *  A failed write removes the temporary file and leaves `path` as it was. */
export function writeFileAtomic(path: string, bytes: Uint8Array, hooks: WriteHooks = {}): void {
  const tmp = tmpFor(path);
  const fd = openTemp(path, tmp);
  let failed: { error: unknown } | undefined;
  try {
    writerOf(fd, hooks)(bytes);
  } catch (e) {
    failed = { error: e };
  }
  closeTemp(fd, path, tmp, failed);
  commit(tmp, path, hooks);
}

/** Progress of a streamed save or load: bytes of tensor data done, of `total`. */
export type OnBytes = (done: number, total: number) => void;

/**
 * Writes a checkpoint one tensor at a time, for models too large to hold in memory at once (Mirasol 3b's
 * 6 GB): the same file `saveCheckpoint` would write for these tensors, atomically. The header goes first
 * with every checksum's digits as zeros — they have a fixed width, so its length is known — then each
 * tensor's bytes as `bytesOf` gives them, then the header again over the first, with the checksums.
 */
export async function saveCheckpointStreaming(
  path: string,
  infos: ReadonlyMap<string, TensorInfo>,
  bytesOf: (name: string) => Promise<Uint8Array>,
  metadata: Readonly<Record<string, string>>,
  onBytes?: OnBytes,
): Promise<void> {
  const names = [...infos.keys()].sort();
  const crcs: Record<string, string> = Object.fromEntries(names.map((n) => [n, UNSET]));
  const first = headerOf(names, infos, crcs, metadata);
  await writeAtomic(path, async (write, fd) => {
    write(first.head);
    let done = 0;
    for (const name of names) {
      const bytes = await bytesOf(name);
      const want = byteLength(infos.get(name)!);
      if (bytes.byteLength !== want) bug(`tensor '${name}' has ${bytes.byteLength} bytes, its shape needs ${want}`);
      crcs[name] = hex8(crc32(bytes));
      write(bytes);
      done += bytes.byteLength;
      onBytes?.(done, first.dataBytes);
    }
    const head = headerOf(names, infos, crcs, metadata).head;
    if (head.byteLength !== first.head.byteLength) bug("a streamed checkpoint's header changed length");
    writeSync(fd, head, 0, head.byteLength, 0);
  });
}

/** A checkpoint read one tensor at a time: its header now, each tensor's bytes (checked) when asked. */
export interface CheckpointReader {
  readonly infos: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  /** bytes of tensor data in the file */
  readonly dataBytes: number;
  read(name: string): Uint8Array;
  close(): void;
}

export function openCheckpoint(path: string): CheckpointReader {
  const what = `checkpoint ${path}`;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(`cannot read ${what}: ${code === "ENOENT" ? "no such file" : (code ?? String(e))}`);
  }
  const readAt = (start: number, length: number): Uint8Array => {
    const out = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, out, got, length - got, start + got);
      if (n === 0) failures(what).bad("it ended early (truncated?)");
      got += n;
    }
    return out;
  };
  try {
    const size = fstatSync(fd).size;
    const n = headerLength(readAt(0, Math.min(8, size)), size, what);
    const p = parseHeader(readAt(0, 8 + n), size - 8 - n, what);
    return {
      infos: p.placed,
      metadata: p.metadata,
      dataBytes: size - 8 - n,
      read: (name) => {
        const t = p.placed.get(name);
        if (!t) throw new CheckpointError(`${what} has no tensor '${name}'`);
        return checked(name, readAt(8 + n + t.start, t.end - t.start), p, what);
      },
      close: () => closeSync(fd),
    };
  } catch (e) {
    closeSync(fd);
    throw e;
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
