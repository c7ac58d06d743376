// words.ts: the word tokenizer and the model's text rows; and the QA set's sizes and ids agree with
// models/mirasol.mira's tiny preset (its inputs' layout, vocabulary, start and eos ids).
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { loadModel } from "../../api/model.js";
import { avTokenizer } from "../../datasets/av-build.js";
import { MAX_TEXT_TOKENS, TINY, WORDS, framesPerClip, questionsFor, sampleEvents } from "../../datasets/synth-av.js";
import { BOS, EOS, PAD, WordTokenizer, encodeRow } from "../../datasets/words.js";

describe("WordTokenizer", () => {
  const tok = avTokenizer();

  test("ids 0, 1, 2 are pad, bos, eos, then the words in their fixed order", () => {
    expect([PAD, BOS, EOS]).toEqual([0, 1, 2]);
    expect(tok.vocab.slice(0, 3)).toEqual(["<pad>", "<bos>", "<eos>"]);
    expect(tok.vocab.slice(3)).toEqual(WORDS);
    expect(new Set(tok.vocab).size).toBe(tok.size);
  });

  test("encode then decode gives the text back, for any sequence of vocabulary words", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 20 }), (words) => {
        const text = words.join(" ");
        expect(tok.decode(tok.encode(text))).toBe(text);
      }),
    );
  });

  test("an unknown word is an error naming it; a vocabulary must start with the specials", () => {
    expect(() => tok.encode("what colour is the purple shape ?")).toThrow(/'purple' is not in the vocabulary/);
    expect(() => new WordTokenizer(["a", "b", "c"])).toThrow(/starts with <pad>, <bos>, <eos>/);
    expect(() => WordTokenizer.fromWords(["a", "a"])).toThrow(/each word once/);
  });

  test("a row is question, answer, eos, padding; the mask covers answer and eos", () => {
    const text = new Int32Array(10).fill(-1);
    const mask = new Float32Array(10).fill(-1);
    const n = encodeRow(tok, "how many beeps ?", "two", text, mask);
    expect(n).toBe(4);
    expect(Array.from(text)).toEqual([...tok.encode("how many beeps ? two"), EOS, 0, 0, 0, 0]);
    expect(Array.from(mask)).toEqual([0, 0, 0, 0, 1, 1, 0, 0, 0, 0]);
    expect(tok.decode(text)).toBe("how many beeps ? two");
    expect(() => encodeRow(tok, "how many beeps ?", "two", new Int32Array(5), new Float32Array(5))).toThrow(
      /need 6 tokens but rows hold 5/,
    );
  });

  test("every generated question fits MAX_TEXT_TOKENS", () => {
    for (let clip = 0; clip < 50; clip++) {
      for (const q of questionsFor(sampleEvents(3, clip, TINY)))
        expect(tok.encode(q.text).length + 2).toBeLessThanOrEqual(MAX_TEXT_TOKENS);
    }
  });
});

describe("TINY matches models/mirasol.mira's tiny preset", () => {
  test(
    "video [chunks·frames, height, width, 3], spectrogram [chunks·spec_frames, mel], vocabulary, start, eos, " +
      "max_len",
    () => {
      const c = loadModel(join(import.meta.dirname, "../../models/mirasol.mira"), { preset: "tiny" }).config();
      expect(framesPerClip(TINY)).toBe(Number(c.chunks) * Number(c.frames));
      expect([TINY.chunks, TINY.frames, TINY.height, TINY.width, 3]).toEqual([
        c.chunks,
        c.frames,
        c.height,
        c.width,
        c.channels,
      ]);
      expect(TINY.frames * TINY.specPerFrame).toBe(c.spec_frames);
      expect(TINY.mels).toBe(c.mel);
      expect(avTokenizer().size).toBeLessThanOrEqual(Number(c.vocab));
      expect([BOS, EOS]).toEqual([c.start, c.eos]);
      expect(TINY.textLength).toBeLessThanOrEqual(Number(c.max_len));
    },
  );
});
