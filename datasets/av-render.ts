// av-render.ts: a clip's events (synth-av.ts) to the model's inputs — video frames f32[T·F, H, W, 3]
// in [0, 1] on black, 16 kHz PCM and its log-mel spectrogram f32[T·S, mel]. Pure functions of the events
// (and the seed, for the audio noise).
import { type MelParams, SAMPLE_RATE, addBeep, addNoise, addTone, logMel } from "./audio.js";
import {
  COLOUR_RGB,
  type ClipEvents,
  NOISE_AMPLITUDE,
  type ShapeKind,
  type SynthConfig,
  framesPerClip,
  hopOf,
  noiseStream,
  samplesPerClip,
} from "./synth-av.js";
import { bug } from "../base/errors.js";

/** The log-mel parameters of a configuration: 32 ms windows, FPS·specPerFrame frames a second, 0–8 kHz. */
export function melParamsOf(c: SynthConfig): MelParams {
  return { sampleRate: SAMPLE_RATE, nFft: c.nFft, hop: hopOf(c), mels: c.mels, fMin: 0, fMax: SAMPLE_RATE / 2 };
}

const masks = new Map<string, Uint8Array>();

/** size × size pixels of a shape, row-major: 1 inside. */
export function shapeMask(kind: ShapeKind, size: number): Uint8Array {
  const key = `${kind}/${size}`;
  let m = masks.get(key);
  if (!m) {
    m = new Uint8Array(size * size);
    const c = (size - 1) / 2;
    for (let r = 0; r < size; r++) {
      for (let q = 0; q < size; q++) {
        const inside =
          kind === "square"
            ? true
            : kind === "disc"
              ? (r - c) ** 2 + (q - c) ** 2 <= (size / 2) ** 2
              : Math.abs(q - c) <= ((r + 1) / size) * (size / 2); // triangle, apex up, base on the last row
        m[r * size + q] = inside ? 1 : 0;
      }
    }
    masks.set(key, m);
  }
  return m;
}

/** Writes the clip's frames into `out` [T·F, H, W, 3] (zeroed first). */
export function renderVideo(e: ClipEvents, c: SynthConfig, out: Float32Array): void {
  const { height: H, width: W } = c;
  if (out.length !== framesPerClip(c) * H * W * 3)
    bug(`renderVideo: out holds ${out.length} values, the clip needs ${framesPerClip(c) * H * W * 3}`);
  out.fill(0);
  for (const s of e.shapes) {
    const mask = shapeMask(s.kind, s.size);
    const [red, green, blue] = COLOUR_RGB[s.colour];
    for (let f = s.start; f < s.end; f++) {
      const x0 = s.x[f - s.start];
      const y0 = s.y[f - s.start];
      for (let r = 0; r < s.size; r++) {
        const y = y0 + r;
        if (y < 0 || y >= H) continue;
        for (let q = 0; q < s.size; q++) {
          const x = x0 + q;
          if (x < 0 || x >= W || !mask[r * s.size + q]) continue;
          const i = ((f * H + y) * W + x) * 3;
          out[i] = red;
          out[i + 1] = green;
          out[i + 2] = blue;
        }
      }
    }
  }
}

/** The clip's 16 kHz mono PCM: tones (10 ms attack, 20 ms decay), beeps and noise. */
export function renderAudio(e: ClipEvents, c: SynthConfig, seed: number, clip: number): Float32Array {
  const pcm = new Float32Array(samplesPerClip(c));
  const attack = Math.round(0.01 * SAMPLE_RATE);
  const decay = Math.round(0.02 * SAMPLE_RATE);
  for (const t of e.tones)
    addTone(pcm, { freq: t.freq, start: t.start, length: t.length, amplitude: t.amplitude, attack, decay });
  for (const b of e.beeps) addBeep(pcm, b);
  addNoise(pcm, NOISE_AMPLITUDE, seed, noiseStream(clip));
  return pcm;
}

/** The clip's log-mel spectrogram [T·S, mel]. */
export function renderSpectrogram(e: ClipEvents, c: SynthConfig, seed: number, clip: number): Float32Array {
  return logMel(renderAudio(e, c, seed, clip), melParamsOf(c));
}
