// data-import.ts (cli): `mira data import --video FILE [--audio FILE] --out DIR [--like DIR | sizes]
// [--question "…" --answer "…"]…` over datasets/av-import.ts: one real clip written in the data
// format, with a line saying what was cut, padded or missing.
import { formatBytes } from "../../compiler/limits.js";
import { type ImportRecord, type ImportResult, type QuestionAnswer, importClip } from "../../datasets/av-import.js";
import { DataError } from "../../datasets/av-format.js";
import { type ImportLayout, type ImportSizes, layoutLike, syntheticLayout } from "../../datasets/import-layout.js";
import { type Options, type Parsed, flag, int, str, strs } from "../args.js";
import { EXIT, UsageError } from "../errors.js";

export const IMPORT_USAGE =
  "mira data import --video FILE [--audio FILE] --out DIR [--like DIR | --chunks T --frames F --size PX " +
  '--mels M] [--question "…" --answer WORD]… [--json]';

/** The options `mira data import` adds to `mira data`'s. */
export const IMPORT_OPTIONS: Options = {
  video: { type: "string" },
  audio: { type: "string" },
  like: { type: "string" },
  question: { type: "string", multiple: true },
  answer: { type: "string", multiple: true },
};

const secs = (s: number | null): string => (s === null ? "unknown length" : `${s.toFixed(2)} s`);

/** What happened to the clip, in words: "video cut from 3.00 s; audio from its track, cut". */
export function describeImport(r: ImportRecord): string {
  const v = r.video;
  const video =
    v.fit === "cut"
      ? `video cut from ${secs(v.sourceSeconds)}`
      : v.fit === "padded"
        ? `video padded: ${v.decoded} of ${v.frames} frames decoded, ${v.frames - v.decoded} black`
        : "video exact";
  const a = r.audio;
  const where = a.from === "file" ? `audio from ${r.imported.audio}` : "audio from its track";
  const audio =
    a.fit === "silence"
      ? "no audio: silence"
      : a.fit === "cut"
        ? `${where}, cut`
        : a.fit === "padded"
          ? `${where}, padded with ${((a.samples - a.decoded) / (a.samples / r.seconds)).toFixed(2)} s of silence`
          : `${where}, exact`;
  return `${video}; ${audio}`;
}

/** The layout from --like or the size flags; a mistake in them is a usage error. */
export function layoutFromFlags(p: Parsed, usage: string): ImportLayout {
  const sizes: ImportSizes = {
    chunks: str(p, "chunks") === undefined ? undefined : int(p, "chunks", 0),
    frames: str(p, "frames") === undefined ? undefined : int(p, "frames", 0),
    size: str(p, "size") === undefined ? undefined : int(p, "size", 0),
    mels: str(p, "mels") === undefined ? undefined : int(p, "mels", 0),
  };
  const like = str(p, "like");
  if (like !== undefined) return layoutLike(like, sizes); // its DataErrors are about the set: exit 2 as they are
  try {
    return syntheticLayout(sizes);
  } catch (e) {
    if (e instanceof DataError) throw new UsageError(`${e.message}; usage: ${usage}`);
    throw e;
  }
}

export function printWarnings(r: ImportResult): void {
  for (const w of r.warnings) process.stderr.write(`mira: warning: ${w}\n`);
}

export async function importCommand(p: Parsed): Promise<number> {
  const video = str(p, "video");
  const out = str(p, "out");
  if (!video || !out) throw new UsageError(`--video FILE and --out DIR are required; usage: ${IMPORT_USAGE}`);
  const qs = strs(p, "question");
  const as = strs(p, "answer");
  if (qs.length !== as.length)
    throw new UsageError(
      `every --question needs its --answer (got ${qs.length} questions and ${as.length} answers); usage: ` +
        `${IMPORT_USAGE}`,
    );
  const questions: QuestionAnswer[] = qs.map((question, i) => ({ question, answer: as[i] }));
  const start = performance.now(); // the layout's statistics (without --like) are part of the cost
  const layout = layoutFromFlags(p, IMPORT_USAGE);
  const r = await importClip({ video, audio: str(p, "audio"), out, layout, questions });
  const seconds = (performance.now() - start) / 1000;
  printWarnings(r);
  const i = r.index;
  if (flag(p, "json")) {
    process.stdout.write(
      JSON.stringify(
        { out, questions: i.questions, bytes: r.bytes, seconds, record: r.record, warnings: r.warnings },
        null,
        2,
      ) + "\n",
    );
    return EXIT.ok;
  }
  process.stdout.write(
    `import: ${video} → ${out}: ${i.video.chunks} × ${i.video.framesPerChunk} frames ${i.video.height}×` +
      `${i.video.width} at ${i.video.fps} fps (${r.record.seconds.toFixed(2)} s) and ${i.audio.specFrames} ` +
      `× ${i.audio.mel.mels} log-mel, ` +
      `${i.questions} question${i.questions === 1 ? "" : "s"}, layout of ` +
      `${layout.like ?? "the synthetic set"}; ${describeImport(r.record)}; ${formatBytes(r.bytes)} in ` +
      `${seconds.toFixed(2)} s\n`,
  );
  return EXIT.ok;
}
