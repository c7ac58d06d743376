// av-format.ts and av-build.ts: same seed → byte-identical files, the index and tensors round-trip,
// chance recomputed from the written tensors, atomic writes, and one clear line for every kind of damage.
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { generateClip, synthesize } from "../../datasets/av-build.js";
import {
  AtomicFileWriter,
  type AvIndex,
  DataError,
  INDEX_FILE,
  TENSOR_NAMES,
  loadAvDataset,
  loadEvents,
  readIndex,
} from "../../datasets/av-format.js";
import { type SynthConfig, QUESTION_TYPE_NAMES, TINY, questionsFor, sampleEvents } from "../../datasets/synth-av.js";

const root = mkdtempSync(join(tmpdir(), "mira-av-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const CLIPS = 30;
const config: SynthConfig = TINY;
let index: AvIndex;

beforeAll(() => {
  index = synthesize({ out: join(root, "a"), clips: CLIPS, seed: 11, config }).index;
  synthesize({ out: join(root, "b"), clips: CLIPS, seed: 11, config });
  synthesize({ out: join(root, "c"), clips: CLIPS, seed: 12, config });
});

const files = (dir: string) => readdirSync(dir).sort();

/** A copy of set 'a' to damage. */
function copyOfA(name: string): string {
  const dir = join(root, name);
  cpSync(join(root, "a"), dir, { recursive: true });
  return dir;
}

/** The one line the reader throws for `dir`. */
function loadError(dir: string): string {
  try {
    loadAvDataset(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    const m = (e as Error).message;
    expect(m.split("\n")).toHaveLength(1);
    return m;
  }
  throw new Error(`loading ${dir} did not fail`);
}

describe("writing", () => {
  test("the same seed writes byte-identical files; another seed, different data", () => {
    expect(files(join(root, "a"))).toEqual([
      "answer.i32",
      "events.json",
      INDEX_FILE,
      "loss_mask.f32",
      "prompt_length.i32",
      "question_clip.i32",
      "question_type.i32",
      "spectrogram.f32",
      "text.i32",
      "video.f32",
    ]);
    expect(files(join(root, "b"))).toEqual(files(join(root, "a")));
    for (const f of files(join(root, "a")))
      expect(readFileSync(join(root, "b", f)).equals(readFileSync(join(root, "a", f))), f).toBe(true);
    for (const f of ["video.f32", "spectrogram.f32", "events.json", INDEX_FILE])
      expect(readFileSync(join(root, "c", f)).equals(readFileSync(join(root, "a", f))), f).toBe(false);
  });

  test("no temporary files are left behind", () => {
    for (const d of ["a", "b", "c"]) expect(files(join(root, d)).filter((f) => f.startsWith("."))).toEqual([]);
  });

  test("an aborted write leaves the previous file whole and no temporary file", () => {
    const dir = mkdtempSync(join(root, "abort-"));
    const path = join(dir, "x.f32");
    writeFileSync(path, "old");
    const w = new AtomicFileWriter(path);
    w.write(new Float32Array([1, 2, 3]));
    expect(readFileSync(path, "utf8")).toBe("old");
    w.abort();
    expect(readFileSync(path, "utf8")).toBe("old");
    expect(readdirSync(dir)).toEqual(["x.f32"]);
  });

  test("rewriting a set retires its index first: a failure half-way leaves no index pairing old and new files", () => {
    const dir = copyOfA("rewrite");
    // refused before touching anything
    expect(() => synthesize({ out: dir, clips: 4, seed: 1, config: { ...config, frames: 3 } })).toThrow(DataError);
    expect(existsSync(join(dir, INDEX_FILE))).toBe(true);
    expect(() =>
      synthesize({
        out: dir,
        clips: 4,
        seed: 1,
        config,
        onProgress: () => {
          throw new Error("crash");
        },
      }),
    ).toThrow("crash");
    expect(existsSync(join(dir, INDEX_FILE))).toBe(false);
    expect(loadError(dir)).toMatch(/index\.json is missing; regenerate/);
    expect(files(dir).filter((f) => f.startsWith("."))).toEqual([]);
  });
});

describe("reading", () => {
  test("the index and tensors round-trip: what is loaded is what was generated", () => {
    const d = loadAvDataset(join(root, "a"));
    expect(d.index).toEqual(index);
    expect(JSON.parse(readFileSync(join(root, "a", INDEX_FILE), "utf8"))).toEqual(index);
    const { chunks, frames, height: H, width: W, mels } = config;
    const perVideo = chunks * frames * H * W * 3;
    const perSpec = chunks * frames * config.specPerFrame * mels;
    expect(d.tensors.video.length).toBe(CLIPS * perVideo);
    expect(d.tensors.spectrogram.length).toBe(CLIPS * perSpec);
    const events = loadEvents(join(root, "a"), d.index);
    const vocab = d.index.text.vocab;
    const L = d.index.text.length;
    let q = 0;
    for (const clip of [0, 13, CLIPS - 1]) {
      const g = generateClip(11, clip, config);
      expect(d.tensors.video.subarray(clip * perVideo, (clip + 1) * perVideo)).toEqual(g.video);
      expect(d.tensors.spectrogram.subarray(clip * perSpec, (clip + 1) * perSpec)).toEqual(g.spectrogram);
      expect(events[clip]).toEqual(JSON.parse(JSON.stringify(g.events)));
      q = d.tensors.question_clip.indexOf(clip);
      g.questions.forEach((question, k) => {
        const j = q + k;
        const row = Array.from(d.tensors.text.subarray(j * L, (j + 1) * L));
        const mask = Array.from(d.tensors.loss_mask.subarray(j * L, (j + 1) * L));
        const n = d.tensors.prompt_length[j];
        expect(d.tensors.question_clip[j]).toBe(clip);
        expect(QUESTION_TYPE_NAMES[d.tensors.question_type[j]]).toBe(question.type);
        expect(
          row
            .slice(0, n)
            .map((id) => vocab[id])
            .join(" "),
        ).toBe(question.text);
        expect(vocab[row[n]]).toBe(question.answer);
        expect(vocab[d.tensors.answer[j]]).toBe(question.answer);
        expect(row[n + 1]).toBe(d.index.text.eos);
        expect(row.slice(n + 2).every((id) => id === d.index.text.pad)).toBe(true);
        expect(mask).toEqual(row.map((_, i) => (i === n || i === n + 1 ? 1 : 0)));
      });
    }
  });

  test("chance per type is the training majority's accuracy on each split, recomputed from the tensors", () => {
    const d = loadAvDataset(join(root, "a"));
    const { splits, text } = d.index;
    const splitOf = (clip: number) =>
      (["train", "val", "test"] as const).find((s) => clip >= splits[s].clips[0] && clip < splits[s].clips[1])!;
    QUESTION_TYPE_NAMES.forEach((type, t) => {
      const answers = { train: [] as string[], val: [] as string[], test: [] as string[] };
      d.tensors.question_type.forEach((qt, j) => {
        if (qt === t) answers[splitOf(d.tensors.question_clip[j])].push(text.vocab[d.tensors.answer[j]]);
      });
      const counts = new Map<string, number>();
      for (const a of answers.train) counts.set(a, (counts.get(a) ?? 0) + 1);
      const best = [...counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))[0][0];
      const acc = (xs: string[]) => (xs.length ? xs.filter((a) => a === best).length / xs.length : null);
      expect(d.index.chance[type], type).toEqual({
        answer: best,
        train: acc(answers.train),
        val: acc(answers.val),
        test: acc(answers.test),
      });
      expect(d.index.counts[type].train).toBe(answers.train.length);
    });
    expect(splits.train.clips).toEqual([0, 24]);
    expect(splits.test.clips).toEqual([27, 30]);
    const perClip = questionsFor(sampleEvents(1, 0, TINY)).length; // twelve
    expect(splits.val.questions).toEqual([24 * perClip, 27 * perClip]);
  });

  const damage: [what: string, harm: (dir: string) => void, message: RegExp][] = [
    [
      "a missing directory",
      (dir) => rmSync(dir, { recursive: true }),
      /no data set at .*damage-0: the directory does not exist; make one with 'mira data synth/,
    ],
    [
      "a missing index",
      (dir) => rmSync(join(dir, INDEX_FILE)),
      /data index .*index\.json is missing; regenerate it with 'mira data synth --out DIR'/,
    ],
    [
      "an index cut short",
      (dir) => writeFileSync(join(dir, INDEX_FILE), readFileSync(join(dir, INDEX_FILE), "utf8").slice(0, 200)),
      /index\.json is not valid JSON \(damaged or cut short\)/,
    ],
    [
      "an index of another version",
      (dir) => editIndex(dir, (i) => ({ ...i, version: 2 })),
      /has version 2, this reader knows version 1/,
    ],
    [
      "an index whose shapes disagree with its sizes",
      (dir) => editIndex(dir, (i) => ({ ...i, clips: i.clips + 1 })),
      /says tensor 'video' is f32\[30, 8, 16, 16, 3\] but its sizes make it f32\[31, 8, 16, 16, 3\]/,
    ],
    [
      "a missing tensor file",
      (dir) => rmSync(join(dir, "spectrogram.f32")),
      /tensor file 'spectrogram' .*spectrogram\.f32 is missing; regenerate/,
    ],
    [
      "a truncated tensor file",
      (dir) => writeFileSync(join(dir, "video.f32"), readFileSync(join(dir, "video.f32")).subarray(0, 1000)),
      new RegExp(
        /video\.f32 has 1000 bytes but the index says f32\[30, 8, 16, 16, /.source +
          /3\] = 737280 bytes \(truncated, or from another set\?\)/.source,
      ),
    ],
    [
      "a flipped byte",
      (dir) => flipByte(join(dir, "text.i32"), 77),
      /text\.i32 is damaged: its CRC-32 is [0-9a-f]{8} but the index says [0-9a-f]{8}/,
    ],
    [
      "a file from another set",
      (dir) => cpSync(join(root, "c", "spectrogram.f32"), join(dir, "spectrogram.f32")),
      /spectrogram\.f32 is damaged: its CRC-32/,
    ],
    [
      "an id out of range with a matching checksum",
      (dir) => rewriteWithChecksum(dir, "question_clip", 5, 999),
      /question_clip\.i32 holds 999 at 5, outside clips 0\.\.29/,
    ],
    ["a damaged event list", (dir) => flipByte(join(dir, "events.json"), 10), /events\.json is damaged: its CRC-32/],
  ];

  test.each(damage.map((d, i) => [...d, i] as const))("%s gives one clear error line", (_, harm, message, i) => {
    const dir = copyOfA(`damage-${i}`);
    harm(dir);
    const read = () => {
      const d = loadAvDataset(dir);
      loadEvents(dir, d.index);
    };
    let m = "";
    try {
      read();
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      m = (e as Error).message;
    }
    expect(m.split("\n")).toHaveLength(1);
    expect(m).toMatch(message);
  });

  test("checksums can be skipped for speed; sizes are still checked", () => {
    const dir = copyOfA("noverify");
    flipByte(join(dir, "video.f32"), 5);
    expect(() => loadAvDataset(dir, { verify: false })).not.toThrow();
    expect(loadError(dir)).toMatch(/video\.f32 is damaged/);
    writeFileSync(join(dir, "answer.i32"), Buffer.alloc(8));
    expect(() => loadAvDataset(dir, { verify: false })).toThrow(/answer\.i32 has 8 bytes/);
  });
});

test("docs/data.md describes every tensor file and question type", () => {
  const doc = readFileSync(join(import.meta.dirname, "../../docs/data.md"), "utf8");
  for (const name of TENSOR_NAMES)
    expect(doc).toContain(`| \`${index.tensors[name].file}\` | ${index.tensors[name].dtype} |`);
  for (const t of QUESTION_TYPE_NAMES) expect(doc).toContain(`| \`${t}\` |`);
  expect(doc).toContain(`"format": "${index.format}"`);
});

function editIndex(dir: string, edit: (i: AvIndex) => unknown): void {
  const path = join(dir, INDEX_FILE);
  writeFileSync(path, JSON.stringify(edit(JSON.parse(readFileSync(path, "utf8")))));
}

function flipByte(path: string, at: number): void {
  const b = readFileSync(path);
  b[at] ^= 0x40;
  writeFileSync(path, b);
}

/** Writes a wrong value and a matching checksum, as a buggy writer would. */
function rewriteWithChecksum(dir: string, name: (typeof TENSOR_NAMES)[number], at: number, value: number): void {
  const i = readIndex(dir);
  const path = join(dir, i.tensors[name].file);
  const b = readFileSync(path);
  b.writeInt32LE(value, at * 4);
  writeFileSync(path, b);
  editIndex(dir, (x) => ({ ...x, tensors: { ...x.tensors, [name]: { ...i.tensors[name], crc32: crc32(b) } } }));
}
