// data-sets.ts (experiments): the synthetic sets the training experiments use, made afresh once per suite
// run (≈ 1,000 clips a second, so a few seconds) under .mira-cache/experiments/data — never reused from
// an earlier run, whose generator may have been another; chunks and frames a chunk as the suite's
// layout, everything else `mira data synth`'s defaults (the tiny preset's sizes).
import { join, relative } from "node:path";
import { cacheRoot } from "../../runtime/autotune-cache.js";
import { synthesize } from "../../datasets/av-build.js";
import { readIndex } from "../../datasets/av-format.js";
import { TINY } from "../../datasets/synth-av.js";

export interface DataSet {
  readonly dir: string;
  readonly chunks: number;
  /** the equivalent command line */
  readonly command: string;
}

export const experimentsDir = (): string => join(cacheRoot(), "experiments");

/** `path` as typed from the repository's root (where `npm run experiments` runs). */
export const shown = (path: string): string => relative(process.cwd(), path) || ".";

export function synthSet(clips: number, seed: number, chunks: number, frames: number): DataSet {
  const dir = join(experimentsDir(), "data", `clips${clips}-seed${seed}-chunks${chunks}-frames${frames}`);
  synthesize({ out: dir, clips, seed, config: { ...TINY, chunks, frames } });
  return {
    dir,
    chunks,
    command:
      `npx mira data synth --out ${shown(dir)} --clips ${clips} --seed ${seed} --chunks ${chunks} ` +
      `--frames ${frames}`,
  };
}

/** A fingerprint of a set's contents (every tensor file's CRC-32): runs trained on it are reusable
 *  while it is the same. */
export const dataFingerprint = (d: DataSet): string =>
  JSON.stringify(Object.entries(readIndex(d.dir).tensors).map(([k, t]) => [k, t.bytes, t.crc32]));

/** Whether two sets ask the same questions of the same clips with the same answers (the same seed and
 *  clip count make the same stories, rendered over however many chunks each set has). */
export function sameQuestions(a: DataSet, b: DataSet): boolean {
  const [x, y] = [readIndex(a.dir).tensors, readIndex(b.dir).tensors];
  return (["text", "answer", "question_clip"] as const).every(
    (k) => x[k].bytes === y[k].bytes && x[k].crc32 === y[k].crc32,
  );
}
