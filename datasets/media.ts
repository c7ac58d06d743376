// media.ts: real video and audio in, through ffmpeg and ffprobe spawned as child processes (no bindings,
// no shell): which streams a file has, one video stream's frames resampled to a frame rate and size as
// raw RGB bytes, one audio stream resampled to a rate and mixed to mono as f32 samples. Both decoders
// count time from the same origin, so frame k and sample k·rate/fps describe the same instant. Knows
// nothing of the data format.
import { spawn } from "node:child_process";
import { DataError } from "./av-format.js";
import { errorOf } from "../base/errors.js";

/** ffmpeg or ffprobe is not installed: the environment lacks something (exit 3, like a missing GPU). */
export class MissingToolError extends errorOf("MissingToolError", "setup") {}

export const FFMPEG_FIX =
  "run 'npm run setup' (on Debian as root it installs Debian's ffmpeg package), " +
  "or install ffmpeg (with ffprobe) from your system's packages";

/** The programs to run; tests point them elsewhere to see what a machine without ffmpeg says. */
export interface MediaTools {
  readonly ffmpeg: string;
  readonly ffprobe: string;
}
export const DEFAULT_TOOLS: MediaTools = { ffmpeg: "ffmpeg", ffprobe: "ffprobe" };

interface ToolRun {
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly code: number | null;
}

function runTool(tool: string, args: readonly string[]): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => {
      if (err.length < 65536) err += d.toString(); // "-v error" keeps it short; a flood is cut, not buffered
    });
    child.on("error", (e: NodeJS.ErrnoException) => {
      reject(
        e.code === "ENOENT"
          ? new MissingToolError(
              `${tool} is not installed (reading video and audio needs ffmpeg and ffprobe); ${FFMPEG_FIX}`,
            )
          : e,
      );
    });
    child.on("close", (code) => resolve({ stdout: Buffer.concat(out), stderr: err, code }));
  });
}

/** ffmpeg's reason in one line: its last message, without the file name it starts with. */
function reasonOf(r: ToolRun, path: string): string {
  const lines = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const last = lines.at(-1) ?? `exit code ${r.code}`;
  return last.startsWith(`${path}: `) ? last.slice(path.length + 2) : last;
}

export interface VideoStream {
  readonly index: number;
  readonly codec: string;
  readonly width: number;
  readonly height: number;
  /** frames a second as the container states it (average), if it does */
  readonly fps: number | undefined;
}

export interface AudioStream {
  readonly index: number;
  readonly codec: string;
  readonly sampleRate: number;
  readonly channels: number;
}

export interface MediaInfo {
  readonly path: string;
  readonly format: string;
  /** seconds, as the container states it (some files do not) */
  readonly duration: number | undefined;
  /** the time both decoders call 0: the container's start, never before 0 (an encoder's delay is not content) */
  readonly origin: number;
  /** the first video stream that is not cover art */
  readonly video: VideoStream | undefined;
  readonly audio: AudioStream | undefined;
}

interface ProbeJson {
  format?: { format_name?: string; duration?: string; start_time?: string };
  streams?: {
    index: number;
    codec_type?: string;
    codec_name?: string;
    width?: number;
    height?: number;
    avg_frame_rate?: string;
    sample_rate?: string;
    channels?: number;
    disposition?: { attached_pic?: number };
  }[];
}

const finite = (s: string | undefined): number | undefined => {
  const x = s === undefined ? NaN : Number(s);
  return Number.isFinite(x) ? x : undefined;
};

function rate(s: string | undefined): number | undefined {
  const [n, d] = (s ?? "").split("/").map(Number);
  return Number.isFinite(n) && Number.isFinite(d) && n > 0 && d > 0 ? n / d : undefined;
}

/** What `path` holds; a DataError in one line when it is missing or not a media file. */
export async function probeMedia(path: string, tools: MediaTools = DEFAULT_TOOLS): Promise<MediaInfo> {
  const r = await runTool(tools.ffprobe, [
    "-v",
    "error",
    "-print_format",
    "json",
    "-show_format",
    "-show_streams",
    path,
  ]);
  if (r.code !== 0) throw new DataError(`cannot read ${path} as video or audio: ${reasonOf(r, path)}`);
  let j: ProbeJson;
  try {
    j = JSON.parse(r.stdout.toString("utf8")) as ProbeJson;
  } catch {
    throw new DataError(`cannot read ${path} as video or audio: ffprobe's description of it is not JSON`);
  }
  const streams = j.streams ?? [];
  // cover art (an mp3's or m4a's picture) is a "video" stream of one frame, not a video
  const v = streams.find((s) => s.codec_type === "video" && !s.disposition?.attached_pic && (s.width ?? 0) > 0);
  const a = streams.find((s) => s.codec_type === "audio");
  return {
    path,
    format: j.format?.format_name ?? "unknown",
    duration: finite(j.format?.duration),
    origin: Math.max(0, finite(j.format?.start_time) ?? 0),
    video: v && {
      index: v.index,
      codec: v.codec_name ?? "unknown",
      width: v.width!,
      height: v.height!,
      fps: rate(v.avg_frame_rate),
    },
    audio: a && {
      index: a.index,
      codec: a.codec_name ?? "unknown",
      sampleRate: Number(a.sample_rate ?? 0),
      channels: a.channels ?? 0,
    },
  };
}

export interface FrameRequest {
  readonly fps: number;
  readonly width: number;
  readonly height: number;
  /** frames to decode at most, counted from the origin */
  readonly frames: number;
}

/**
 * Up to `frames` frames of the file's video as rgb24 bytes [n, height, width, 3]. Frame k is the source
 * frame shown at origin + k/fps (ffmpeg's fps filter: the nearest, repeated or dropped as needed; a
 * stream that starts late repeats its first frame back to the origin). Each frame is centre-cropped to
 * the target's aspect ratio (so a disc stays round) and scaled with area averaging.
 */
export async function decodeFrames(
  info: MediaInfo,
  req: FrameRequest,
  tools: MediaTools = DEFAULT_TOOLS,
): Promise<Uint8Array> {
  if (!info.video) throw new DataError(`${info.path} has no video stream`);
  const { width: W, height: H } = req;
  const filter = [
    `fps=${req.fps}:start_time=${info.origin}`,
    `crop=w='min(iw,ih*${W}/${H})':h='min(ih,iw*${H}/${W})'`,
    `scale=${W}:${H}:flags=area`,
    "format=rgb24",
  ].join(",");
  const r = await runTool(tools.ffmpeg, [
    "-v",
    "error",
    "-nostdin",
    "-i",
    info.path,
    "-map",
    `0:${info.video.index}`,
    "-vf",
    filter,
    "-frames:v",
    String(req.frames),
    "-f",
    "rawvideo",
    "-pix_fmt",
    "rgb24",
    "pipe:1",
  ]);
  if (r.code !== 0) throw new DataError(`cannot decode the video of ${info.path}: ${reasonOf(r, info.path)}`);
  const frame = W * H * 3;
  const n = Math.min(req.frames, Math.floor(r.stdout.byteLength / frame));
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, n * frame);
}

export interface SampleRequest {
  readonly sampleRate: number;
  /** samples to decode at most, counted from the origin */
  readonly samples: number;
}

/**
 * Up to `samples` samples of the file's audio at `sampleRate`, mixed to mono, as f32. Sample 0 is at the
 * origin: a stream that starts late is preceded by silence (aresample's first_pts), so it keeps its
 * place beside the video.
 */
export async function decodeSamples(
  info: MediaInfo,
  req: SampleRequest,
  tools: MediaTools = DEFAULT_TOOLS,
): Promise<Float32Array> {
  if (!info.audio) throw new DataError(`${info.path} has no audio stream`);
  const filter = [
    `aresample=${req.sampleRate}:first_pts=${Math.round(info.origin * req.sampleRate)}`,
    "aformat=sample_fmts=flt:channel_layouts=mono",
    `atrim=end_sample=${req.samples}`,
  ].join(",");
  const r = await runTool(tools.ffmpeg, [
    "-v",
    "error",
    "-nostdin",
    "-i",
    info.path,
    "-map",
    `0:${info.audio.index}`,
    "-af",
    filter,
    "-f",
    "f32le",
    "-c:a",
    "pcm_f32le",
    "pipe:1",
  ]);
  if (r.code !== 0) throw new DataError(`cannot decode the audio of ${info.path}: ${reasonOf(r, info.path)}`);
  // copy into an aligned buffer of its own: the pipe's Buffer may start at an odd offset
  const n = Math.min(req.samples, Math.floor(r.stdout.byteLength / 4));
  const out = new Float32Array(n);
  new Uint8Array(out.buffer).set(r.stdout.subarray(0, n * 4));
  return out;
}
