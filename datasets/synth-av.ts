// synth-av.ts: the synthetic audio-video QA set's story — what happens in a clip (events) and what is
// asked about it (questions), as plain data from a seed. Rendering to pixels and spectrograms is
// av-render.ts; files are av-format.ts. Deterministic: clip i's draws come from the counter-based hash
// randomBits(seed, stream = 2·i, k) for k = 0, 1, 2, …, so a clip depends only on (seed, i, config).
//
// A clip lasts chunks·frames video frames at FPS and as many samples at 16 kHz. It is cut into four
// equal SLOTS. In slot s one shape of colour π(s) appears at the slot's start, moves, and disappears
// at its end; π is a uniformly random permutation of the four colours, so every clip shows every colour
// exactly once. Two slots h ≠ l (a uniformly random ordered pair) hold the high and the low tone, each
// starting a quarter of the way into its slot, after that slot's shape has appeared, and ending at
// three quarters; the other slots are silent but for a little noise. 0–3 beeps (uniform) sit in distinct
// half-slot cells, independent of everything else.
//
// Why the both-modality questions are not answerable from one modality (exactly, not just roughly):
// the video's information is π (plus shapes and paths, independent of everything); the audio's is
// (h, l) (plus beeps and pitches, independent of everything); π ⟂ (h, l).
// - colour_at_tone: the answer is π(h) (or π(l)). Given the video, h is uniform over the 4 slots, so
//   π(h) is uniform over the 4 colours; given the audio, π is uniform, so π(h) is again uniform.
// - tone_after_colour: the colour asked is c = π(h) or π(l), the two questions of a clip one each.
//   Given the video, c's slot s_c is known and (h, l) is uniform given s_c ∈ {h, l}, so s_c = h with
//   probability 1/2; given the audio, π is uniform, so c = π(h) with probability 1/2.
// So P(answer | question, one modality) is uniform over the answers, and the best rule on one modality
// scores chance. test/datasets/synth-av.test.ts measures it on a generated set.
//
// The single-modality controls ask for the pieces the both-modality types combine, each on its own:
// when a tone plays (audio: a pitch finds its slot), when a colour appears (video: a colour finds its
// slot), the colour of the n-th shape (video: a slot gives its colour), the count of beeps and the first
// tone and colour. A model that answers "what colour is the shape when the high tone plays?" relates the
// tone's slot to the colour in it; the controls show which of the two it can read at all. Which colours
// and which slot the controls ask about are drawn after everything else, so they change no event.

import { bitsToUnit, randomBits } from "../base/random.js";
import { SAMPLE_RATE } from "./audio.js";

export const COLOURS = ["red", "green", "blue", "yellow"] as const;
export const COLOUR_RGB: Record<Colour, readonly [number, number, number]> = {
  red: [1, 0, 0],
  green: [0, 1, 0],
  blue: [0, 0.3, 1],
  yellow: [1, 1, 0],
};
export const SHAPE_KINDS = ["square", "disc", "triangle"] as const;
export const PITCHES = ["low", "high"] as const;
export const COUNT_WORDS = ["zero", "one", "two", "three"] as const;
/** Slot names, in time order: the answers of the "when" questions. */
export const ORDINALS = ["first", "second", "third", "fourth"] as const;
export type Colour = (typeof COLOURS)[number];
export type ShapeKind = (typeof SHAPE_KINDS)[number];
export type Pitch = (typeof PITCHES)[number];

/** Four slots, one per colour: fewer would let the video narrow down a colour answer, more repeat one. */
export const SLOTS = COLOURS.length;
export const FPS = 8;
export const PITCH_HZ: Record<Pitch, readonly [lo: number, hi: number]> = { low: [300, 450], high: [2000, 3000] };
export const NOISE_AMPLITUDE = 0.01;

export interface SynthConfig {
  readonly chunks: number; // T
  readonly frames: number; // F, video frames per chunk
  readonly height: number;
  readonly width: number;
  readonly mels: number;
  readonly specPerFrame: number; // spectrogram frames per video frame: hop = SAMPLE_RATE / FPS / specPerFrame
  readonly nFft: number;
  readonly textLength: number; // L: question + answer + eos, padded
}

/**
 * Sizes of models/mirasol.mira's tiny preset (2 chunks × 4 frames of 16×16, 16 spectrogram frames per
 * chunk of 32 mels).
 */
export const TINY: SynthConfig = {
  chunks: 2,
  frames: 4,
  height: 16,
  width: 16,
  mels: 32,
  specPerFrame: 4,
  nFft: 512,
  textLength: 16,
};

/** What is wrong with `c`, said with the flag to change, or undefined. */
export function checkConfig(c: SynthConfig): string | undefined {
  const pos = (n: number) => Number.isInteger(n) && n >= 1;
  if (![c.chunks, c.frames, c.height, c.width, c.mels, c.specPerFrame, c.textLength].every(pos))
    return "chunks, frames, size, mels, specPerFrame and textLength must be positive integers";
  if ((c.chunks * c.frames) % SLOTS !== 0)
    return (
      `chunks × frames must be a multiple of ${SLOTS} (a clip is ${SLOTS} equal slots), ` +
      `got ${c.chunks} × ${c.frames} = ${c.chunks * c.frames}`
    );
  if ((SAMPLE_RATE / FPS) % c.specPerFrame !== 0)
    return `specPerFrame must divide ${SAMPLE_RATE / FPS} (samples per video frame), got ${c.specPerFrame}`;
  if (c.height < 6 || c.width < 6) return `frames must be at least 6×6 pixels, got ${c.height}×${c.width}`;
  if (c.textLength < MAX_TEXT_TOKENS)
    return `textLength must be at least ${MAX_TEXT_TOKENS} (longest question + answer + eos), got ${c.textLength}`;
  return undefined;
}

export const framesPerClip = (c: SynthConfig): number => c.chunks * c.frames;
export const samplesPerFrame = SAMPLE_RATE / FPS;
export const samplesPerClip = (c: SynthConfig): number => framesPerClip(c) * samplesPerFrame;
export const hopOf = (c: SynthConfig): number => samplesPerFrame / c.specPerFrame;
export const framesPerSlot = (c: SynthConfig): number => framesPerClip(c) / SLOTS;

// ---------------------------------------------------------------------------------------------------
// Events: everything that happens in a clip, in frames (video) and samples (audio).

export interface ShapeEvent {
  readonly colour: Colour;
  readonly kind: ShapeKind;
  readonly size: number; // pixels, side of the bounding square
  readonly start: number; // first frame visible
  readonly end: number; // first frame no longer visible
  readonly x: readonly number[]; // left column, one per visible frame
  readonly y: readonly number[]; // top row, one per visible frame
}

export interface ToneEvent {
  readonly pitch: Pitch;
  readonly freq: number;
  readonly amplitude: number;
  readonly start: number; // sample
  readonly length: number; // samples
}

export interface ClipEvents {
  readonly shapes: readonly ShapeEvent[]; // in time order, one per slot
  readonly tones: readonly ToneEvent[]; // in time order
  readonly beeps: readonly number[]; // start samples, ascending
  /** what the controls ask about: two distinct colours (when_colour) and a slot after the first (nth_colour) */
  readonly asked: { readonly colours: readonly Colour[]; readonly slot: number };
}

/** Sequential draws from the counter-based hash: draw k of clip i is randomBits(seed, 2·i, k). */
class ClipRandom {
  private k = 0;
  constructor(
    private readonly seed: number,
    private readonly stream: number,
  ) {}
  unit(): number {
    return bitsToUnit(randomBits(this.seed, this.stream, this.k++));
  }
  int(n: number): number {
    return Math.min(n - 1, Math.floor(this.unit() * n));
  }
  shuffle<T>(xs: readonly T[]): T[] {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

/** Reflects p into [0, max]: a shape bounces off the frame's edges. */
function bounce(p: number, max: number): number {
  if (max <= 0) return 0;
  const period = 2 * max;
  const m = ((p % period) + period) % period;
  return m <= max ? m : period - m;
}

export function sampleEvents(seed: number, clip: number, c: SynthConfig): ClipEvents {
  const r = new ClipRandom(seed, 2 * clip);
  const perSlot = framesPerSlot(c);
  const slotSamples = perSlot * samplesPerFrame;
  const order = r.shuffle(COLOURS);
  const size = Math.max(3, Math.round(0.3 * Math.min(c.height, c.width)));
  const speed = Math.min(c.height, c.width) / 8; // pixels per frame at most
  const shapes = order.map((colour, s): ShapeEvent => {
    const kind = SHAPE_KINDS[r.int(SHAPE_KINDS.length)];
    const x0 = r.unit() * (c.width - size);
    const y0 = r.unit() * (c.height - size);
    const vx = (2 * r.unit() - 1) * speed;
    const vy = (2 * r.unit() - 1) * speed;
    const x: number[] = [];
    const y: number[] = [];
    for (let j = 0; j < perSlot; j++) {
      x.push(Math.round(bounce(x0 + vx * j, c.width - size)));
      y.push(Math.round(bounce(y0 + vy * j, c.height - size)));
    }
    return { colour, kind, size, start: s * perSlot, end: (s + 1) * perSlot, x, y };
  });
  const high = r.int(SLOTS);
  const low = (high + 1 + r.int(SLOTS - 1)) % SLOTS;
  const tones = PITCHES.map((pitch): ToneEvent => {
    const slot = pitch === "high" ? high : low;
    const [lo, hi] = PITCH_HZ[pitch];
    return {
      pitch,
      freq: lo + (hi - lo) * r.unit(),
      amplitude: 0.3 + 0.2 * r.unit(),
      start: slot * slotSamples + slotSamples / 4,
      length: slotSamples / 2,
    };
  }).sort((a, b) => a.start - b.start);
  const count = r.int(COUNT_WORDS.length);
  const cells = r
    .shuffle(Array.from({ length: 2 * SLOTS }, (_, i) => i))
    .slice(0, count)
    .sort((a, b) => a - b);
  const cell = slotSamples / 2;
  const beepLength = Math.round(0.06 * SAMPLE_RATE);
  const beeps = cells.map((i) => Math.round(i * cell + Math.max(0, cell - beepLength) / 2));
  const asked = { colours: r.shuffle(COLOURS).slice(0, 2), slot: 1 + r.int(SLOTS - 1) };
  return { shapes, tones, beeps, asked };
}

/** The stream of clip i's noise, apart from its events' stream. */
export const noiseStream = (clip: number): number => 2 * clip + 1;

// ---------------------------------------------------------------------------------------------------
// Questions. Each type has a template, the modalities it needs, and an answer rule over the events.

export const QUESTION_TYPES = [
  {
    name: "colour_at_tone",
    needs: ["audio", "video"],
    template: "what colour is the shape when the {pitch} tone plays ?",
  },
  {
    name: "tone_after_colour",
    needs: ["audio", "video"],
    template: "which tone plays after the {colour} shape appears ?",
  },
  { name: "count_beeps", needs: ["audio"], template: "how many beeps ?" },
  { name: "first_tone", needs: ["audio"], template: "which tone plays first ?" },
  { name: "first_colour", needs: ["video"], template: "what colour is the first shape ?" },
  { name: "when_tone", needs: ["audio"], template: "when does the {pitch} tone play ?" },
  { name: "when_colour", needs: ["video"], template: "when does the {colour} shape appear ?" },
  { name: "nth_colour", needs: ["video"], template: "what colour is the {ordinal} shape ?" },
] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number]["name"];
export const QUESTION_TYPE_NAMES: readonly QuestionType[] = QUESTION_TYPES.map((t) => t.name);

export interface Question {
  readonly type: QuestionType;
  readonly text: string;
  readonly answer: string;
}

/** Every word a question or an answer can use, in a fixed order (the tokenizer's ids follow it). */
export const WORDS: readonly string[] = (() => {
  const words: string[] = [];
  const add = (w: string) => {
    if (!words.includes(w)) words.push(w);
  };
  for (const t of QUESTION_TYPES) for (const w of t.template.split(" ")) if (!w.startsWith("{")) add(w);
  for (const w of [...COLOURS, ...PITCHES, ...COUNT_WORDS, ...ORDINALS]) add(w);
  return words;
})();

/** Longest question + one answer word + eos. */
export const MAX_TEXT_TOKENS = Math.max(...QUESTION_TYPES.map((t) => t.template.split(" ").length)) + 2;

const shapeInSlotOf = (e: ClipEvents, tone: ToneEvent): ShapeEvent => {
  const frame = Math.floor(tone.start / samplesPerFrame);
  return e.shapes.find((s) => s.start <= frame && frame < s.end)!;
};

/** The clip's questions, twelve of them, in a fixed order: both pitches for colour_at_tone (high, low),
 *  both tone-slot colours for tone_after_colour (in COLOURS order, which says nothing of their
 *  answers), one each of count_beeps, first_tone and first_colour, both pitches for when_tone, the two
 *  asked colours for when_colour and the asked slot for nth_colour. */
export function questionsFor(e: ClipEvents): Question[] {
  const tone = (p: Pitch) => e.tones.find((t) => t.pitch === p)!;
  const fill = (type: QuestionType, values: Record<string, string>) =>
    QUESTION_TYPES.find((t) => t.name === type)!.template.replace(/\{(\w+)\}/g, (_, k: string) => values[k]);
  const qs: Question[] = [];
  for (const pitch of ["high", "low"] as const) {
    qs.push({
      type: "colour_at_tone",
      text: fill("colour_at_tone", { pitch }),
      answer: shapeInSlotOf(e, tone(pitch)).colour,
    });
  }
  const toneSlots = e.tones.map((t) => ({ colour: shapeInSlotOf(e, t).colour, pitch: t.pitch }));
  toneSlots.sort((a, b) => COLOURS.indexOf(a.colour) - COLOURS.indexOf(b.colour));
  for (const { colour, pitch } of toneSlots) {
    // the tone after this shape's appearance is the one in its slot: it starts a quarter-slot later,
    // before the next shape appears, and no other tone is in between
    qs.push({ type: "tone_after_colour", text: fill("tone_after_colour", { colour }), answer: pitch });
  }
  qs.push({ type: "count_beeps", text: fill("count_beeps", {}), answer: COUNT_WORDS[e.beeps.length] });
  qs.push({ type: "first_tone", text: fill("first_tone", {}), answer: e.tones[0].pitch });
  qs.push({ type: "first_colour", text: fill("first_colour", {}), answer: e.shapes[0].colour });
  for (const pitch of ["high", "low"] as const) {
    qs.push({
      type: "when_tone",
      text: fill("when_tone", { pitch }),
      answer: ORDINALS[e.shapes.indexOf(shapeInSlotOf(e, tone(pitch)))],
    });
  }
  for (const colour of e.asked.colours) {
    qs.push({
      type: "when_colour",
      text: fill("when_colour", { colour }),
      answer: ORDINALS[e.shapes.findIndex((s) => s.colour === colour)],
    });
  }
  qs.push({
    type: "nth_colour",
    text: fill("nth_colour", { ordinal: ORDINALS[e.asked.slot] }),
    answer: e.shapes[e.asked.slot].colour,
  });
  return qs;
}
