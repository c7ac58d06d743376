// End to end: a tiny Mirasol with the TTM combiner, trained for a few steps on a synthetic set, answers a
// question about a clip through `mira generate --stream` — chunk by chunk through the derived streaming
// encoder, a line per chunk before the answer — the same answer the whole-clip answerer gives.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { AvAnswerer } from "../../apps/mirasol/ask.js";
import { parse } from "../../cli/args.js";
import { STREAM_USAGE, streamCommand } from "../../cli/commands/generate-stream.js";
import { synthesize } from "../../datasets/av-build.js";
import { TINY } from "../../datasets/synth-av.js";
import { requireFfmpeg, writeTestPatternMp4 } from "../helpers/media.js";
import { trainTinyMirasol } from "../helpers/mirasol.js";

const root = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "mira-generate-stream-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mira = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, "bin", "mira.js"), ...args], { cwd: root, encoding: "utf8" });

test("mira generate --stream: a line per chunk, then the whole-clip answer", async () => {
  const data = join(dir, "data");
  synthesize({ out: data, clips: 24, seed: 5, config: TINY });
  const r = await trainTinyMirasol({
    set: ["combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)"],
    data,
    steps: 4,
    runsDir: dir,
    run: "stream",
    logEvery: 2,
    evalBatches: 1,
  });
  const answerer = await AvAnswerer.open(r.checkpoint);
  let question: string;
  let want: string;
  try {
    question = answerer.questionsOf(3)[0].question;
    want = (await answerer.answer(3, question)).answer;
  } finally {
    answerer.destroy();
  }

  const g = mira("generate", "--checkpoint", r.checkpoint, "--stream", "--clip", "3", "--question", question, "--json");
  expect(g.status, g.stderr).toBe(0);
  const lines = g.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.slice(0, -1).map((l) => [l.chunk, l.of])).toEqual([
    [0, 2],
    [1, 2],
  ]); // tiny: 2 chunks
  const last = lines.at(-1)!;
  expect(last.question).toBe(question);
  expect(last.answer).toBe(want);
  expect(last.flopsPerChunk).toBeGreaterThan(0);

  const text = mira("generate", "--checkpoint", r.checkpoint, "--stream", "--clip", "3", "--question", question);
  expect(text.status, text.stderr).toBe(0);
  expect(text.stdout).toMatch(
    new RegExp(
      /^chunk 1\/2 encoded \(\d+\.\d ms\)\nchunk 2\/2 encoded \(\d+\.\d ms\)\n.* → .+\n\(.*FLOP /.source +
        /per chunk, the same for every chunk; answered in \d+ ms\)\n$/.source,
    ),
  );

  // A real file: imported with the training set's layout, then streamed; the same answer as the whole
  // imported clip gives.
  requireFfmpeg();
  const clip = join(dir, "clip.mp4");
  writeTestPatternMp4(clip, "96x64", 30, 2);
  const imported = join(dir, "imported");
  const im = mira("data", "import", "--video", clip, "--out", imported, "--like", data);
  expect(im.status, im.stderr).toBe(0);
  const whole = await AvAnswerer.open(r.checkpoint, imported);
  let wantVideo: string;
  try {
    wantVideo = (await whole.answer(0, question)).answer;
  } finally {
    whole.destroy();
  }
  const v = mira(
    "generate",
    "--checkpoint",
    r.checkpoint,
    "--stream",
    "--video",
    clip,
    "--question",
    question,
    "--json",
  );
  expect(v.status, v.stderr).toBe(0);
  const vl = v.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(vl.length).toBe(3);
  expect(vl.at(-1)!.answer).toBe(wantVideo);
}, 900_000);

test("--stream needs --question and a clip or a video", async () => {
  const options = {
    checkpoint: { type: "string" },
    stream: { type: "boolean" },
    video: { type: "string" },
    question: { type: "string" },
    clip: { type: "string" },
    data: { type: "string" },
    prompt: { type: "string" },
  } as const;
  const p = (...args: string[]) => parse(args, options, STREAM_USAGE);
  await expect(streamCommand(p("--stream", "--clip", "0"), "c")).rejects.toThrow(
    /--question "…" is required with --stream/,
  );
  await expect(streamCommand(p("--stream", "--question", "q"), "c")).rejects.toThrow(
    /--stream needs --clip ID or --video FILE/,
  );
  await expect(streamCommand(p("--stream", "--video", "v.mp4", "--clip", "0", "--question", "q"), "c")).rejects.toThrow(
    /do not go with --video/,
  );
  await expect(streamCommand(p("--stream", "--prompt", "hi", "--question", "q"), "c")).rejects.toThrow(
    /--prompt is for text models/,
  );
});

test("mira compile --step stream --emit report: one chunk's FLOPs, the same for every chunk, " +
  "beside the whole clip's", () => {
  const r = mira(
    "compile",
    "models/mirasol.mira",
    "--preset",
    "tiny",
    "--set",
    "combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)",
    "--step",
    "stream",
    "--max-chunks",
    "4",
    "--emit",
    "report",
  );
  expect(r.status, r.stderr).toBe(0);
  const m = new RegExp(
    /streaming encoder: one chunk per run .*caches of 4 chunks\n.*\n {2}FLOPs {8}([\d.]+) MFLOP /.source +
      /per chunk, for every chunk t \(whole-clip encoding, by chunk count: 2: ([\d.]+) M, 3: /.source +
      /([\d.]+) M, 4: ([\d.]+) M\)/.source,
  ).exec(r.stdout);
  expect(m, r.stdout).not.toBeNull();
  const [perChunk, w2, w3, w4] = m!.slice(1).map(Number);
  expect(Math.abs(perChunk - (w4 - w3)) / perChunk).toBeLessThan(0.03);
  expect(Math.abs(perChunk - (w3 - w2)) / perChunk).toBeLessThan(0.03);
  const bad = mira("compile", "models/mirasol.mira", "--preset", "tiny", "--step", "stream", "--emit", "wgsl");
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toMatch(/--step stream goes with --emit report, got --emit wgsl/);
}, 300_000);
