// audio.ts: the FFT against a naive DFT, the real-input power spectrum against the DFT's, the mel
// filterbank's shape, and the log-mel's framing (count and alignment) and frequency placement.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  LOG_EPS,
  type MelParams,
  SAMPLE_RATE,
  addTone,
  fft,
  hzToMel,
  logMel,
  melBinOf,
  melCorners,
  melFilterbank,
  melFrames,
  melToHz,
  powerSpectrum,
} from "../../datasets/audio.js";

/** X[k] = Σ x[j]·e^{−2πi jk/n}, in float64, O(n²). */
function naiveDft(re: ArrayLike<number>, im: ArrayLike<number>): { re: Float64Array; im: Float64Array } {
  const n = re.length;
  const out = { re: new Float64Array(n), im: new Float64Array(n) };
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      const a = (-2 * Math.PI * ((j * k) % n)) / n;
      out.re[k] += re[j] * Math.cos(a) - im[j] * Math.sin(a);
      out.im[k] += re[j] * Math.sin(a) + im[j] * Math.cos(a);
    }
  }
  return out;
}

const values = (n: number) => fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: n, maxLength: n });
const powerOfTwo = (min: number, max: number) => fc.integer({ min, max }).map((b) => 2 ** b);

const TINY_MEL: MelParams = { sampleRate: SAMPLE_RATE, nFft: 512, hop: 500, mels: 32, fMin: 0, fMax: 8000 };

describe("fft", () => {
  test("equals a naive DFT on random complex input (n = 1 … 256)", () => {
    fc.assert(
      fc.property(
        powerOfTwo(0, 8).chain((n) => fc.tuple(values(n), values(n))),
        ([re, im]) => {
          const want = naiveDft(re, im);
          const gotRe = Float64Array.from(re);
          const gotIm = Float64Array.from(im);
          fft(gotRe, gotIm);
          const tol = 1e-9 * re.length;
          for (let k = 0; k < re.length; k++) {
            expect(Math.abs(gotRe[k] - want.re[k]), `re[${k}] of n=${re.length}`).toBeLessThan(tol);
            expect(Math.abs(gotIm[k] - want.im[k]), `im[${k}] of n=${re.length}`).toBeLessThan(tol);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test("rejects a length that is not a power of two", () => {
    expect(() => fft(new Float64Array(6), new Float64Array(6))).toThrow(/power-of-two/);
  });

  test("the real-input power spectrum equals |DFT|² of the frame (n = 4 … 512)", () => {
    fc.assert(
      fc.property(
        powerOfTwo(2, 9).chain((n) => values(n)),
        (x) => {
          const n = x.length;
          const want = naiveDft(x, new Float64Array(n));
          const got = new Float64Array(n / 2 + 1);
          powerSpectrum(x, got, new Float64Array(n / 2), new Float64Array(n / 2));
          for (let k = 0; k <= n / 2; k++) {
            const p = want.re[k] ** 2 + want.im[k] ** 2;
            expect(Math.abs(got[k] - p), `bin ${k} of n=${n}`).toBeLessThan(1e-8 * n * n);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("mel filterbank (HTK, unnormalised triangles)", () => {
  test("mel ↔ Hz round-trips and 1000 Hz is 1000 mel", () => {
    expect(hzToMel(1000)).toBeCloseTo(1000, 0);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 8000, noNaN: true }), (f) => Math.abs(melToHz(hzToMel(f)) - f) < 1e-6),
    );
  });

  test("weights are in [0, 1] and sum to 1 between the first and last centres", () => {
    for (const p of [TINY_MEL, { ...TINY_MEL, nFft: 1024, mels: 64, fMin: 50 }]) {
      const bins = p.nFft / 2 + 1;
      const w = melFilterbank(p);
      const c = melCorners(p);
      expect(Math.min(...w)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...w)).toBeLessThanOrEqual(1);
      for (let k = 0; k < bins; k++) {
        const f = (k * p.sampleRate) / p.nFft;
        let sum = 0;
        for (let m = 0; m < p.mels; m++) sum += w[m * bins + k];
        if (f >= c[1] && f <= c[p.mels]) expect(sum, `bin ${k} (${f} Hz)`).toBeCloseTo(1, 5);
        if (f <= c[0] || f >= c[p.mels + 1]) expect(sum, `bin ${k} (${f} Hz)`).toBe(0);
      }
    }
  });
});

describe("logMel", () => {
  test("gives floor(samples / hop) frames of `mels` values", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.constantFrom(64, 256, 512),
        fc.integer({ min: 1, max: 40 }),
        (n, hop, nFft, mels) => {
          const out = logMel(new Float32Array(n), { sampleRate: SAMPLE_RATE, nFft, hop, mels, fMin: 0, fMax: 8000 });
          expect(melFrames(n, hop)).toBe(Math.floor(n / hop));
          expect(out.length).toBe(Math.floor(n / hop) * mels);
        },
      ),
      { numRuns: 40 },
    );
  });

  test("silence is ln(ε) everywhere", () => {
    const out = logMel(new Float32Array(4000), TINY_MEL);
    for (const x of out) expect(x).toBeCloseTo(Math.log(LOG_EPS), 4);
  });

  test("a pure tone's energy peaks in the mel bin containing its frequency", () => {
    // frequencies within 30 % of a filter's spacing from its centre (in mel), so that the bin is unambiguous
    const params = [TINY_MEL, { ...TINY_MEL, nFft: 1024, hop: 250, mels: 64, fMin: 50, fMax: 7600 }];
    fc.assert(
      fc.property(
        fc.constantFrom(...params),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: -0.3, max: 0.3, noNaN: true }),
        (p, where, offset) => {
          const c = melCorners(p);
          const m = 3 + Math.floor(where * (p.mels - 6)); // away from the ends, where triangles are cut
          const spacing = hzToMel(c[m + 2]) - hzToMel(c[m + 1]);
          const freq = melToHz(hzToMel(c[m + 1]) + offset * spacing);
          expect(melBinOf(freq, p)).toBe(m);
          const pcm = new Float32Array(8000);
          addTone(pcm, { freq, start: 0, length: pcm.length, amplitude: 0.5, attack: 0, decay: 0 });
          const out = logMel(pcm, p);
          const frames = out.length / p.mels;
          for (let f = 2; f < frames - 2; f++) {
            const row = out.subarray(f * p.mels, (f + 1) * p.mels);
            expect(row.indexOf(Math.max(...row)), `frame ${f}, ${freq.toFixed(1)} Hz`).toBe(m);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  test("frame k describes samples [k·hop, (k+1)·hop): a burst there is loudest in frame k", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 15 }), (k) => {
        const p = TINY_MEL;
        const pcm = new Float32Array(16 * p.hop);
        addTone(pcm, { freq: 1000, start: k * p.hop, length: p.hop, amplitude: 0.5, attack: 0, decay: 0 });
        const out = logMel(pcm, p);
        const bin = melBinOf(1000, p);
        const column = Array.from({ length: 16 }, (_, f) => out[f * p.mels + bin]);
        expect(column.indexOf(Math.max(...column))).toBe(k);
      }),
      { numRuns: 16 },
    );
  });
});
