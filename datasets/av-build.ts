// av-build.ts: `mira data synth` as a library call — generate N clips of the synthetic audio-video QA
// set (synth-av.ts, av-render.ts) and write them in the data format (av-format.ts): tensor files
// streamed clip by clip, then the event list, then the index with splits and chance per question type.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { SAMPLE_RATE } from "./audio.js";
import { type Split, chanceByType, SPLITS } from "./chance.js";
import { melParamsOf, renderSpectrogram, renderVideo } from "./av-render.js";
import {
  AtomicFileWriter,
  type AvIndex,
  DataError,
  type SplitRange,
  type TensorName,
  FORMAT,
  VERSION,
  retireIndex,
  writeAtomic,
  writeIndex,
} from "./av-format.js";
import {
  type ClipEvents,
  type Question,
  type SynthConfig,
  FPS,
  QUESTION_TYPES,
  QUESTION_TYPE_NAMES,
  WORDS,
  checkConfig,
  framesPerClip,
  questionsFor,
  sampleEvents,
  samplesPerClip,
} from "./synth-av.js";
import { BOS, EOS, PAD, WordTokenizer, encodeRow } from "./words.js";

export const avTokenizer = (): WordTokenizer => WordTokenizer.fromWords(WORDS);

/** Clips [0, 0.8·N) train, the next round(N/10) validation, the last round(N/10) test. */
export function splitClips(n: number): Record<Split, readonly [number, number]> {
  const held = Math.round(n / 10);
  const trainEnd = n - 2 * held;
  return { train: [0, trainEnd], val: [trainEnd, trainEnd + held], test: [trainEnd + held, n] };
}

export const splitOfClip = (clip: number, splits: Record<Split, readonly [number, number]>): Split =>
  SPLITS.find((s) => clip >= splits[s][0] && clip < splits[s][1])!;

/** The index's `audio.mel`: the log-mel parameters with their definitions in words (imports share it). */
export const melIndexOf = (c: SynthConfig): AvIndex["audio"]["mel"] => ({
  ...melParamsOf(c),
  scale: "htk",
  window: "hann (periodic)",
  framing: "frames = floor(samples / hop); frame k centred at k*hop + floor(hop/2), zero-padded",
  log: "ln(1e-6 + mel power)",
});

export interface GeneratedClip {
  readonly events: ClipEvents;
  readonly questions: Question[];
  readonly video: Float32Array; // [T·F, H, W, 3]
  readonly spectrogram: Float32Array; // [T·S, mel]
}

/** Clip `clip` of the set made with `seed` and `c`, exactly as `synthesize` writes it. */
export function generateClip(seed: number, clip: number, c: SynthConfig): GeneratedClip {
  const events = sampleEvents(seed, clip, c);
  const video = new Float32Array(framesPerClip(c) * c.height * c.width * 3);
  renderVideo(events, c, video);
  return { events, questions: questionsFor(events), video, spectrogram: renderSpectrogram(events, c, seed, clip) };
}

export interface SynthOptions {
  readonly out: string;
  readonly clips: number;
  readonly seed: number;
  readonly config: SynthConfig;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SynthResult {
  readonly index: AvIndex;
  /** bytes of every file written, the index included */
  readonly bytes: number;
}

export function synthesize(o: SynthOptions): SynthResult {
  const c = o.config;
  const bad = checkConfig(c);
  if (bad) throw new DataError(bad);
  if (!Number.isInteger(o.clips) || o.clips < 1)
    throw new DataError(`clips must be a positive integer, got ${o.clips}`);
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed >= 2 ** 32)
    throw new DataError(`seed must be an integer in [0, 2^32), got ${o.seed}`);
  mkdirSync(o.out, { recursive: true });
  retireIndex(o.out);
  const tok = avTokenizer();
  const specFrames = framesPerClip(c) * c.specPerFrame;
  const splits = splitClips(o.clips);

  const videoW = new AtomicFileWriter(join(o.out, "video.f32"));
  const specW = new AtomicFileWriter(join(o.out, "spectrogram.f32"));
  const events: ClipEvents[] = [];
  const questions: { clip: number; q: Question }[] = [];
  let sum = 0;
  let sumSq = 0;
  let count = 0;
  try {
    for (let i = 0; i < o.clips; i++) {
      const g = generateClip(o.seed, i, c);
      videoW.write(g.video);
      specW.write(g.spectrogram);
      events.push(g.events);
      for (const q of g.questions) questions.push({ clip: i, q });
      if (i < splits.train[1]) {
        for (const x of g.spectrogram) {
          sum += x;
          sumSq += x * x;
        }
        count += g.spectrogram.length;
      }
      if (o.onProgress && (i % 16 === 15 || i === o.clips - 1)) o.onProgress(i + 1, o.clips);
    }
  } catch (e) {
    videoW.abort();
    specW.abort();
    throw e;
  }
  const written: Partial<Record<TensorName, { bytes: number; crc32: number }>> = {};
  written.video = videoW.commit();
  written.spectrogram = specW.commit();

  const Q = questions.length;
  const L = c.textLength;
  const text = new Int32Array(Q * L);
  const mask = new Float32Array(Q * L);
  const qClip = new Int32Array(Q);
  const qType = new Int32Array(Q);
  const answer = new Int32Array(Q);
  const promptLength = new Int32Array(Q);
  questions.forEach(({ clip, q }, j) => {
    promptLength[j] = encodeRow(
      tok,
      q.text,
      q.answer,
      text.subarray(j * L, (j + 1) * L),
      mask.subarray(j * L, (j + 1) * L),
    );
    qClip[j] = clip;
    qType[j] = QUESTION_TYPE_NAMES.indexOf(q.type);
    answer[j] = tok.id(q.answer);
  });
  const small: [TensorName, Int32Array | Float32Array][] = [
    ["text", text],
    ["loss_mask", mask],
    ["question_clip", qClip],
    ["question_type", qType],
    ["answer", answer],
    ["prompt_length", promptLength],
  ];
  for (const [name, data] of small)
    written[name] = writeAtomic(join(o.out, `${name}.${data instanceof Float32Array ? "f32" : "i32"}`), data);
  const eventsFile = writeAtomic(join(o.out, "events.json"), JSON.stringify(events) + "\n");

  const labelled = questions.map(({ clip, q }) => ({
    type: q.type,
    answer: q.answer,
    split: splitOfClip(clip, splits),
  }));
  const firstQuestion = (clip: number) => questions.findIndex((q) => q.clip >= clip);
  const range = (s: Split): SplitRange => {
    const [a, b] = splits[s];
    return { clips: [a, b], questions: [a < o.clips ? firstQuestion(a) : Q, b < o.clips ? firstQuestion(b) : Q] };
  };
  const counts: AvIndex["counts"] = Object.fromEntries(
    QUESTION_TYPE_NAMES.map((t) => {
      const of = (s: Split) => labelled.filter((q) => q.type === t && q.split === s);
      const trainAnswers: Record<string, number> = {};
      for (const q of of("train")) trainAnswers[q.answer] = (trainAnswers[q.answer] ?? 0) + 1;
      return [t, { train: of("train").length, val: of("val").length, test: of("test").length, trainAnswers }];
    }),
  );
  const mean = count ? sum / count : 0;
  const shapes: Record<TensorName, number[]> = {
    video: [o.clips, framesPerClip(c), c.height, c.width, 3],
    spectrogram: [o.clips, specFrames, c.mels],
    text: [Q, L],
    loss_mask: [Q, L],
    question_clip: [Q],
    question_type: [Q],
    answer: [Q],
    prompt_length: [Q],
  };
  const tensors = Object.fromEntries(
    (Object.keys(shapes) as TensorName[]).map((n) => {
      const dtype = n === "video" || n === "spectrogram" || n === "loss_mask" ? "f32" : "i32";
      return [n, { file: `${n}.${dtype}`, dtype, shape: shapes[n], ...written[n]! }];
    }),
  ) as unknown as AvIndex["tensors"];
  const index: AvIndex = {
    format: FORMAT,
    version: VERSION,
    generator: { name: "synth-av", seed: o.seed, config: c },
    clips: o.clips,
    questions: Q,
    video: {
      chunks: c.chunks,
      framesPerChunk: c.frames,
      frames: framesPerClip(c),
      height: c.height,
      width: c.width,
      channels: 3,
      fps: FPS,
    },
    audio: {
      sampleRate: SAMPLE_RATE,
      samplesPerClip: samplesPerClip(c),
      specFramesPerChunk: c.frames * c.specPerFrame,
      specFrames,
      mel: melIndexOf(c),
      stats: { mean, std: count ? Math.sqrt(Math.max(0, sumSq / count - mean * mean)) : 0 },
    },
    text: { length: L, vocab: tok.vocab, pad: PAD, bos: BOS, eos: EOS },
    questionTypes: QUESTION_TYPES.map((t) => ({ name: t.name, needs: [...t.needs], template: t.template })),
    splits: { train: range("train"), val: range("val"), test: range("test") },
    chance: chanceByType(labelled),
    counts,
    tensors,
    events: { file: "events.json", ...eventsFile },
  };
  const indexFile = writeIndex(o.out, index);
  const bytes = Object.values(written).reduce((a, w) => a + w!.bytes, 0) + eventsFile.bytes + indexFile.bytes;
  return { index, bytes };
}
