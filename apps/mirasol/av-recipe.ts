// av-recipe.ts: the sizes and schedule under which tiny Mirasol learns every question type of the
// synthetic audio-video set (docs/models.md, session 6, runs 35–40) — one slot of the clip a chunk (4
// chunks of 2 frames), 2 × 2 patches of 8 pixels and 2 × 2 spectrogram patches a chunk (4 video and 4
// audio tokens), chunk positions of scale 1, a two-layer decoder; and a curriculum over question types:
// the questions about chunk 0 and the beep count first, those that find a chunk next, then all.
// `mira demo` and the experiments (bench/experiments) train with it.

/** The data's layout: `mira data synth --chunks 4 --frames 2`. */
export const AV_LAYOUT = { chunks: 4, frames: 2 } as const;

/** `--set` overrides on top of `--preset tiny`. */
export const AV_LAYOUT_SET: readonly string[] = [
  `chunks=${AV_LAYOUT.chunks}`,
  `frames=${AV_LAYOUT.frames}`,
  "tube=2",
  "patch=8",
  "spec_frames=8",
  "spec_time=4",
  "spec_freq=16",
  "chunk_position_std=1.0",
  "text_depth=2",
];

/** `mira train --types`: the chunk-finding controls join at step `find`, every type at step `all`. */
export const avCurriculum = (find: number, all: number): string =>
  `first_colour,first_tone,count_beeps; nth_colour,when_colour,when_tone@${find}; all@${all}`;
