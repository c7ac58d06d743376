// av-import.ts: `mira data import` as a library call — one real clip (a video file, its own audio track or
// a separate audio file) decoded by ffmpeg (media.ts) to a layout's frame rate, frame size and sample
// rate, cut or padded to the layout's length, its audio turned into log-mel by the same logMel as the
// synthetic set's, and written atomically in the data format (av-format.ts) as a set of one clip, with
// the questions given (possibly none). Frame k and audio samples [k·rate/fps, (k+1)·rate/fps) start at
// the same instant, so chunk t of the video and chunk t of the spectrogram cover the same time.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { logMel } from "./audio.js";
import {
  type AvIndex,
  DataError,
  FORMAT,
  type TensorEntry,
  type TensorName,
  VERSION,
  retireIndex,
  writeAtomic,
  writeIndex,
} from "./av-format.js";
import type { ImportLayout } from "./import-layout.js";
import { DEFAULT_TOOLS, type MediaInfo, type MediaTools, decodeFrames, decodeSamples, probeMedia } from "./media.js";
import { BOS, EOS, PAD, WordTokenizer, encodeRow } from "./words.js";
import { bug } from "../base/errors.js";

export interface QuestionAnswer {
  readonly question: string;
  /** one word of the layout's vocabulary (the format's `answer` is one token id) */
  readonly answer: string;
}

export interface ImportOptions {
  readonly video: string;
  /** audio from this file instead of the video's own track */
  readonly audio?: string;
  readonly out: string;
  readonly layout: ImportLayout;
  readonly questions?: readonly QuestionAnswer[];
  readonly tools?: MediaTools;
}

/** How the source's length met the clip's: longer (cut to the clip), shorter (padded), or the same. */
export type Fit = "exact" | "cut" | "padded";

/** What events.json holds for an imported clip: where it came from and what was done to it. */
export interface ImportRecord {
  readonly imported: {
    readonly video: string;
    readonly audio: string | null;
    readonly like: string | null;
    readonly origin: number;
  };
  /** the clip's length in seconds: frames / fps */
  readonly seconds: number;
  readonly video: {
    readonly sourceSeconds: number | null;
    readonly frames: number;
    readonly decoded: number;
    readonly fit: Fit;
    readonly padding: "black";
  };
  readonly audio: {
    readonly from: "video" | "file" | "none";
    readonly sourceSeconds: number | null;
    readonly samples: number;
    readonly decoded: number;
    readonly fit: Fit | "silence";
  };
}

export interface ImportResult {
  readonly index: AvIndex;
  readonly record: ImportRecord;
  /** one line each, for the user (a clip without sound) */
  readonly warnings: readonly string[];
  /** bytes of every file written, the index included */
  readonly bytes: number;
}

/** Questions that match none of the layout's templates get this type. */
export const OTHER_TYPE = { name: "other", needs: [] as string[], template: "(a question that matches no template)" };

const fitOf = (got: number, want: number): Fit => (got > want ? "cut" : got < want ? "padded" : "exact");

function templateMatcher(template: string): RegExp {
  const words = template.split(" ").map((w) => (w.startsWith("{") ? "\\S+" : w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  return new RegExp(`^${words.join(" ")}$`);
}

interface EncodedQuestions {
  readonly text: Int32Array;
  readonly mask: Float32Array;
  readonly type: Int32Array;
  readonly answer: Int32Array;
  readonly promptLength: Int32Array;
  readonly types: AvIndex["questionTypes"];
}

function encodeQuestions(qs: readonly QuestionAnswer[], layout: ImportLayout): EncodedQuestions {
  const tok = new WordTokenizer(layout.vocab);
  const L = layout.config.textLength;
  const Q = qs.length;
  const out = {
    text: new Int32Array(Q * L),
    mask: new Float32Array(Q * L),
    type: new Int32Array(Q),
    answer: new Int32Array(Q),
    promptLength: new Int32Array(Q),
  };
  const matchers = layout.questionTypes.map((t) => templateMatcher(t.template));
  let other = false;
  qs.forEach((qa, j) => {
    const say = (why: string): never => {
      throw new DataError(`question ${j + 1} ('${qa.question}' → '${qa.answer}'): ${why}`);
    };
    let q: number[] = [];
    let a: number[] = [];
    try {
      q = tok.encode(qa.question);
      a = tok.encode(qa.answer);
      if (q.length === 0) say("the question is empty");
      if (a.length !== 1) say(`an answer is one word of the vocabulary, got ${a.length}`);
      out.promptLength[j] = encodeRow(
        tok,
        qa.question,
        qa.answer,
        out.text.subarray(j * L, (j + 1) * L),
        out.mask.subarray(j * L, (j + 1) * L),
      );
    } catch (e) {
      if (e instanceof DataError) throw e;
      say((e as Error).message);
    }
    out.answer[j] = a[0];
    const t = matchers.findIndex((m) => m.test(tok.decode(q)));
    if (t < 0) other = true;
    out.type[j] = t < 0 ? layout.questionTypes.length : t;
  });
  return { ...out, types: other ? [...layout.questionTypes, OTHER_TYPE] : layout.questionTypes };
}

/** Imports one clip into `o.out` (replacing any set there): see the file's header. */
export async function importClip(o: ImportOptions): Promise<ImportResult> {
  const { layout } = o;
  const c = layout.config;
  const N = c.chunks * c.frames;
  const samplesPerFrame = layout.sampleRate / layout.fps;
  const samples = N * samplesPerFrame;
  const specFrames = N * c.specPerFrame;
  if (!Number.isInteger(samplesPerFrame) || samplesPerFrame !== layout.mel.hop * c.specPerFrame) {
    throw new DataError(
      `the layout's audio does not divide into frames: ${layout.sampleRate} Hz at ${layout.fps} fps ` +
        `with hop ${layout.mel.hop} × ${c.specPerFrame} spectrogram frames a video frame`,
    );
  }
  if (layout.like !== undefined && resolve(layout.like) === resolve(o.out))
    throw new DataError(`--out ${o.out} is the --like set itself; import into another directory`);
  const tools = o.tools ?? DEFAULT_TOOLS;
  const questions = encodeQuestions(o.questions ?? [], layout);

  // probe both files before decoding either, so a bad one fails fast and the decoders run side by side
  const [videoInfo, audioFile] = await Promise.all([
    probeMedia(o.video, tools),
    o.audio === undefined ? undefined : probeMedia(o.audio, tools),
  ]);
  if (!videoInfo.video)
    throw new DataError(
      `${o.video} has no video stream (${videoInfo.format}${videoInfo.audio ? ", audio only" : ""}); ` +
        "give a video file with --video",
    );
  if (audioFile && !audioFile.audio)
    throw new DataError(`${o.audio} has no audio stream; give an audio or video file with sound to --audio`);
  const audioInfo: MediaInfo | undefined = audioFile ?? (videoInfo.audio ? videoInfo : undefined);
  // one frame and one sample more than the clip holds tell a longer source (cut) from an exact one
  const [rgb, pcmDecoded] = await Promise.all([
    decodeFrames(videoInfo, { fps: layout.fps, width: c.width, height: c.height, frames: N + 1 }, tools),
    audioInfo ? decodeSamples(audioInfo, { sampleRate: layout.sampleRate, samples: samples + 1 }, tools) : undefined,
  ]);
  const frameValues = c.height * c.width * 3;
  const framesGot = rgb.length / frameValues;
  if (framesGot === 0) throw new DataError(`no frame of ${o.video} could be decoded (is its video stream empty?)`);
  const warnings: string[] = [];
  if (!audioInfo)
    warnings.push(`${o.video} has no audio track; the clip's audio is silence (give one with --audio FILE)`);

  // frames past the source's end stay black, the synthetic clips' background
  const video = new Float32Array(N * frameValues);
  const kept = Math.min(N, framesGot) * frameValues;
  for (let i = 0; i < kept; i++) video[i] = rgb[i] / 255;
  const pcm = new Float32Array(samples); // past the source's end (or without a track): silence
  if (pcmDecoded) pcm.set(pcmDecoded.subarray(0, samples));
  const spectrogram = logMel(pcm, layout.mel);
  if (spectrogram.length !== specFrames * c.mels)
    bug(`${spectrogram.length / c.mels} spectrogram frames for a clip of ${specFrames}`);

  const record: ImportRecord = {
    imported: {
      video: resolve(o.video),
      audio: audioInfo ? resolve(audioInfo.path) : null,
      like: layout.like === undefined ? null : resolve(layout.like),
      origin: videoInfo.origin,
    },
    seconds: N / layout.fps,
    video: {
      sourceSeconds: videoInfo.duration ?? null,
      frames: N,
      decoded: Math.min(N, framesGot),
      fit: fitOf(framesGot, N),
      padding: "black",
    },
    audio: {
      from: audioFile ? "file" : audioInfo ? "video" : "none",
      sourceSeconds: audioInfo?.duration ?? null,
      samples,
      decoded: Math.min(samples, pcmDecoded?.length ?? 0),
      fit: pcmDecoded ? fitOf(pcmDecoded.length, samples) : "silence",
    },
  };
  return { ...write(o.out, layout, { video, spectrogram }, questions, record), record, warnings };
}

function write(
  out: string,
  layout: ImportLayout,
  clip: { video: Float32Array; spectrogram: Float32Array },
  q: EncodedQuestions,
  record: ImportRecord,
): { index: AvIndex; bytes: number } {
  const c = layout.config;
  const N = c.chunks * c.frames;
  const L = c.textLength;
  const Q = q.answer.length;
  mkdirSync(out, { recursive: true });
  retireIndex(out);
  const data: Record<TensorName, [Float32Array | Int32Array, number[]]> = {
    video: [clip.video, [1, N, c.height, c.width, 3]],
    spectrogram: [clip.spectrogram, [1, N * c.specPerFrame, c.mels]],
    text: [q.text, [Q, L]],
    loss_mask: [q.mask, [Q, L]],
    question_clip: [new Int32Array(Q), [Q]], // every question is about clip 0
    question_type: [q.type, [Q]],
    answer: [q.answer, [Q]],
    prompt_length: [q.promptLength, [Q]],
  };
  const tensors = {} as Record<TensorName, TensorEntry>;
  let bytes = 0;
  for (const [name, [values, shape]] of Object.entries(data) as [TensorName, [Float32Array | Int32Array, number[]]][]) {
    const dtype = values instanceof Float32Array ? "f32" : "i32";
    const file = `${name}.${dtype}`;
    const w = writeAtomic(join(out, file), values);
    tensors[name] = { file, dtype, shape, ...w };
    bytes += w.bytes;
  }
  const events = writeAtomic(join(out, "events.json"), JSON.stringify([record]) + "\n");
  const none = { clips: [0, 0], questions: [0, 0] } as const;
  const index: AvIndex = {
    format: FORMAT,
    version: VERSION,
    generator: { name: "import", seed: 0, config: c },
    clips: 1,
    questions: Q,
    video: {
      chunks: c.chunks,
      framesPerChunk: c.frames,
      frames: N,
      height: c.height,
      width: c.width,
      channels: 3,
      fps: layout.fps,
    },
    audio: {
      sampleRate: layout.sampleRate,
      samplesPerClip: N * (layout.sampleRate / layout.fps),
      specFramesPerChunk: c.frames * c.specPerFrame,
      specFrames: N * c.specPerFrame,
      mel: layout.mel,
      stats: layout.stats,
    },
    text: { length: L, vocab: layout.vocab, pad: PAD, bos: BOS, eos: EOS },
    questionTypes: q.types,
    // an imported clip is held out: nothing of it is for training, so no chance baseline either
    splits: { train: none, val: none, test: { clips: [0, 1], questions: [0, Q] } },
    chance: {},
    counts: Object.fromEntries(
      q.types.map((t, k) => [
        t.name,
        { train: 0, val: 0, test: q.type.filter((x) => x === k).length, trainAnswers: {} },
      ]),
    ),
    tensors,
    events: { file: "events.json", ...events },
  };
  bytes += events.bytes + writeIndex(out, index).bytes;
  return { index, bytes };
}
