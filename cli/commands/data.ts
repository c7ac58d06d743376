// data.ts (cli): `mira data synth --out DIR …` makes the synthetic audio-video QA set (datasets/
// av-build.ts) with a progress bar and a summary; `mira data check DIR` loads a set and verifies it;
// `mira data import` (data-import.ts) writes one real clip in the same format.
import { formatBytes } from "../../compiler/limits.js";
import { InputError } from "../../api/model.js";
import { synthesize } from "../../datasets/av-build.js";
import { type AvIndex, DataError, loadAvDataset } from "../../datasets/av-format.js";
import { TINY } from "../../datasets/synth-av.js";
import { type Options, type Parsed, flag, int, str } from "../args.js";
import { IMPORT_OPTIONS, IMPORT_USAGE, importCommand } from "./data-import.js";
import { EXIT, UsageError } from "../errors.js";
import { ProgressBar, formatDuration } from "../../base/progress.js";

export const DATA_USAGE =
  "mira data synth --out DIR [--clips N] [--frames F] [--chunks T] [--size PX] [--mels M] [--seed S] " +
  `[--json] | mira data check DIR [--json] | ${IMPORT_USAGE}`;

/** The options to give `parse` for this command (cli/mira.ts's table). */
export const DATA_OPTIONS: Options = {
  out: { type: "string" },
  clips: { type: "string" },
  frames: { type: "string" },
  chunks: { type: "string" },
  size: { type: "string" },
  mels: { type: "string" },
  seed: { type: "string" },
  ...IMPORT_OPTIONS,
};

const pct = (x: number | null): string => (x === null ? "-" : `${(100 * x).toFixed(1)}%`);
const n = (x: number): string => x.toLocaleString("en-US");

/** One line per question type: the modalities it needs, its questions, chance on each split. */
export function describeTypes(index: AvIndex): string[] {
  const width = Math.max(...index.questionTypes.map((t) => t.name.length));
  return index.questionTypes.map((t) => {
    const c = index.chance[t.name];
    const k = index.counts[t.name];
    const count = k ? k.train + k.val + k.test : 0;
    return (
      `  ${t.name.padEnd(width)}  ${t.needs.join("+").padEnd(11)}  ${n(count).padStart(7)} questions  ` +
      `chance ${c ? `${pct(c.train)} (val ${pct(c.val)}, test ${pct(c.test)}; always '${c.answer}')` : "-"}`
    );
  });
}

async function synthCommand(p: Parsed): Promise<number> {
  const out = str(p, "out");
  if (!out) throw new UsageError(`--out DIR is required; usage: ${DATA_USAGE}`);
  const json = flag(p, "json");
  const size = int(p, "size", TINY.height);
  const config = {
    ...TINY,
    chunks: int(p, "chunks", TINY.chunks),
    frames: int(p, "frames", TINY.frames),
    height: size,
    width: size,
    mels: int(p, "mels", TINY.mels),
  };
  const clips = int(p, "clips", 2000);
  const seed = int(p, "seed", 0);
  const bar = json ? undefined : new ProgressBar(clips);
  const start = performance.now();
  let r: ReturnType<typeof synthesize>;
  try {
    r = synthesize({
      out,
      clips,
      seed,
      config,
      onProgress: (done, total) => {
        const s = (performance.now() - start) / 1000;
        bar?.update(
          done,
          `${(done / Math.max(s, 1e-3)).toFixed(0)} clips/s · ETA ${formatDuration((s / done) * (total - done))}`,
        );
      },
    });
  } catch (e) {
    bar?.done();
    // a DataError here comes from the flags (sizes that do not fit the clip's layout)
    if (e instanceof DataError) throw new UsageError(`${e.message}; usage: ${DATA_USAGE}`);
    throw e;
  }
  bar?.done();
  const seconds = (performance.now() - start) / 1000;
  const i = r.index;
  if (json) {
    process.stdout.write(
      JSON.stringify(
        {
          out,
          clips: i.clips,
          questions: i.questions,
          bytes: r.bytes,
          seconds,
          splits: i.splits,
          chance: i.chance,
          counts: i.counts,
        },
        null,
        2,
      ) + "\n",
    );
    return EXIT.ok;
  }
  const s = i.splits;
  const span = (x: readonly [number, number]) => x[1] - x[0];
  process.stdout.write(
    [
      `synth: ${n(i.clips)} clips (train ${n(span(s.train.clips))} · val ${n(span(s.val.clips))} · test ` +
        `${n(span(s.test.clips))}) of ${i.video.chunks} × ${i.video.framesPerChunk} frames ` +
        `${i.video.height}×${i.video.width} and ${i.audio.specFrames} × ${i.audio.mel.mels} log-mel, ` +
        `${n(i.questions)} questions, ${formatBytes(r.bytes)} in ${seconds.toFixed(1)} s → ${out}`,
      ...describeTypes(i),
    ].join("\n") + "\n",
  );
  return EXIT.ok;
}

async function checkCommand(p: Parsed): Promise<number> {
  if (p.positionals.length !== 2) throw new UsageError(`expected one data directory; usage: ${DATA_USAGE}`);
  const dir = p.positionals[1];
  let index: AvIndex;
  try {
    index = loadAvDataset(dir).index;
  } catch (e) {
    if (e instanceof DataError) throw new InputError(e.message);
    throw e;
  }
  if (flag(p, "json")) {
    process.stdout.write(
      JSON.stringify({ dir, ok: true, clips: index.clips, questions: index.questions, chance: index.chance }, null, 2) +
        "\n",
    );
  } else {
    process.stdout.write(
      [
        `ok: ${dir}: ${n(index.clips)} clips, ${n(index.questions)} questions, every file's size and ` +
          "CRC-32 as the index says",
        ...describeTypes(index),
      ].join("\n") + "\n",
    );
  }
  return EXIT.ok;
}

export async function dataCommand(p: Parsed): Promise<number> {
  const sub = p.positionals[0];
  if (sub === "synth") {
    if (p.positionals.length !== 1)
      throw new UsageError(
        `'mira data synth' takes no file arguments (got '${p.positionals.slice(1).join(" ")}'); usage: ${DATA_USAGE}`,
      );
    return synthCommand(p);
  }
  if (sub === "check") return checkCommand(p);
  if (sub === "import") {
    if (p.positionals.length !== 1)
      throw new UsageError(
        "'mira data import' takes its files as --video and --audio (got '" +
          `${p.positionals.slice(1).join(" ")}'); usage: ${IMPORT_USAGE}`,
      );
    return importCommand(p);
  }
  throw new UsageError(
    `${sub === undefined ? "expected a subcommand" : `unknown subcommand '${sub}'`}: synth, check or ` +
      `import; usage: ${DATA_USAGE}`,
  );
}
