// import-layout.ts: what an imported clip must share with the set a checkpoint was trained on, so the
// checkpoint can read it — sizes, frame rate, log-mel parameters, vocabulary, question types, and the
// audio statistics the spectrogram is normalised with. Copied from an existing set (`--like DIR`), or
// the synthetic set's own at given sizes, its statistics measured on the generator's first clips.
import { SAMPLE_RATE, logMel } from "./audio.js";
import { type AvIndex, DataError, readIndex } from "./av-format.js";
import { melIndexOf } from "./av-build.js";
import { melParamsOf, renderAudio } from "./av-render.js";
import { FPS, QUESTION_TYPES, type SynthConfig, TINY, WORDS, checkConfig, sampleEvents } from "./synth-av.js";
import { SPECIALS } from "./words.js";

export interface ImportLayout {
  readonly config: SynthConfig;
  readonly fps: number;
  readonly sampleRate: number;
  readonly mel: AvIndex["audio"]["mel"];
  readonly vocab: readonly string[];
  readonly questionTypes: AvIndex["questionTypes"];
  readonly stats: { readonly mean: number; readonly std: number };
  /** the --like directory it was copied from; undefined for the synthetic set's own */
  readonly like: string | undefined;
}

/** Sizes asked for on the command line; unset ones take the default (or the --like set's). */
export interface ImportSizes {
  readonly chunks?: number;
  readonly frames?: number;
  readonly size?: number;
  readonly mels?: number;
}

/** Clips of the generator (seed 0) whose spectrograms give a layout without --like its statistics:
 *  64 land within 0.1 % (mean) and 1 % (std) of a 2000-clip set's training split, in ~0.1 s at tiny. */
export const STATS_CLIPS = 64;

/** Mean and standard deviation of the log-mel values of the generator's first `clips` clips. */
export function syntheticStats(c: SynthConfig, clips = STATS_CLIPS): { mean: number; std: number } {
  const mel = melParamsOf(c);
  let sum = 0;
  let sumSq = 0;
  let count = 0;
  for (let i = 0; i < clips; i++) {
    const spectrogram = logMel(renderAudio(sampleEvents(0, i, c), c, 0, i), mel);
    for (const x of spectrogram) {
      sum += x;
      sumSq += x * x;
    }
    count += spectrogram.length;
  }
  const mean = sum / count;
  return { mean, std: Math.sqrt(Math.max(0, sumSq / count - mean * mean)) };
}

/** The synthetic set's layout at `sizes` (default: its defaults, Mirasol tiny's inputs). */
export function syntheticLayout(sizes: ImportSizes = {}): ImportLayout {
  const size = sizes.size ?? TINY.height;
  const config: SynthConfig = {
    ...TINY,
    chunks: sizes.chunks ?? TINY.chunks,
    frames: sizes.frames ?? TINY.frames,
    height: size,
    width: size,
    mels: sizes.mels ?? TINY.mels,
  };
  const bad = checkConfig(config);
  if (bad) throw new DataError(bad);
  return {
    config,
    fps: FPS,
    sampleRate: SAMPLE_RATE,
    mel: melIndexOf(config),
    vocab: [...SPECIALS, ...WORDS],
    questionTypes: QUESTION_TYPES.map((t) => ({ name: t.name, needs: [...t.needs], template: t.template })),
    stats: syntheticStats(config),
    like: undefined,
  };
}

/** The layout of the set at `dir` (only its index is read); `sizes` may repeat its sizes, not change them. */
export function layoutLike(dir: string, sizes: ImportSizes = {}): ImportLayout {
  const i = readIndex(dir);
  const v = i.video;
  const a = i.audio;
  const have: Required<ImportSizes> = { chunks: v.chunks, frames: v.framesPerChunk, size: v.height, mels: a.mel.mels };
  for (const k of Object.keys(have) as (keyof ImportSizes)[]) {
    const want = sizes[k];
    if (want !== undefined && (want !== have[k] || (k === "size" && want !== v.width))) {
      throw new DataError(
        `--${k} ${want} disagrees with --like ${dir}, ` +
          `whose ${k === "size" ? `frames are ${v.height}×${v.width}` : `${k} is ${have[k]}`}; ` +
          `drop --${k} (the --like set fixes the sizes)`,
      );
    }
  }
  const config: SynthConfig = {
    chunks: v.chunks,
    frames: v.framesPerChunk,
    height: v.height,
    width: v.width,
    mels: a.mel.mels,
    specPerFrame: a.specFramesPerChunk / v.framesPerChunk,
    nFft: a.mel.nFft,
    textLength: i.text.length,
  };
  return {
    config,
    fps: v.fps,
    sampleRate: a.sampleRate,
    mel: a.mel,
    vocab: i.text.vocab,
    questionTypes: i.questionTypes,
    stats: a.stats,
    like: dir,
  };
}
