// generate-stream.ts (cli): `mira generate --checkpoint CKPT --stream (--clip ID [--data DIR] | --video
// FILE [--audio FILE]) --question "…"` over apps/mirasol/stream.ts: the clip fed chunk by chunk through the
// streaming encoder derived from the model, a line per chunk as it is encoded, then the answer. With
// --json, one JSON line per chunk and one for the answer.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trainedLayout } from "../../apps/mirasol/ask-video.js";
import { type StreamedAnswer, streamAnswer } from "../../apps/mirasol/stream.js";
import { importClip } from "../../datasets/av-import.js";
import type { ChunkResult } from "../../runtime/stream.js";
import { type Parsed, flag, int, str } from "../args.js";
import { EXIT, UsageError } from "../errors.js";
import { printWarnings } from "./data-import.js";

export const STREAM_USAGE =
  "mira generate --checkpoint CKPT --stream (--clip ID [--data DIR] | --video FILE [--audio FILE]) " +
  '--question "…" [--max-chunks N] [--json]';

const si = (x: number): string =>
  x >= 1e9 ? `${(x / 1e9).toFixed(2)} G` : x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${x.toFixed(0)} `;

export async function streamCommand(p: Parsed, checkpoint: string): Promise<number> {
  if (str(p, "prompt") !== undefined)
    throw new UsageError(`--stream feeds a clip; --prompt is for text models; usage: ${STREAM_USAGE}`);
  const question = str(p, "question");
  if (question === undefined) throw new UsageError(`--question "…" is required with --stream; usage: ${STREAM_USAGE}`);
  const video = str(p, "video");
  if (video !== undefined && (str(p, "clip") !== undefined || str(p, "data") !== undefined))
    throw new UsageError(`--clip and --data do not go with --video (the video is the clip); usage: ${STREAM_USAGE}`);
  if (video === undefined && str(p, "clip") === undefined)
    throw new UsageError(`--stream needs --clip ID or --video FILE; usage: ${STREAM_USAGE}`);
  const json = flag(p, "json");
  const maxChunks = str(p, "max-chunks") === undefined ? undefined : int(p, "max-chunks", 0);
  const onChunk = (r: ChunkResult, of: number): void => {
    process.stdout.write(
      json
        ? JSON.stringify({ chunk: r.chunk, of, ms: r.ms }) + "\n"
        : `chunk ${r.chunk + 1}/${of} encoded (${r.ms.toFixed(1)} ms)\n`,
    );
  };
  let r: StreamedAnswer;
  if (video !== undefined) {
    const dir = mkdtempSync(join(tmpdir(), "mira-stream-"));
    try {
      const imported = await importClip({ video, audio: str(p, "audio"), out: dir, layout: trainedLayout(checkpoint) });
      if (!json) printWarnings(imported);
      r = await streamAnswer({ checkpoint, data: dir, clip: 0, question, maxChunks, onChunk });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    r = await streamAnswer({ checkpoint, data: str(p, "data"), clip: int(p, "clip", 0), question, maxChunks, onChunk });
  }
  if (json) {
    process.stdout.write(
      JSON.stringify({
        question: r.question,
        answer: r.answer,
        tokens: r.tokens,
        expected: r.expected,
        flopsPerChunk: r.flopsPerChunk,
        answerMs: r.answerMs,
      }) + "\n",
    );
  } else {
    const mark = r.expected === undefined ? "" : r.expected === r.answer ? "   ✓" : `   ✗ (expected ${r.expected})`;
    process.stdout.write(`${r.question} → ${r.answer || "(nothing)"}${mark}\n`);
    process.stdout.write(
      `(${si(r.flopsPerChunk)}FLOP per chunk, the same for every chunk; answered in ${r.answerMs.toFixed(0)} ms)\n`,
    );
  }
  return EXIT.ok;
}
