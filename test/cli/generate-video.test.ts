// End to end: an mp4 made by ffmpeg at test time is imported with a training set's layout, and a tiny
// Mirasol checkpoint trained for a few steps on that set answers a question about it through
// `mira generate --video` — the same answer AvAnswerer gives on the imported set.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { AvAnswerer } from "../../apps/mirasol/ask.js";
import { parse } from "../../cli/args.js";
import { VIDEO_USAGE, videoAnswerCommand } from "../../cli/commands/generate-video.js";
import { synthesize } from "../../datasets/av-build.js";
import { loadAvDataset } from "../../datasets/av-format.js";
import { TINY } from "../../datasets/synth-av.js";
import { requireFfmpeg, writeTestPatternMp4 } from "../helpers/media.js";
import { trainTinyMirasol } from "../helpers/mirasol.js";

const root = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "mira-generate-video-"));
beforeAll(requireFfmpeg);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mira = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, "bin", "mira.js"), ...args], { cwd: root, encoding: "utf8" });

test("an mp4 made by ffmpeg imports, and a tiny checkpoint answers a question about it with mira generate " +
  "--video", async () => {
  const data = join(dir, "data");
  synthesize({ out: data, clips: 40, seed: 4, config: TINY });
  const r = await trainTinyMirasol({ data, steps: 6, runsDir: dir, run: "video", logEvery: 3, evalBatches: 1 });
  // 2 s of a moving test pattern with a 440 Hz tone: H.264 and AAC, as a phone or a browser would write it
  const clip = join(dir, "clip.mp4");
  writeTestPatternMp4(clip, "96x64", 30, 2);

  const imported = join(dir, "imported");
  const im = mira(
    "data",
    "import",
    "--video",
    clip,
    "--out",
    imported,
    "--like",
    data,
    "--question",
    "what colour is the first shape ?",
    "--answer",
    "red",
  );
  expect(im.status, im.stderr).toBe(0);
  expect(im.stdout).toMatch(
    new RegExp(
      /^import: .*clip\.mp4 → .*imported: 2 × 4 frames 16×16 at 8 fps \(1\.00 s\) and 32 × 32 /.source +
        /log-mel, 1 question, layout of .*data; video cut from 2\.00 s; audio from its track, cut; /.source,
    ),
  );
  const ds = loadAvDataset(imported);
  expect(ds.index.audio.stats).toEqual(loadAvDataset(data).index.audio.stats);

  const question = "what colour is the first shape ?";
  const g = mira("generate", "--checkpoint", r.checkpoint, "--video", clip, "--question", question);
  expect(g.status, g.stderr).toBe(0);
  expect(g.stderr).toBe("");
  const m = new RegExp(
    /^.*clip\.mp4 \(1\.00 s: video cut from 2\.00 s; audio from its track, /.source +
      /cut\):\n {2}what colour is the first shape \? → (.+)\n$/.source,
  ).exec(g.stdout);
  expect(m, g.stdout).not.toBeNull();
  const answerer = await AvAnswerer.open(r.checkpoint, imported);
  try {
    const a = await answerer.answer(0, question);
    expect(a.expected).toBe("red"); // the imported set's own question, with the answer given at import
    // generate's own import has no questions, so it prints the answer alone, without ✓ or ✗
    expect(m![1]).toBe(a.answer || "(nothing)");
    expect(a.answer.split(" ").every((w) => ds.index.text.vocab.includes(w)) || a.answer === "").toBe(true);
  } finally {
    answerer.destroy();
  }
}, 600_000);

test("--video needs --question and takes neither --clip nor --data", async () => {
  const options = {
    checkpoint: { type: "string" },
    video: { type: "string" },
    question: { type: "string" },
    clip: { type: "string" },
    data: { type: "string" },
  } as const;
  const p = (...args: string[]) => parse(args, options, VIDEO_USAGE);
  await expect(videoAnswerCommand(p("--video", "x.mp4"), "c")).rejects.toThrow(
    /--question "…" is required with --video; usage: mira generate --checkpoint CKPT --video FILE/,
  );
  await expect(
    videoAnswerCommand(p("--video", "x.mp4", "--clip", "3", "--question", "how many beeps ?"), "c"),
  ).rejects.toThrow(/--clip does not go with --video/);
});
