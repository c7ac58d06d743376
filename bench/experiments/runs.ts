// runs.ts (experiments): one training run of tiny Mirasol through the library — `mira train` then
// `mira eval` on the test split — with its equivalent command lines, seed, cost and wall time. Runs are
// kept per (overrides, seed) for the life of the process, so experiments that share a configuration
// (E3's base is E2's Transformer; E4 evaluates E2's checkpoints) train it once; and on disk (run.json
// beside the checkpoint), reused by a later suite run while the sizes, the data and the source it runs
// (RUN_SOURCES: models/ and every layer of code from dsl/ to cli/) are the same.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { evaluate } from "../../apps/mirasol/eval.js";
import type { TypeAccuracy } from "../../apps/mirasol/av.js";
import { type AvTrainResult, train } from "../../apps/mirasol/train-av.js";
import { parseTypeStages } from "../../apps/mirasol/av.js";
import { writeFileAtomic } from "../../runtime/checkpoint.js";
import { type DataSet, dataFingerprint, experimentsDir, shown } from "./data-sets.js";
import { AV_LAYOUT_SET } from "../../apps/mirasol/av-recipe.js";

export const MODEL = "models/mirasol.mira";
export const PRESET = "tiny";

export interface RunSpec {
  /** how tables name it */
  readonly label: string;
  /** --set overrides on top of the tiny preset */
  readonly set: readonly string[];
}

export interface Run {
  readonly spec: RunSpec;
  readonly seed: number;
  readonly commands: readonly string[];
  /** why training ended early, when it did */
  readonly stopped?: string;
  readonly params: number;
  readonly flopsPerStep: number;
  readonly stepMs: number;
  /** training and evaluation, wall clock */
  readonly seconds: number;
  readonly lastLoss?: number;
  /** validation loss (the objective) at every evaluation, from the run's metrics */
  readonly valCurve: readonly (readonly [step: number, loss: number])[];
  /** exact match on the test split, per question type, beside chance */
  readonly accuracy: readonly TypeAccuracy[];
  readonly checkpoint: string;
}

export interface Evaluation {
  readonly accuracy: readonly TypeAccuracy[];
  readonly command: string;
  readonly seconds: number;
}

/** A shell word: bare when safe, else single-quoted. */
export const quote = (s: string): string => (/^[\w./=:,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

const setFlags = (set: readonly string[]): string => set.map((s) => ` --set ${quote(s)}`).join("");

/** A result kept at `path` as { key, [field]: value }: the value when its key is `key`, else undefined. */
function readKept<T>(path: string, key: string, field: string): T | undefined {
  if (!existsSync(path)) return undefined;
  const kept = JSON.parse(readFileSync(path, "utf8")) as { key: string } & Record<string, T>;
  return kept.key === key ? kept[field] : undefined;
}

function keep(path: string, key: string, field: string, value: unknown): void {
  writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify({ key, [field]: value }, null, 1)}\n`));
}

/** The folders whose files a training or evaluation run executes or reads: the model and its std library,
 *  and every layer of code from the language to the app's training loop. */
export const RUN_SOURCES = ["models", "base", "datasets", "dsl", "compiler", "runtime", "api", "apps", "cli"] as const;

const REPO = join(import.meta.dirname, "..", "..");

/** The content of every file under `folders` (below `root`), hashed with its path: a run kept under one
 *  hash is not reused once any of that source differs. Contents, not mtimes, so a checkout or a rebase
 *  that leaves a file's text alone keeps its runs. */
export function sourceHash(root = REPO, folders: readonly string[] = RUN_SOURCES): string {
  const h = createHash("sha256");
  const walk = (rel: string): void => {
    for (const f of readdirSync(join(root, rel)).sort()) {
      if (f.startsWith(".") || f === "node_modules") continue;
      const p = `${rel}/${f}`;
      if (statSync(join(root, p)).isDirectory()) walk(p);
      else {
        const content = readFileSync(join(root, p));
        // lengths make the byte stream unambiguous: no two file lists hash alike by shifting bytes
        h.update(`${p}\0${content.length}\0`).update(content);
      }
    }
  };
  for (const folder of folders) if (existsSync(join(root, folder))) walk(folder);
  return h.digest("hex");
}

function valCurve(metricsPath: string): [number, number][] {
  return readFileSync(metricsPath, "utf8")
    .trim()
    .split("\n")
    .flatMap((line) => {
      const m = JSON.parse(line) as { step: number; val_loss?: number };
      return m.val_loss === undefined ? [] : [[m.step, m.val_loss] as [number, number]];
    });
}

/** Sizes of the training experiments (E2–E4): every run is the tiny preset with AV_LAYOUT_SET on one
 *  synthetic set of AV_LAYOUT, trained through a curriculum over question types (apps/mirasol/av-recipe.ts). */
export interface SuiteSizes {
  /** clips per synthetic set (80 % train, 10 % validation, 10 % test) */
  readonly clips: number;
  readonly dataSeed: number;
  readonly steps: number;
  readonly batch: number;
  readonly lr: number;
  /** training seeds (initialisation and batch order), the same for every configuration */
  readonly seeds: readonly number[];
  /** E3 trains the first this many of `seeds` (its five configurations besides the base cost as much
   *  as E2's five Combiners, so all three seeds of both would not fit the suite's time) */
  readonly e3Seeds: number;
  /** validation loss every this many steps (on 8 batches) */
  readonly evalEvery: number;
  /** `mira train --types`: the question types' curriculum */
  readonly types: string;
}

export class Runner {
  private readonly done = new Map<string, Promise<Run>>();
  /** runs taken from disk rather than trained */
  reused = 0;
  /** the source a run of this process executes (RUN_SOURCES), hashed once: the code is loaded at start */
  private readonly source = sourceHash();
  constructor(
    readonly sizes: SuiteSizes,
    readonly data: DataSet,
    private readonly log: (line: string) => void,
  ) {}

  /** Training runs started so far (trained or reused). */
  get count(): number {
    return this.done.size;
  }

  /** Trains `spec` with `seed` (once per process) and evaluates it on the test split. */
  run(spec: RunSpec, seed: number): Promise<Run> {
    const key = JSON.stringify([spec.set, seed]);
    let r = this.done.get(key);
    if (!r) this.done.set(key, (r = this.trainAndEvaluate(spec, seed)));
    return r;
  }

  /** A trained run's checkpoint on another set, with `set` overriding sizes (e.g. chunks=8). */
  async evaluateOn(run: Run, data: DataSet, set: readonly string[]): Promise<Evaluation> {
    // kept beside the checkpoint and reused while the checkpoint, the data and the source are the same
    const saved = join(
      dirname(run.checkpoint),
      `eval-${createHash("sha256")
        .update(JSON.stringify([data.dir, set]))
        .digest("hex")
        .slice(0, 10)}.json`,
    );
    const { mtimeMs, size } = statSync(run.checkpoint);
    const key = JSON.stringify({ checkpoint: [mtimeMs, size], data: dataFingerprint(data), set, source: this.source });
    const earlier = readKept<Evaluation>(saved, key, "evaluation");
    if (earlier) return earlier;
    const started = performance.now();
    const r = await evaluate({ checkpoint: run.checkpoint, data: data.dir, split: "test", set });
    const evaluation = {
      accuracy: r.accuracy,
      command:
        `npx mira eval --checkpoint ${shown(run.checkpoint)} --data ${shown(data.dir)}` +
        `${setFlags(set)} --split test`,
      seconds: (performance.now() - started) / 1000,
    };
    keep(saved, key, "evaluation", evaluation);
    return evaluation;
  }

  private async trainAndEvaluate(spec: RunSpec, seed: number): Promise<Run> {
    const s = this.sizes;
    const set = [...AV_LAYOUT_SET, ...spec.set];
    const name = `${createHash("sha256").update(JSON.stringify(spec.set)).digest("hex").slice(0, 10)}-seed${seed}`;
    const runsDir = join(experimentsDir(), "runs", `clips${s.clips}-steps${s.steps}-batch${s.batch}`);
    const saved = join(runsDir, name, "run.json");
    const key = JSON.stringify({
      sizes: { ...s, seeds: undefined },
      set,
      seed,
      data: dataFingerprint(this.data),
      source: this.source,
    });
    const earlier = readKept<Run>(saved, key, "run");
    if (earlier && existsSync(earlier.checkpoint)) {
      this.reused++;
      this.log(`  ${spec.label}, seed ${seed}: reused (${shown(saved)})`);
      return { ...earlier, spec };
    }
    rmSync(join(runsDir, name), { recursive: true, force: true });
    const started = performance.now();
    const r = (await train({
      model: MODEL,
      preset: PRESET,
      set,
      data: this.data.dir,
      steps: s.steps,
      batch: s.batch,
      lr: s.lr,
      seed,
      run: name,
      runsDir,
      evalEvery: s.evalEvery,
      types: parseTypeStages(s.types),
    })) as AvTrainResult;
    // a diverged run is kept (its last good checkpoint is evaluated) and says so, rather than losing the suite
    const stopped =
      r.stoppedBy === "done"
        ? undefined
        : `${r.stoppedBy} at step ${r.lastStep}${r.message ? `: ${r.message}` : ""}; evaluated at step ` +
          `${r.checkpointStep}`;
    const test = await evaluate({ checkpoint: r.checkpoint, split: "test" });
    const seconds = (performance.now() - started) / 1000;
    const commands = [
      `npx mira train ${MODEL} --data ${shown(this.data.dir)} --preset ${PRESET}${setFlags(set)} --steps ` +
        `${s.steps} --batch ${s.batch} --lr ${s.lr} --types ${quote(s.types)} --seed ${seed} --eval-every ` +
        `${s.evalEvery} --runs-dir ${shown(runsDir)} --run ${name}`,
      `npx mira eval --checkpoint ${shown(r.checkpoint)} --split test`,
    ];
    const run: Run = {
      spec,
      seed,
      commands,
      stopped,
      params: r.params,
      flopsPerStep: r.flopsPerStep,
      stepMs: r.stepMs,
      seconds,
      lastLoss: r.lastLoss,
      valCurve: valCurve(join(r.runDir, "metrics.jsonl")),
      accuracy: test.accuracy,
      checkpoint: r.checkpoint,
    };
    keep(saved, key, "run", run);
    const accuracies = test.accuracy
      .map((a) => `${a.type} ${(100 * a.accuracy).toFixed(1)} (chance ${(100 * a.chance).toFixed(1)})`)
      .join(", ");
    this.log(
      `  ${spec.label}, seed ${seed}${stopped ? ` (STOPPED: ${stopped})` : ""}: ` +
        `${(seconds / 60).toFixed(1)} min, ${r.stepMs.toFixed(0)} ms/step; test ` +
        `${accuracies}`,
    );
    return run;
  }

  /** Every seed of each spec, trained (or taken from an earlier experiment of this process). */
  async runAll(specs: readonly RunSpec[], seeds: readonly number[] = this.sizes.seeds): Promise<Run[][]> {
    const out: Run[][] = [];
    for (const spec of specs) {
      const runs: Run[] = [];
      // a run shared with another experiment is named here as this one names it
      for (const seed of seeds) runs.push({ ...(await this.run(spec, seed)), spec });
      out.push(runs);
    }
    return out;
  }
}
