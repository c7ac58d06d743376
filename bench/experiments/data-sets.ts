// data-sets.ts (experiments): the synthetic sets the training experiments use, made once per (clips,
// seed, chunks) under .mira-cache/experiments/data and reused while their index matches; frames per
// chunk and everything else are `mira data synth`'s defaults (the tiny preset's sizes).
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { cacheRoot } from "../../runtime/autotune-cache.js";
import { synthesize } from "../../runtime/data/av-build.js";
import { INDEX_FILE, readIndex } from "../../runtime/data/av-format.js";
import { TINY } from "../../runtime/data/synth-av.js";

export interface DataSet {
  readonly dir: string;
  readonly chunks: number;
  /** the equivalent command line */
  readonly command: string;
}

export const experimentsDir = (): string => join(cacheRoot(), "experiments");

/** `path` as typed from the repository's root (where `npm run experiments` runs). */
export const shown = (path: string): string => relative(process.cwd(), path) || ".";

export function synthSet(clips: number, seed: number, chunks: number): DataSet {
  const dir = join(experimentsDir(), "data", `clips${clips}-seed${seed}-chunks${chunks}`);
  const config = { ...TINY, chunks };
  const command = `npx mira data synth --out ${shown(dir)} --clips ${clips} --seed ${seed} --chunks ${chunks}`;
  if (existsSync(join(dir, INDEX_FILE))) {
    const index = readIndex(dir);
    const g = index.generator;
    if (JSON.stringify(g.config) === JSON.stringify(config) && g.seed === seed && index.clips === clips) return { dir, chunks, command };
  }
  synthesize({ out: dir, clips, seed, config });
  return { dir, chunks, command };
}

/** Whether two sets ask the same questions of the same clips with the same answers (the same seed and
 *  clip count make the same stories, rendered over however many chunks each set has). */
export function sameQuestions(a: DataSet, b: DataSet): boolean {
  const [x, y] = [readIndex(a.dir).tensors, readIndex(b.dir).tensors];
  return (["text", "answer", "question_clip"] as const).every((k) => x[k].bytes === y[k].bytes && x[k].crc32 === y[k].crc32);
}
