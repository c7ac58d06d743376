// `mira data import`: real clips made at test time by ffmpeg (lavfi generators, or a synthetic clip
// written losslessly) are decoded to the data format's frame rate, size and length; a colour change and
// a tone onset at one instant land in the same chunk; a synthetic clip imports to the generator's own
// tensors within the codec's quantisation; a clip without sound gets silence and a warning; an
// unreadable file, a missing ffmpeg and bad flags end in one line with the right exit code.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { parse } from "../../cli/args.js";
import { DATA_OPTIONS, DATA_USAGE, dataCommand } from "../../cli/commands/data.js";
import { UsageError, describeFailure } from "../../cli/errors.js";
import { LOG_EPS } from "../../datasets/audio.js";
import { generateClip, synthesize } from "../../datasets/av-build.js";
import { DataError, loadAvDataset, loadEvents } from "../../datasets/av-format.js";
import { type ImportRecord, importClip } from "../../datasets/av-import.js";
import { renderAudio } from "../../datasets/av-render.js";
import { layoutLike, syntheticLayout } from "../../datasets/import-layout.js";
import { MissingToolError } from "../../datasets/media.js";
import { FPS, QUESTION_TYPE_NAMES, TINY } from "../../datasets/synth-av.js";
import { expectClose } from "../helpers/close.js";
import { ffmpeg, requireFfmpeg, writeLosslessClip, writeTestPatternMp4 } from "../helpers/media.js";

const root = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "mira-import-"));
const at = (name: string): string => join(dir, name);
beforeAll(requireFfmpeg);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** Runs `mira data ARGS` in process; returns the exit code and what went to stdout and stderr. */
async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await dataCommand(parse(args, DATA_OPTIONS, DATA_USAGE));
    return { code, out, err };
  } finally {
    vi.restoreAllMocks();
  }
}

const SILENCE = Math.log(LOG_EPS);
const frameOf = (video: Float32Array, k: number, H: number, W: number): Float32Array =>
  video.subarray(k * H * W * 3, (k + 1) * H * W * 3);
/** The mean colour of frame k. */
function meanRgb(video: Float32Array, k: number, H: number, W: number): [number, number, number] {
  const f = frameOf(video, k, H, W);
  const m: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < f.length; i++) m[i % 3] += f[i] / (H * W);
  return m;
}

describe("frames: rate, size and length", () => {
  test(
    "a 3 s 24 fps 64×48 mp4 is cut to 8 frames of 16×16; " + "a 0.5 s webm is padded with black and silence",
    async () => {
      writeTestPatternMp4(at("long.mp4"), "64x48", 24, 3);
      const long = await run("import", "--video", at("long.mp4"), "--out", at("long"), "--json");
      expect(long.code).toBe(0);
      const j = JSON.parse(long.out) as { record: ImportRecord; questions: number };
      expect(j.questions).toBe(0);
      expect(j.record.video).toMatchObject({ frames: 8, decoded: 8, fit: "cut" });
      expect(j.record.video.sourceSeconds).toBeCloseTo(3, 1);
      expect(j.record.audio).toMatchObject({ from: "video", samples: 16000, decoded: 16000, fit: "cut" });
      const ds = loadAvDataset(at("long"));
      expect(ds.index.tensors.video.shape).toEqual([1, 8, 16, 16, 3]);
      expect(ds.index.tensors.spectrogram.shape).toEqual([1, 32, 32]);
      expect(ds.index.tensors.text.shape).toEqual([0, 16]);
      expect(ds.index.video.fps).toBe(FPS);
      // testsrc moves: consecutive frames differ, so they are frames, not one repeated
      expect(frameOf(ds.tensors.video, 0, 16, 16)).not.toEqual(frameOf(ds.tensors.video, 7, 16, 16));

      ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=48x48:rate=30:duration=0.5",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=0.5",
        "-c:v",
        "libvpx",
        "-b:v",
        "1M",
        "-c:a",
        "libvorbis",
        at("short.webm"),
      );
      const short = await run("import", "--video", at("short.webm"), "--out", at("short"));
      expect(short.out).toMatch(
        new RegExp(
          /^import: .*short\.webm → .*short: 2 × 4 frames 16×16 at 8 fps \(1\.00 s\) and 32 × 32 /.source +
            /log-mel, 0 questions, layout of the synthetic set; /.source +
            /video padded: 4 of 8 frames decoded, 4 black; audio from its track, /.source +
            /padded with 0\.5\d s of silence; [\d.]+ KiB in [\d.]+ s\n$/.source,
        ),
      );
      const s = loadAvDataset(at("short"));
      for (let k = 0; k < 4; k++) expect(frameOf(s.tensors.video, k, 16, 16).some((x) => x > 0.1)).toBe(true);
      for (let k = 4; k < 8; k++) expect(frameOf(s.tensors.video, k, 16, 16).every((x) => x === 0)).toBe(true);
      // the sound ends near 0.5 s (spectrogram frame 16); from the first frame whose window lies past the
      // decoded samples, exact silence
      const rec = loadEvents<ImportRecord>(at("short"), s.index)[0];
      expect(rec.audio.decoded / 16000).toBeCloseTo(0.5, 1);
      const spec = s.tensors.spectrogram;
      expect(Math.max(...spec.subarray(8 * 32, 9 * 32))).toBeGreaterThan(-5);
      const quiet = Math.ceil((rec.audio.decoded + 256 - 250) / 500);
      expect(quiet).toBeLessThan(20);
      expect(spec.subarray(quiet * 32).every((x) => x === Math.fround(SILENCE))).toBe(true);
    },
  );
});

describe("timing", () => {
  // 4 chunks of 4 frames: 2 s, 16 frames, 64 spectrogram frames (16 a chunk, hop 500 samples)
  const sizes = ["--chunks", "4", "--frames", "4"];
  const change = 0.625; // s: video frame 5 (chunk 1), audio sample 10 000 = spectrogram frame 20 (chunk 1)

  /** A 1 kHz tone of amplitude 1/8 from `onset` seconds on, silence before, to the sample (aevalsrc). */
  const toneFrom = (onset: number, rate: number, seconds: number): string =>
    `aevalsrc='if(gte(t,${onset}),0.125*sin(2*PI*1000*(t-${onset})),0)':s=${rate}:d=${seconds}`;

  /** Frame k's loudest mel bin. */
  const loudness = (spec: Float32Array, k: number, mels = 32): number =>
    Math.max(...spec.subarray(k * mels, (k + 1) * mels));

  /** Silent up to spectrogram frame `onset` − 2, loud from `onset` on; frame onset − 1's window straddles the onset. */
  function expectOnset(spec: Float32Array, onset: number): void {
    for (let k = 0; k <= onset - 2; k++)
      expect(loudness(spec, k), `spectrogram frame ${k}`).toBeLessThan(SILENCE + 0.01);
    for (let k = onset; k < onset + 8; k++) expect(loudness(spec, k), `spectrogram frame ${k}`).toBeGreaterThan(0);
  }

  test(
    "a colour change and a tone onset at 0.625 s land in video frame 5 and spectrogram frame 20, " + "both in chunk 1",
    async () => {
      // red for 15 frames of 24 fps (0.625 s), then blue; silence, then a 1 kHz tone at 0.625 s;
      // lossless video, 16-bit PCM
      ffmpeg(
        "-f",
        "lavfi",
        "-i",
        `color=c=red:size=32x32:rate=24:duration=${change},format=rgb24[a];` +
          "color=c=blue:size=32x32:rate=24:duration=1.875,format=rgb24[b];" +
          "[a][b]concat=n=2:v=1:a=0",
        "-f",
        "lavfi",
        "-i",
        toneFrom(change, 16000, 2.5),
        "-c:v",
        "libx264rgb",
        "-qp",
        "0",
        "-c:a",
        "pcm_s16le",
        "-shortest",
        at("change.mkv"),
      );
      await run("import", "--video", at("change.mkv"), "--out", at("change"), ...sizes);
      const ds = loadAvDataset(at("change"));
      const { video, spectrogram } = ds.tensors;
      expect(ds.index.video.frames).toBe(16);
      for (let k = 0; k < 16; k++)
        expectClose(meanRgb(video, k, 16, 16), k < 5 ? [1, 0, 0] : [0, 0, 1], { atol: 1e-6, rtol: 0 }, `frame ${k}`);
      const S = ds.index.audio.specFramesPerChunk;
      const F = ds.index.video.framesPerChunk;
      expect(Math.floor(5 / F)).toBe(Math.floor(20 / S));
      expectOnset(spectrogram, 20);
    },
  );

  test("--audio replaces the video's track, resampled from 44.1 kHz, and keeps its place in time", async () => {
    // the video's own track has its tone at 1.5 s; the separate 44.1 kHz file's starts at 0.625 s
    ffmpeg(
      "-f",
      "lavfi",
      "-i",
      "color=c=green:size=32x32:rate=24:duration=2",
      "-f",
      "lavfi",
      "-i",
      toneFrom(1.5, 16000, 2),
      "-c:v",
      "libx264rgb",
      "-qp",
      "0",
      "-c:a",
      "pcm_s16le",
      at("late.mkv"),
    );
    ffmpeg("-f", "lavfi", "-i", toneFrom(change, 44100, 2), "-c:a", "pcm_s16le", at("early.wav"));
    const own = await run("import", "--video", at("late.mkv"), "--out", at("own"), ...sizes);
    expect(own.out).toMatch(/audio from its track, exact/);
    expectOnset(loadAvDataset(at("own")).tensors.spectrogram, 48);
    const other = await run(
      "import",
      "--video",
      at("late.mkv"),
      "--audio",
      at("early.wav"),
      "--out",
      at("other"),
      ...sizes,
    );
    expect(other.out).toMatch(/audio from .*early\.wav, exact/);
    expectOnset(loadAvDataset(at("other")).tensors.spectrogram, 20);
  });
});

describe("a synthetic clip through a file", () => {
  test(
    "imports to the generator's tensors: video within 0.5/255, " + "log-mel within 0.02; questions encoded alike",
    async () => {
      const seed = 7;
      const clip = 3;
      const like = at("like");
      synthesize({ out: like, clips: 8, seed, config: TINY });
      const g = generateClip(seed, clip, TINY);
      writeLosslessClip(
        at("synthetic.mkv"),
        g.video,
        { width: TINY.width, height: TINY.height },
        FPS,
        renderAudio(g.events, TINY, seed, clip),
        16000,
      );
      const qa = g.questions.flatMap((q) => ["--question", q.text, "--answer", q.answer]);
      const r = await run("import", "--video", at("synthetic.mkv"), "--out", at("synthetic"), "--like", like, ...qa);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/video exact; audio from its track, exact/);
      const ds = loadAvDataset(at("synthetic"));
      // 8-bit RGB quantises each value to the nearest 1/255; the codec itself is lossless
      expectClose(ds.tensors.video, g.video, { atol: 0.5 / 255 + 1e-6, rtol: 0 }, "video");
      // 16-bit PCM adds noise 2^-16 below full scale, against the clips' own noise floor of 0.01
      expectClose(ds.tensors.spectrogram, g.spectrogram, { atol: 0.02, rtol: 0 }, "log-mel");
      const ref = loadAvDataset(like);
      const L = ref.index.text.length;
      const q0 = ref.tensors.question_clip.indexOf(clip);
      const n = g.questions.length;
      expect(ds.index.questions).toBe(n);
      expect(ds.tensors.text).toEqual(ref.tensors.text.subarray(q0 * L, (q0 + n) * L));
      expect(ds.tensors.loss_mask).toEqual(ref.tensors.loss_mask.subarray(q0 * L, (q0 + n) * L));
      for (const t of ["question_type", "answer", "prompt_length"] as const)
        expect(ds.tensors[t]).toEqual(ref.tensors[t].subarray(q0, q0 + n));
      expect(ds.index.questionTypes).toEqual(ref.index.questionTypes);
      // what a checkpoint trained on the --like set needs to read the clip as it read its own
      expect(ds.index.text.vocab).toEqual(ref.index.text.vocab);
      expect(ds.index.audio.stats).toEqual(ref.index.audio.stats);
      expect(ds.index.audio.mel).toEqual(ref.index.audio.mel);
      expect(ds.index.splits.test).toEqual({ clips: [0, 1], questions: [0, n] });
      expect(loadEvents<ImportRecord>(at("synthetic"), ds.index)[0].imported.like).toBe(like);
    },
  );

  test("without --like, the statistics are those of the synthetic set's training clips at the same sizes", () => {
    // 80 clips: the first 64 are the training split, the clips the layout measures (seed 0)
    synthesize({ out: at("stats"), clips: 80, seed: 0, config: TINY });
    const want = loadAvDataset(at("stats")).index.audio.stats;
    const got = syntheticLayout().stats;
    expect(got.mean).toBeCloseTo(want.mean, 10);
    expect(got.std).toBeCloseTo(want.std, 10);
    expect(layoutLike(at("stats")).stats).toEqual(want);
  });
});

describe("what goes wrong", () => {
  test("a clip without an audio track gets silence and a one-line warning", async () => {
    ffmpeg(
      "-f",
      "lavfi",
      "-i",
      "testsrc=size=32x32:rate=8:duration=1",
      "-c:v",
      "libx264",
      "-pix_fmt",
      "yuv420p",
      at("mute.mp4"),
    );
    const r = await run("import", "--video", at("mute.mp4"), "--out", at("mute"));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(
      /^mira: warning: .*mute\.mp4 has no audio track; the clip's audio is silence \(give one with --audio FILE\)\n$/,
    );
    expect(r.out).toMatch(/video exact; no audio: silence/);
    expect(loadAvDataset(at("mute")).tensors.spectrogram.every((x) => x === Math.fround(SILENCE))).toBe(true);
  });

  test(
    "an unreadable file ends in one line and exit 2, through the real command line; " +
      "so do a missing one and a sound file",
    async () => {
      writeFileSync(at("notes.mp4"), "these are notes, not a video\n");
      const bad = spawnSync(
        process.execPath,
        [join(root, "bin", "mira.js"), "data", "import", "--video", at("notes.mp4"), "--out", at("notes")],
        { cwd: root, encoding: "utf8" },
      );
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(
        /^mira: cannot read .*notes\.mp4 as video or audio: Invalid data found when processing input\n$/,
      );
      /** How the command line would end for `mira data ARGS`: its one line and exit code. */
      const failure = async (...args: string[]) => describeFailure(await run(...args).catch((e: unknown) => e), false);
      expect(await failure("import", "--video", at("nothing.webm"), "--out", at("nothing"))).toEqual({
        code: 2,
        text: `mira: cannot read ${at("nothing.webm")} as video or audio: No such file or directory`,
      });
      ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=0.5", at("tone.wav"));
      expect(await failure("import", "--video", at("tone.wav"), "--out", at("wav"))).toEqual({
        code: 2,
        text: `mira: ${at("tone.wav")} has no video stream (wav, audio only); give a video file with --video`,
      });
      expect(await failure("import", "--video", at("mute.mp4"), "--audio", at("mute.mp4"), "--out", at("wav"))).toEqual(
        {
          code: 2,
          text: `mira: ${at("mute.mp4")} has no audio stream; give an audio or video file with sound to --audio`,
        },
      );
    },
  );

  test("without ffmpeg: one line naming 'npm run setup', exit 3", async () => {
    const tools = { ffmpeg: "/nonexistent/ffmpeg", ffprobe: "/nonexistent/ffprobe" };
    const e = await importClip({ video: at("mute.mp4"), out: at("no-tools"), layout: syntheticLayout(), tools }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(MissingToolError);
    const { text, code } = describeFailure(e, false);
    expect(code).toBe(3);
    expect(text).toMatch(
      new RegExp(
        /^mira: \/nonexistent\/ffprobe is not installed \(reading video and audio needs ffmpeg and /.source +
          /ffprobe\); run 'npm run setup'/.source,
      ),
    );
    expect(text).not.toContain("\n");
  });

  test("bad flags and questions say what to type", async () => {
    const v = ["import", "--video", at("mute.mp4")];
    await expect(run("import", "--out", at("x"))).rejects.toThrow(/--video FILE and --out DIR are required/);
    await expect(run(...v, "--out", at("x"), "--question", "how many beeps ?")).rejects.toThrow(UsageError);
    await expect(run(...v, "--out", at("x"), "--question", "how many beeps ?")).rejects.toThrow(
      /every --question needs its --answer \(got 1 questions and 0 answers\)/,
    );
    await expect(run(...v, "--out", at("x"), "--question", "how many whistles ?", "--answer", "two")).rejects.toThrow(
      /question 1 \('how many whistles \?' → 'two'\): 'whistles' is not in the vocabulary/,
    );
    await expect(
      run(...v, "--out", at("x"), "--question", "how many beeps ?", "--answer", "two three"),
    ).rejects.toThrow(DataError);
    await expect(run(...v, "--out", at("x"), "--frames", "3")).rejects.toThrow(
      /chunks × frames must be a multiple of 4.*usage: mira data import/,
    );
    await expect(run(...v, "--out", at("x"), "--like", at("stats"), "--size", "32")).rejects.toThrow(
      /--size 32 disagrees with --like .*stats, whose frames are 16×16; drop --size/,
    );
    await expect(run(...v, "--out", at("stats"), "--like", at("stats"))).rejects.toThrow(/is the --like set itself/);
    await expect(run("import", "extra.mp4", "--video", at("mute.mp4"), "--out", at("x"))).rejects.toThrow(
      /takes its files as --video and --audio/,
    );
  });

  test("a question outside every template is typed 'other'", async () => {
    const r = await run(
      "import",
      "--video",
      at("mute.mp4"),
      "--out",
      at("other-q"),
      "--question",
      "what colour is the shape ?",
      "--answer",
      "red",
      "--question",
      "how many beeps ?",
      "--answer",
      "zero",
    );
    expect(r.code).toBe(0);
    const ds = loadAvDataset(at("other-q"));
    expect(ds.index.questionTypes.map((t) => t.name)).toEqual([...QUESTION_TYPE_NAMES, "other"]);
    expect([...ds.tensors.question_type]).toEqual([
      QUESTION_TYPE_NAMES.length,
      QUESTION_TYPE_NAMES.indexOf("count_beeps"),
    ]);
    expect(ds.index.counts.other.test).toBe(1);
  });
});
