// media.ts (tests): media files made at test time by ffmpeg itself — its lavfi generators (testsrc,
// color, sine) or raw frames and samples piped in — so nothing is downloaded. A suite that needs ffmpeg
// never skips itself: without it, it fails at once, naming the fix.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { FFMPEG_FIX } from "../../datasets/media.js";

/** Throws, naming the fix, when ffmpeg or ffprobe is not installed; call it in beforeAll. */
export function requireFfmpeg(): void {
  for (const tool of ["ffmpeg", "ffprobe"]) {
    const r = spawnSync(tool, ["-version"], { encoding: "utf8" });
    if (r.error || r.status !== 0)
      throw new Error(
        `these tests need ffmpeg and ffprobe, and ${tool} cannot be run ` +
          `(${r.error?.message ?? `exit ${r.status}`}): ${FFMPEG_FIX}`,
      );
  }
}

/** Runs ffmpeg quietly, overwriting outputs; throws with ffmpeg's own message when it fails. */
export function ffmpeg(...args: string[]): void {
  const r = spawnSync("ffmpeg", ["-v", "error", "-nostdin", "-y", ...args], { encoding: "utf8" });
  if (r.error || r.status !== 0)
    throw new Error(`ffmpeg ${args.join(" ")} failed: ${r.error?.message ?? r.stderr.trim()}`);
}

/**
 * Writes frames f32 [n, h, w, 3] in [0, 1] at `fps` and mono f32 samples at `rate` to `path`, losslessly
 * for the frames (libx264rgb at qp 0: 8-bit RGB, so the frames are quantised to 1/255 on the way) and as
 * 16-bit PCM for the sound, in Matroska.
 */
export function writeLosslessClip(
  path: string,
  frames: Float32Array,
  size: { width: number; height: number },
  fps: number,
  pcm: Float32Array,
  rate: number,
): void {
  const rgb = Uint8Array.from(frames, (x) => Math.round(Math.min(1, Math.max(0, x)) * 255));
  writeFileSync(`${path}.rgb`, rgb);
  writeFileSync(`${path}.f32`, new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength));
  ffmpeg(
    "-f",
    "rawvideo",
    "-pix_fmt",
    "rgb24",
    "-s",
    `${size.width}x${size.height}`,
    "-r",
    String(fps),
    "-i",
    `${path}.rgb`,
    "-f",
    "f32le",
    "-ar",
    String(rate),
    "-ac",
    "1",
    "-i",
    `${path}.f32`,
    "-c:v",
    "libx264rgb",
    "-qp",
    "0",
    "-c:a",
    "pcm_s16le",
    path,
  );
}

/** An mp4 as a phone or a browser writes one (H.264 and AAC): ffmpeg's moving test pattern of `size`
 *  ("96x64") at `fps`, with a 440 Hz tone, `seconds` long. */
export function writeTestPatternMp4(path: string, size: string, fps: number, seconds: number): void {
  ffmpeg(
    "-f",
    "lavfi",
    "-i",
    `testsrc=size=${size}:rate=${fps}:duration=${seconds}`,
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=440:duration=${seconds}`,
    "-c:v",
    "libx264",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-shortest",
    path,
  );
}
