// synth-av.ts and av-render.ts: every answer recomputed from the clip's event list by times (not by the
// generator's slots), the rendered tensors showing what the events say, determinism, and the measured
// claim that the both-modality types cannot be answered from one modality.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { BEEP, melBinOf } from "../../datasets/audio.js";
import { generateClip, splitClips, splitOfClip } from "../../datasets/av-build.js";
import { melParamsOf } from "../../datasets/av-render.js";
import { type Keyed, chanceByType, majorityByKeyAccuracy } from "../../datasets/chance.js";
import {
  COLOURS,
  COLOUR_RGB,
  COUNT_WORDS,
  type ClipEvents,
  ORDINALS,
  type Question,
  type SynthConfig,
  PITCHES,
  SLOTS,
  TINY,
  checkConfig,
  framesPerClip,
  hopOf,
  questionsFor,
  sampleEvents,
  samplesPerClip,
  samplesPerFrame,
} from "../../datasets/synth-av.js";

const CONFIGS: SynthConfig[] = [
  TINY,
  { ...TINY, chunks: 4, frames: 8, height: 32, width: 32, mels: 64 },
  { ...TINY, chunks: 3, frames: 4, height: 12, width: 20 },
];
const wordsOf = (q: Question) => q.text.split(" ");

/** The answer from the events' times alone: which shape is visible at which sample, which tone starts when. */
function answerByTime(e: ClipEvents, q: Question): string {
  const visibleAt = (sample: number) =>
    e.shapes.filter((s) => s.start * samplesPerFrame <= sample && sample < s.end * samplesPerFrame);
  const byStart = <T extends { start: number }>(xs: readonly T[]) => [...xs].sort((a, b) => a.start - b.start);
  switch (q.type) {
    case "colour_at_tone": {
      const tone = e.tones.find((t) => wordsOf(q).includes(t.pitch))!;
      const shapes = visibleAt(tone.start);
      expect(shapes).toHaveLength(1);
      return shapes[0].colour;
    }
    case "tone_after_colour": {
      const shape = e.shapes.find((s) => wordsOf(q).includes(s.colour))!;
      const after = byStart(e.tones.filter((t) => t.start >= shape.start * samplesPerFrame));
      expect(after.length).toBeGreaterThan(0);
      expect(after[0].start, "the tone starts while that shape is still the one shown").toBeLessThan(
        shape.end * samplesPerFrame,
      );
      return after[0].pitch;
    }
    case "count_beeps":
      return COUNT_WORDS[e.beeps.length];
    case "first_tone":
      return byStart(e.tones)[0].pitch;
    case "first_colour":
      return byStart(e.shapes)[0].colour;
    case "when_tone": {
      // the n-th shape by appearance is the one visible when the tone starts
      const tone = e.tones.find((t) => wordsOf(q).includes(t.pitch))!;
      return ORDINALS[byStart(e.shapes).indexOf(visibleAt(tone.start)[0])];
    }
    case "when_colour":
      return ORDINALS[byStart(e.shapes).findIndex((s) => wordsOf(q).includes(s.colour))];
    case "nth_colour":
      return byStart(e.shapes)[ORDINALS.findIndex((o) => wordsOf(q).includes(o))].colour;
  }
}

describe("events and questions", () => {
  test("every answer agrees with the answer recomputed from the event list's times", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.nat(10_000),
        fc.constantFrom(...CONFIGS),
        (seed, clip, c) => {
          const e = sampleEvents(seed, clip, c);
          const qs = questionsFor(e);
          expect(qs.map((q) => q.type)).toEqual([
            "colour_at_tone",
            "colour_at_tone",
            "tone_after_colour",
            "tone_after_colour",
            "count_beeps",
            "first_tone",
            "first_colour",
            "when_tone",
            "when_tone",
            "when_colour",
            "when_colour",
            "nth_colour",
          ]);
          expect(new Set(e.asked.colours).size, "two distinct colours asked").toBe(2);
          expect(e.asked.slot, "nth_colour asks after the first slot (first_colour asks that)").toBeGreaterThan(0);
          for (const q of qs) expect(q.answer, q.text).toBe(answerByTime(e, q));
        },
      ),
      { numRuns: 300 },
    );
  });

  test(
    "a clip's events obey the layout: each colour once, in disjoint slots, shapes inside the frame, " +
      "tones apart, beeps apart",
    () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 2 ** 32 - 1 }),
          fc.nat(10_000),
          fc.constantFrom(...CONFIGS),
          (seed, clip, c) => {
            const e = sampleEvents(seed, clip, c);
            expect([...e.shapes.map((s) => s.colour)].sort()).toEqual([...COLOURS].sort());
            e.shapes.forEach((s, i) => {
              expect([s.start, s.end]).toEqual([(i * framesPerClip(c)) / SLOTS, ((i + 1) * framesPerClip(c)) / SLOTS]);
              for (let j = 0; j < s.x.length; j++) {
                expect(s.x[j]).toBeGreaterThanOrEqual(0);
                expect(s.x[j] + s.size).toBeLessThanOrEqual(c.width);
                expect(s.y[j]).toBeGreaterThanOrEqual(0);
                expect(s.y[j] + s.size).toBeLessThanOrEqual(c.height);
              }
            });
            expect(e.tones.map((t) => t.pitch).sort()).toEqual([...PITCHES].sort());
            expect(e.tones[0].start + e.tones[0].length).toBeLessThan(e.tones[1].start);
            const beepLength = Math.round(BEEP.seconds * 16000);
            for (let i = 1; i < e.beeps.length; i++)
              expect(e.beeps[i] - e.beeps[i - 1], "beeps separated by at least 40 ms").toBeGreaterThanOrEqual(
                beepLength + 640,
              );
            for (const b of e.beeps) expect(b + beepLength).toBeLessThanOrEqual(samplesPerClip(c));
          },
        ),
        { numRuns: 200 },
      );
    },
  );

  test("sizes that do not fit the layout are refused with the fix", () => {
    expect(checkConfig(TINY)).toBeUndefined();
    expect(checkConfig({ ...TINY, frames: 3 })).toMatch(/multiple of 4.*2 × 3 = 6/);
    expect(checkConfig({ ...TINY, specPerFrame: 3 })).toMatch(/specPerFrame must divide 2000/);
    expect(checkConfig({ ...TINY, textLength: 8 })).toMatch(/textLength must be at least 13/);
  });
});

describe("rendering", () => {
  test(
    "the frames at a tone's onset show the colour the answer names; " +
      "its mel bin is loud during the tone and quiet before",
    () => {
      for (const c of CONFIGS) {
        for (let clip = 0; clip < 12; clip++) {
          const g = generateClip(7, clip, c);
          const { height: H, width: W, mels } = c;
          expect(g.video.length).toBe(framesPerClip(c) * H * W * 3);
          expect(g.spectrogram.length).toBe(framesPerClip(c) * c.specPerFrame * mels);
          for (const q of g.questions.filter((q) => q.type === "colour_at_tone")) {
            const tone = g.events.tones.find((t) => wordsOf(q).includes(t.pitch))!;
            const frame = Math.floor(tone.start / samplesPerFrame);
            const lit = new Set<string>();
            for (let p = 0; p < H * W; p++) {
              const rgb = Array.from(g.video.subarray((frame * H * W + p) * 3, (frame * H * W + p) * 3 + 3));
              if (rgb.some((x) => x > 0)) lit.add(rgb.join(","));
            }
            expect([...lit], `clip ${clip} frame ${frame}`).toEqual([
              COLOUR_RGB[q.answer as (typeof COLOURS)[number]].map(Math.fround).join(","),
            ]);
          }
          const mel = melParamsOf(c);
          for (const tone of g.events.tones) {
            const bin = melBinOf(tone.freq, mel);
            const during = g.spectrogram[Math.floor((tone.start + tone.length / 2) / hopOf(c)) * mels + bin];
            // a quarter slot before the tone: no tone there
            const slotStart = Math.floor((tone.start - tone.length / 2) / hopOf(c));
            const before = g.spectrogram[slotStart * mels + bin];
            expect(during - before, `clip ${clip}, ${tone.pitch} tone at ${tone.freq.toFixed(0)} Hz`).toBeGreaterThan(
              5,
            );
          }
        }
      }
    },
  );

  test("the same seed gives identical clips; another seed, different ones", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 2 }), fc.nat(1000), (seed, clip) => {
        const a = generateClip(seed, clip, TINY);
        const b = generateClip(seed, clip, TINY);
        expect(Buffer.from(a.video.buffer).equals(Buffer.from(b.video.buffer))).toBe(true);
        expect(Buffer.from(a.spectrogram.buffer).equals(Buffer.from(b.spectrogram.buffer))).toBe(true);
        expect(a.questions).toEqual(b.questions);
        const other = generateClip(seed + 1, clip, TINY);
        expect(Buffer.from(a.spectrogram.buffer).equals(Buffer.from(other.spectrogram.buffer))).toBe(false);
        expect(other.events).not.toEqual(a.events);
      }),
      { numRuns: 10 },
    );
  });
});

describe("one modality is not enough for the both-modality types", () => {
  // The rule: for each piece of single-modality evidence (with the question's text), answer the most
  // frequent training answer; scored on the held-out test clips. Video evidence is the shapes' colours
  // in time order (positions, paths and kinds are independent of everything else); audio evidence is
  // the tones' pitches in time order with their onsets, and the beep count. The same rule given both
  // (the beeps left out, which only split the keys) answers every question, so it is not a weak rule.
  const clips = 4000;
  const seed = 20240611;
  const splits = splitClips(clips);
  const rows = Array.from({ length: clips }, (_, i) => {
    const e = sampleEvents(seed, i, TINY);
    const video = e.shapes.map((s) => `${s.colour}@${s.start}`).join(" ");
    const tones = e.tones.map((t) => `${t.pitch}@${t.start}`).join(" ");
    return questionsFor(e).map((q) => ({
      q,
      split: splitOfClip(i, splits),
      video,
      tones,
      audio: `${tones} beeps ${e.beeps.length}`,
    }));
  }).flat();
  const chance = chanceByType(rows.map((r) => ({ type: r.q.type, answer: r.q.answer, split: r.split })));
  const accuracy = (type: string, evidence: (r: (typeof rows)[number]) => string) => {
    const keyed = (split: string): Keyed[] =>
      rows.filter((r) => r.q.type === type && r.split === split).map((r) => ({ key: evidence(r), answer: r.q.answer }));
    return majorityByKeyAccuracy(keyed("train"), keyed("test"))!;
  };

  test.each(["colour_at_tone", "tone_after_colour"])(
    "%s: video alone and audio alone stay within 5 points of chance; both together answer all",
    (type) => {
      const c = chance[type].test!;
      expect(accuracy(type, () => "")).toBe(c); // no evidence at all: the rule is chance itself
      expect(accuracy(type, (r) => `${r.q.text} | ${r.video}`)).toBeLessThanOrEqual(c + 0.05);
      expect(accuracy(type, (r) => `${r.q.text} | ${r.audio}`)).toBeLessThanOrEqual(c + 0.05);
      // fewer keys, each better estimated
      expect(accuracy(type, (r) => `${r.q.text} | ${r.tones}`)).toBeLessThanOrEqual(c + 0.05);
      expect(accuracy(type, (r) => `${r.q.text} | ${r.video} | ${r.tones}`)).toBe(1);
    },
  );

  test.each([
    ["count_beeps", "audio"],
    ["first_tone", "audio"],
    ["first_colour", "video"],
    ["when_tone", "audio"],
    ["when_colour", "video"],
    ["nth_colour", "video"],
  ] as const)("control %s is answered by %s alone and not by the other modality", (type, modality) => {
    const other = modality === "audio" ? "video" : "audio";
    expect(accuracy(type, (r) => `${r.q.text} | ${r[modality]}`)).toBe(1);
    expect(accuracy(type, (r) => `${r.q.text} | ${r[other]}`)).toBeLessThanOrEqual(chance[type].test! + 0.05);
  });

  test("answers are balanced: every answer of a type within 3 points of uniform on the training clips", () => {
    const uniform: Record<string, number> = {
      colour_at_tone: 4,
      tone_after_colour: 2,
      count_beeps: 4,
      first_tone: 2,
      first_colour: 4,
      when_tone: 4,
      when_colour: 4,
      nth_colour: 4,
    };
    for (const [type, k] of Object.entries(uniform)) {
      const answers = rows.filter((r) => r.q.type === type && r.split === "train").map((r) => r.q.answer);
      const counts = new Map<string, number>();
      for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
      expect(counts.size, type).toBe(k);
      for (const [a, n] of counts) expect(Math.abs(n / answers.length - 1 / k), `${type} '${a}'`).toBeLessThan(0.03);
    }
  });
});
