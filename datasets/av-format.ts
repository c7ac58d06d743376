// av-format.ts: the audio-video QA data format (docs/data.md) — raw little-endian f32/i32 tensor files
// and a JSON index that describes them, each written atomically (temporary file, fsync, rename, then
// the directory fsynced), the index last; and the reader, which checks every size and checksum and
// says in one line what is missing or damaged. Knows the layout, not how a set is generated.
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { endianness } from "node:os";
import { basename, dirname, join } from "node:path";
import { crc32 } from "node:zlib";
import type { Chance } from "./chance.js";
import type { MelParams } from "./audio.js";
import type { SynthConfig } from "./synth-av.js";
import { bug, MiraError } from "../base/errors.js";

export const FORMAT = "mira-av-qa";
export const VERSION = 1;
export const INDEX_FILE = "index.json";

/** A data set that cannot be read or used: missing, damaged, or not what the index says. One line. */
export class DataError extends MiraError {
  readonly kind = "bad-input";
  override name = "DataError";
}

export type TensorDType = "f32" | "i32";

export interface TensorEntry {
  readonly file: string; // relative to the data directory
  readonly dtype: TensorDType;
  readonly shape: readonly number[];
  readonly bytes: number;
  readonly crc32: number; // of the whole file (zlib's CRC-32)
}

export interface FileEntry {
  readonly file: string;
  readonly bytes: number;
  readonly crc32: number;
}

export interface SplitRange {
  readonly clips: readonly [start: number, end: number];
  readonly questions: readonly [start: number, end: number];
}

/** The tensors every set has, with their shapes (N clips, Q questions). */
export const TENSORS = {
  video: { dtype: "f32", shape: "[N, T·F, H, W, 3]" },
  spectrogram: { dtype: "f32", shape: "[N, T·S, mel]" },
  text: { dtype: "i32", shape: "[Q, L]" },
  loss_mask: { dtype: "f32", shape: "[Q, L]" },
  question_clip: { dtype: "i32", shape: "[Q]" },
  question_type: { dtype: "i32", shape: "[Q]" },
  answer: { dtype: "i32", shape: "[Q]" },
  prompt_length: { dtype: "i32", shape: "[Q]" },
} as const satisfies Record<string, { dtype: TensorDType; shape: string }>;
export type TensorName = keyof typeof TENSORS;
export const TENSOR_NAMES = Object.keys(TENSORS) as TensorName[];

export interface AvIndex {
  readonly format: typeof FORMAT;
  readonly version: typeof VERSION;
  readonly generator: { readonly name: string; readonly seed: number; readonly config: SynthConfig };
  readonly clips: number;
  readonly questions: number;
  readonly video: {
    readonly chunks: number;
    readonly framesPerChunk: number;
    readonly frames: number;
    readonly height: number;
    readonly width: number;
    readonly channels: 3;
    readonly fps: number;
  };
  readonly audio: {
    readonly sampleRate: number;
    readonly samplesPerClip: number;
    readonly specFramesPerChunk: number;
    readonly specFrames: number;
    readonly mel: MelParams & {
      readonly scale: "htk";
      readonly window: string;
      readonly framing: string;
      readonly log: string;
    };
    /** mean and standard deviation of the training split's spectrogram values, for normalising */
    readonly stats: { readonly mean: number; readonly std: number };
  };
  readonly text: {
    readonly length: number;
    readonly vocab: readonly string[];
    readonly pad: number;
    readonly bos: number;
    readonly eos: number;
  };
  readonly questionTypes: readonly {
    readonly name: string;
    readonly needs: readonly string[];
    readonly template: string;
  }[];
  readonly splits: { readonly train: SplitRange; readonly val: SplitRange; readonly test: SplitRange };
  readonly chance: Readonly<Record<string, Chance>>;
  /** questions per type and split, and the training answers' counts per type */
  readonly counts: Readonly<
    Record<
      string,
      {
        readonly train: number;
        readonly val: number;
        readonly test: number;
        readonly trainAnswers: Readonly<Record<string, number>>;
      }
    >
  >;
  readonly tensors: Readonly<Record<TensorName, TensorEntry>>;
  readonly events: FileEntry;
}

function checkEndianness(): void {
  if (endianness() !== "LE")
    throw new DataError(
      "this data format is little-endian and this machine is big-endian; reading and writing it here is not supported",
    );
}

// ---------------------------------------------------------------------------------------------------
// Writing.

const tmpPathOf = (path: string): string => join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A file written in pieces to a temporary name and renamed into place by `commit` (after fsync). */
export class AtomicFileWriter {
  private readonly tmp: string;
  private fd: number | undefined;
  private crc = 0;
  private written = 0;

  constructor(readonly path: string) {
    this.tmp = tmpPathOf(path);
    this.fd = openSync(this.tmp, "w");
  }

  write(data: ArrayBufferView): void {
    if (this.fd === undefined) bug(`write to ${this.path} after commit or abort`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(this.fd, bytes, off, bytes.byteLength - off);
    this.crc = crc32(bytes, this.crc);
    this.written += bytes.byteLength;
  }

  /** fsync, rename into place, fsync the directory; returns the file's size and CRC-32. */
  commit(): { bytes: number; crc32: number } {
    if (this.fd === undefined) bug(`commit of ${this.path} twice`);
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.tmp, this.path);
    fsyncDir(dirname(this.path));
    return { bytes: this.written, crc32: this.crc };
  }

  /** Closes and removes the temporary file (the previous file at `path`, if any, is untouched). */
  abort(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.tmp, { force: true });
  }
}

/** Writes a whole file atomically; returns its size and CRC-32. */
export function writeAtomic(path: string, data: ArrayBufferView | string): { bytes: number; crc32: number } {
  checkEndianness();
  const w = new AtomicFileWriter(path);
  try {
    w.write(typeof data === "string" ? Buffer.from(data, "utf8") : data);
    return w.commit();
  } catch (e) {
    w.abort();
    throw e;
  }
}

/** Removes the index first, so that while a set is rewritten no reader pairs the old index with new files. */
export function retireIndex(dir: string): void {
  try {
    unlinkSync(join(dir, INDEX_FILE));
    fsyncDir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}

export const writeIndex = (dir: string, index: AvIndex): { bytes: number; crc32: number } =>
  writeAtomic(join(dir, INDEX_FILE), JSON.stringify(index, null, 1) + "\n");

// ---------------------------------------------------------------------------------------------------
// Reading.

export interface AvTensors {
  readonly video: Float32Array;
  readonly spectrogram: Float32Array;
  readonly text: Int32Array;
  readonly loss_mask: Float32Array;
  readonly question_clip: Int32Array;
  readonly question_type: Int32Array;
  readonly answer: Int32Array;
  readonly prompt_length: Int32Array;
}

export interface AvDataset {
  readonly dir: string;
  readonly index: AvIndex;
  readonly tensors: AvTensors;
}

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
const fmtShape = (e: { dtype: string; shape: readonly number[] }): string => `${e.dtype}[${e.shape.join(", ")}]`;
const REGENERATE = "regenerate it with 'mira data synth --out DIR'";

function readBytes(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new DataError(`${what} ${path} is missing; ${REGENERATE}`);
    throw new DataError(`cannot read ${what} ${path}: ${code ?? String(e)}`);
  }
}

/** Reads and checks the index: format, version, and that the shapes it lists agree with its sizes. */
export function readIndex(dir: string): AvIndex {
  checkEndianness();
  const path = join(dir, INDEX_FILE);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new DataError(
      `no data set at ${dir}: the directory does not exist; make one with 'mira data synth --out ${dir}'`,
    );
  }
  if (!isDir) throw new DataError(`no data set at ${dir}: it is a file, not a directory`);
  let index: AvIndex;
  try {
    index = JSON.parse(readBytes(path, "data index").toString("utf8")) as AvIndex;
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`data index ${path} is not valid JSON (damaged or cut short); ${REGENERATE}`);
  }
  const bad = (why: string): never => {
    throw new DataError(`data index ${path} ${why}; ${REGENERATE}`);
  };
  if (index?.format !== FORMAT) bad(`is not a '${FORMAT}' index (format ${JSON.stringify(index?.format)})`);
  if (index.version !== VERSION)
    bad(`has version ${JSON.stringify(index.version)}, this reader knows version ${VERSION}`);
  const v = index.video;
  const a = index.audio;
  const L = index.text?.length;
  if (
    !v ||
    !a ||
    !Number.isInteger(L) ||
    !index.tensors ||
    !index.splits ||
    !Number.isInteger(index.clips) ||
    !Number.isInteger(index.questions)
  )
    bad("lacks one of video, audio, text, tensors, splits, clips, questions");
  const N = index.clips;
  const Q = index.questions;
  const expected: Record<TensorName, number[]> = {
    video: [N, v.frames, v.height, v.width, 3],
    spectrogram: [N, a.specFrames, a.mel?.mels],
    text: [Q, L],
    loss_mask: [Q, L],
    question_clip: [Q],
    question_type: [Q],
    answer: [Q],
    prompt_length: [Q],
  };
  for (const name of TENSOR_NAMES) {
    const e = index.tensors[name];
    if (!e || typeof e.file !== "string") bad(`lists no tensor '${name}'`);
    const want = { dtype: TENSORS[name].dtype, shape: expected[name] };
    if (
      e.dtype !== want.dtype ||
      e.shape?.length !== want.shape.length ||
      e.shape.some((d, i) => d !== want.shape[i])
    ) {
      bad(`says tensor '${name}' is ${fmtShape(e)} but its sizes make it ${fmtShape(want)}`);
    }
    if (e.bytes !== prod(e.shape) * 4)
      bad(`says tensor '${name}' (${fmtShape(e)}) has ${e.bytes} bytes, not ${prod(e.shape) * 4}`);
  }
  return index;
}

function checkFile(
  path: string,
  bytes: Buffer,
  entry: { bytes: number; crc32: number },
  describe: string,
  verify: boolean,
): void {
  if (bytes.byteLength !== entry.bytes) {
    throw new DataError(
      `${path} has ${bytes.byteLength} bytes but the index says ${describe} = ${entry.bytes} bytes ` +
        `(truncated, or from another set?); ${REGENERATE}`,
    );
  }
  if (verify) {
    const crc = crc32(bytes);
    if (crc !== entry.crc32)
      throw new DataError(
        `${path} is damaged: its CRC-32 is ${crc.toString(16).padStart(8, "0")} ` +
          `but the index says ${entry.crc32.toString(16).padStart(8, "0")}; ${REGENERATE}`,
      );
  }
}

/** Loads a whole set into memory, checking every file's size and (with `verify`, the default) checksum. */
export function loadAvDataset(dir: string, opts: { verify?: boolean } = {}): AvDataset {
  const verify = opts.verify ?? true;
  const index = readIndex(dir);
  const tensors: Partial<Record<TensorName, Float32Array | Int32Array>> = {};
  for (const name of TENSOR_NAMES) {
    const e = index.tensors[name];
    const path = join(dir, e.file);
    const bytes = readBytes(path, `tensor file '${name}'`);
    checkFile(path, bytes, e, fmtShape(e), verify);
    // copy into an aligned buffer of its own: a Buffer may share a pool at an unaligned offset
    const buf = new ArrayBuffer(bytes.byteLength);
    new Uint8Array(buf).set(bytes);
    tensors[name] = e.dtype === "f32" ? new Float32Array(buf) : new Int32Array(buf);
  }
  const t = tensors as unknown as AvTensors;
  checkValues(dir, index, t);
  return { dir, index, tensors: t };
}

/** Ids in range: a wrong but well-sized file would otherwise fail far from here. */
function checkValues(dir: string, index: AvIndex, t: AvTensors): void {
  const bad = (what: string, i: number, v: number, range: string): never => {
    throw new DataError(
      `${join(dir, index.tensors[what as TensorName].file)} holds ${v} at ${i}, outside ${range}; ${REGENERATE}`,
    );
  };
  const V = index.text.vocab.length;
  t.text.forEach((x, i) => (x < 0 || x >= V) && bad("text", i, x, `the vocabulary's ids 0..${V - 1}`));
  t.answer.forEach((x, i) => (x < 0 || x >= V) && bad("answer", i, x, `the vocabulary's ids 0..${V - 1}`));
  t.question_clip.forEach(
    (x, i) => (x < 0 || x >= index.clips) && bad("question_clip", i, x, `clips 0..${index.clips - 1}`),
  );
  t.question_type.forEach(
    (x, i) =>
      (x < 0 || x >= index.questionTypes.length) &&
      bad("question_type", i, x, `types 0..${index.questionTypes.length - 1}`),
  );
  t.prompt_length.forEach(
    (x, i) => (x < 1 || x >= index.text.length) && bad("prompt_length", i, x, `1..${index.text.length - 1}`),
  );
}

/** The per-clip event lists (events.json), checked like the tensors. */
export function loadEvents<T = unknown>(dir: string, index: AvIndex, opts: { verify?: boolean } = {}): T[] {
  const path = join(dir, index.events.file);
  const bytes = readBytes(path, "event list");
  checkFile(path, bytes, index.events, "the event list", opts.verify ?? true);
  const events = JSON.parse(bytes.toString("utf8")) as T[];
  if (!Array.isArray(events) || events.length !== index.clips)
    throw new DataError(
      `${path} lists ${Array.isArray(events) ? events.length : "no"} clips, the index ${index.clips}; ${REGENERATE}`,
    );
  return events;
}
