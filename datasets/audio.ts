// audio.ts: 16 kHz mono PCM synthesis (tones with attack/decay envelopes, beeps, seeded noise) and the
// log-mel spectrogram every audio input goes through — the synthetic set's now, imported clips' later —
// so both see the same numbers. Our own STFT (periodic Hann window, radix-2 FFT), power spectrum, HTK
// triangular mel filterbank, log(ε + ·). Knows nothing of video, questions or files.
import { randomBits } from "../base/random.js";
import { bug } from "../base/errors.js";
import { DataError } from "./av-format.js";

export const SAMPLE_RATE = 16000;

/** Added to the mel power before the log, so silence is log(1e-6) ≈ −13.8 rather than −∞. */
export const LOG_EPS = 1e-6;

// ---------------------------------------------------------------------------------------------------
// Synthesis. Every helper adds into `pcm` (a Float32Array of samples in [-1, 1]), so events mix.

export interface Tone {
  readonly freq: number; // Hz
  readonly start: number; // first sample
  readonly length: number; // samples
  readonly amplitude: number;
  readonly attack: number; // samples of linear rise from 0 to `amplitude`
  readonly decay: number; // samples of linear fall back to 0 at the end
}

/** Adds a sine of `t.freq` with a linear attack / sustain / decay envelope; phase 0 at its onset. */
export function addTone(pcm: Float32Array, t: Tone): void {
  const w = (2 * Math.PI * t.freq) / SAMPLE_RATE;
  const end = Math.min(pcm.length, t.start + t.length);
  for (let i = Math.max(0, t.start); i < end; i++) {
    const k = i - t.start;
    const rise = t.attack > 0 ? Math.min(1, k / t.attack) : 1;
    const fall = t.decay > 0 ? Math.min(1, (t.length - k) / t.decay) : 1;
    pcm[i] += t.amplitude * Math.min(rise, fall) * Math.sin(w * k);
  }
}

export const BEEP = { freq: 1000, seconds: 0.06, amplitude: 0.4 } as const;

/** A short beep at `start`: BEEP.seconds of BEEP.freq with 5 ms edges. */
export function addBeep(pcm: Float32Array, start: number): void {
  const edge = Math.round(0.005 * SAMPLE_RATE);
  addTone(pcm, {
    freq: BEEP.freq,
    start,
    length: Math.round(BEEP.seconds * SAMPLE_RATE),
    amplitude: BEEP.amplitude,
    attack: edge,
    decay: edge,
  });
}

/**
 * Adds uniform noise in [-amplitude, amplitude): mulberry32 (a 32-bit sequential generator) started from
 * the counter-based hash randomBits(seed, stream, 0) — one hash per call, not per sample, as it is fast.
 */
export function addNoise(pcm: Float32Array, amplitude: number, seed: number, stream: number): void {
  let state = randomBits(seed, stream, 0);
  for (let i = 0; i < pcm.length; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const u = ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    pcm[i] += amplitude * (2 * u - 1);
  }
}

// ---------------------------------------------------------------------------------------------------
// FFT: iterative radix-2 decimation in time, in place on float64 (re, im); n log2 n butterflies.

const fftTables = new Map<number, { rev: Uint32Array; cos: Float64Array; sin: Float64Array }>();

function tablesFor(n: number): { rev: Uint32Array; cos: Float64Array; sin: Float64Array } {
  let t = fftTables.get(n);
  if (!t) {
    const bits = Math.log2(n);
    const rev = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      rev[i] = r;
    }
    const cos = new Float64Array(n / 2);
    const sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      cos[k] = Math.cos((2 * Math.PI * k) / n);
      sin[k] = -Math.sin((2 * Math.PI * k) / n);
    }
    t = { rev, cos, sin };
    fftTables.set(n, t);
  }
  return t;
}

export const isPowerOfTwo = (n: number): boolean => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;

/** In place: (re, im) ← DFT(re, im), X[k] = Σ x[j]·e^{−2πi jk/n}; n must be a power of two. */
export function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  if (!isPowerOfTwo(n) || im.length !== n)
    bug(`fft needs two arrays of one power-of-two length, got ${re.length} and ${im.length}`);
  const { rev, cos, sin } = tablesFor(n);
  for (let i = 0; i < n; i++) {
    const j = rev[i];
    if (j > i) {
      const tr = re[i];
      re[i] = re[j];
      re[j] = tr;
      const ti = im[i];
      im[i] = im[j];
      im[j] = ti;
    }
  }
  for (let size = 2; size <= n; size *= 2) {
    const half = size / 2;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step];
        const wi = sin[k * step];
        const a = start + k;
        const b = a + half;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
    }
  }
}

/**
 * |X[k]|² for k = 0..n/2 of a real frame x of n samples (n a power of two ≥ 4) with one complex FFT of
 * n/2 points: z[j] = x[2j] + i·x[2j+1], Z = FFT(z), then X[k] = E[k] + e^{−2πik/n}·O[k] with
 * E[k] = (Z[k] + conj Z[n/2−k])/2 and O[k] = (Z[k] − conj Z[n/2−k])/(2i). Scratch re/im hold n/2 values.
 */
export function powerSpectrum(x: ArrayLike<number>, out: Float64Array, re: Float64Array, im: Float64Array): void {
  const n = x.length;
  const m = n / 2;
  if (!isPowerOfTwo(n) || n < 4 || out.length !== m + 1 || re.length !== m || im.length !== m)
    bug(
      "powerSpectrum: need a power-of-two frame ≥ 4, out of n/2 + 1 and scratch of n/2; " +
        `got ${n}, ${out.length}, ${re.length}`,
    );
  for (let j = 0; j < m; j++) {
    re[j] = x[2 * j];
    im[j] = x[2 * j + 1];
  }
  fft(re, im);
  const { cos, sin } = tablesFor(n);
  for (let k = 0; k <= m; k++) {
    const ar = re[k % m];
    const ai = im[k % m];
    const br = re[(m - k) % m];
    const bi = im[(m - k) % m];
    const er = (ar + br) / 2;
    const ei = (ai - bi) / 2;
    const or = (ai + bi) / 2;
    const oi = (br - ar) / 2;
    const wr = k < m ? cos[k] : -1; // e^{−2πik/n}; at k = n/2 it is −1
    const wi = k < m ? sin[k] : 0;
    const xr = er + wr * or - wi * oi;
    const xi = ei + wr * oi + wi * or;
    out[k] = xr * xr + xi * xi;
  }
}

// ---------------------------------------------------------------------------------------------------
// Mel filterbank: HTK scale mel(f) = 2595·log10(1 + f/700); `mels` triangles whose corners are
// mels + 2 points equally spaced in mel from fMin to fMax; weight 1 at a triangle's centre, falling
// linearly (in Hz) to 0 at its neighbours' centres; no area normalisation (Slaney's is not used).
// A filter narrower than the FFT bin spacing can be empty (all zero): its output is log(ε).

export interface MelParams {
  readonly sampleRate: number;
  readonly nFft: number; // window and FFT length, a power of two
  readonly hop: number; // samples between frames
  readonly mels: number;
  readonly fMin: number;
  readonly fMax: number;
}

export const hzToMel = (f: number): number => 2595 * Math.log10(1 + f / 700);
export const melToHz = (m: number): number => 700 * (10 ** (m / 2595) - 1);

/** The mels + 2 corner frequencies (Hz): filter m rises from corner m, peaks at m + 1, ends at m + 2. */
export function melCorners(p: MelParams): Float64Array {
  const lo = hzToMel(p.fMin);
  const hi = hzToMel(p.fMax);
  return Float64Array.from({ length: p.mels + 2 }, (_, i) => melToHz(lo + ((hi - lo) * i) / (p.mels + 1)));
}

/** The filter that weighs `freq` most: the one whose centre is nearest in mel (−1 outside fMin..fMax). */
export function melBinOf(freq: number, p: MelParams): number {
  if (freq <= p.fMin || freq >= p.fMax) return -1;
  // in corner units
  const pos = ((hzToMel(freq) - hzToMel(p.fMin)) / (hzToMel(p.fMax) - hzToMel(p.fMin))) * (p.mels + 1);
  return Math.min(p.mels - 1, Math.max(0, Math.round(pos) - 1));
}

/** Weights [mels, nFft/2 + 1]: row m weighs the power at FFT bin k (frequency k·sampleRate/nFft). */
export function melFilterbank(p: MelParams): Float32Array {
  const bins = p.nFft / 2 + 1;
  const c = melCorners(p);
  const w = new Float32Array(p.mels * bins);
  for (let m = 0; m < p.mels; m++) {
    for (let k = 0; k < bins; k++) {
      const f = (k * p.sampleRate) / p.nFft;
      const up = (f - c[m]) / (c[m + 1] - c[m]);
      const down = (c[m + 2] - f) / (c[m + 2] - c[m + 1]);
      w[m * bins + k] = Math.max(0, Math.min(up, down));
    }
  }
  return w;
}

// ---------------------------------------------------------------------------------------------------
// Log-mel. Framing: frames = ⌊N / hop⌋; frame k is the nFft samples centred at k·hop + ⌊hop/2⌋ (from
// k·hop + ⌊hop/2⌋ − nFft/2), zero outside the signal. So frame k describes samples [k·hop, (k+1)·hop)
// and a chunk of S·hop samples gives exactly S frames centred inside it: audio and video chunks cover
// the same span. Window: periodic Hann, w[n] = 0.5 − 0.5·cos(2πn/nFft). Power: |X[k]|², unnormalised.

/** The number of frames `logMel` gives for `samples` samples. */
export const melFrames = (samples: number, hop: number): number => Math.floor(samples / hop);

export function checkMelParams(p: MelParams): string | undefined {
  if (!isPowerOfTwo(p.nFft) || p.nFft < 4) return `nFft must be a power of two ≥ 4, got ${p.nFft}`;
  if (!Number.isInteger(p.hop) || p.hop < 1) return `hop must be a positive integer, got ${p.hop}`;
  if (!Number.isInteger(p.mels) || p.mels < 1) return `mels must be a positive integer, got ${p.mels}`;
  if (!(p.fMin >= 0 && p.fMin < p.fMax && p.fMax <= p.sampleRate / 2))
    return `need 0 ≤ fMin < fMax ≤ sampleRate/2, got fMin ${p.fMin}, fMax ${p.fMax}`;
  return undefined;
}

interface Plan {
  readonly window: Float64Array;
  /** per filter: first nonzero FFT bin and its weights, so each frame costs Σ filter widths */
  readonly filters: readonly { readonly first: number; readonly weights: Float64Array }[];
}

const plans = new Map<string, Plan>();

function planFor(p: MelParams): Plan {
  const key = `${p.sampleRate}/${p.nFft}/${p.mels}/${p.fMin}/${p.fMax}`;
  let plan = plans.get(key);
  if (!plan) {
    const bad = checkMelParams(p);
    if (bad) throw new DataError(`logMel: ${bad}`);
    const bins = p.nFft / 2 + 1;
    const bank = melFilterbank(p);
    const filters = Array.from({ length: p.mels }, (_, m) => {
      const row = bank.subarray(m * bins, (m + 1) * bins);
      let first = row.findIndex((x) => x > 0);
      if (first < 0) first = 0;
      let last = bins - 1;
      while (last >= first && row[last] === 0) last--;
      return { first, weights: Float64Array.from(row.subarray(first, last + 1)) };
    });
    const window = Float64Array.from({ length: p.nFft }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / p.nFft));
    plan = { window, filters };
    plans.set(key, plan);
  }
  return plan;
}

/** Log-mel spectrogram of mono `pcm` (p.sampleRate Hz): Float32Array [frames, mels], row-major. */
export function logMel(pcm: Float32Array, p: MelParams): Float32Array {
  const { window, filters } = planFor(p);
  const frames = melFrames(pcm.length, p.hop);
  const out = new Float32Array(frames * p.mels);
  const frame = new Float64Array(p.nFft);
  const re = new Float64Array(p.nFft / 2);
  const im = new Float64Array(p.nFft / 2);
  const power = new Float64Array(p.nFft / 2 + 1);
  for (let f = 0; f < frames; f++) {
    const from = f * p.hop + Math.floor(p.hop / 2) - p.nFft / 2;
    for (let n = 0; n < p.nFft; n++) {
      const i = from + n;
      frame[n] = i >= 0 && i < pcm.length ? pcm[i] * window[n] : 0;
    }
    powerSpectrum(frame, power, re, im);
    for (let m = 0; m < filters.length; m++) {
      const { first, weights } = filters[m];
      let s = 0;
      for (let j = 0; j < weights.length; j++) s += weights[j] * power[first + j];
      out[f * p.mels + m] = Math.log(LOG_EPS + s);
    }
  }
  return out;
}
