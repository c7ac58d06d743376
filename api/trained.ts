// trained.ts (api): a checkpoint written by `mira train`, opened with the model it was trained from —
// the model file, preset and overrides its metadata names, refused if the source changed since — and
// its weights written into an executor. Shared by eval, generate and ask.
import type { LoadedModel } from "./model.js";
import { loadModel } from "./model.js";
import { CheckpointError, type TensorInfo, openCheckpoint } from "../runtime/checkpoint.js";
import type { WeightLoader } from "../runtime/decode.js";
import type { Graph } from "../compiler/ir.js";
import type { ParamInfo } from "../compiler/lower.js";
import { compileFor } from "../runtime/autotune-cache.js";
import { getGpu } from "../runtime/device.js";
import { decode } from "../compiler/dtype.js";
import { Executor } from "../runtime/executor.js";

export interface Trained {
  readonly path: string;
  /** the checkpoint's header: each tensor's dtype and shape. Weights are read when loaded, a tensor at a
   *  time, so a checkpoint larger than one read can hold (Mirasol 3b's, over 2 GiB) opens too */
  readonly checkpoint: {
    readonly tensors: ReadonlyMap<string, TensorInfo>;
    readonly metadata: Readonly<Record<string, string>>;
  };
  readonly meta: Readonly<Record<string, string>>;
  readonly model: LoadedModel;
}

/** Opens `path`; `kind` ("av-qa" or "text") is what the caller can use, `use` says what for. */
export function openTrained(path: string, kind: "av-qa" | "text", use: string): Trained {
  const reader = openCheckpoint(path);
  reader.close();
  const checkpoint = { tensors: reader.infos, metadata: reader.metadata };
  const meta = checkpoint.metadata;
  if (!meta.model) throw new CheckpointError(`${path} was not written by 'mira train' (its metadata names no model)`);
  const got = meta.kind ?? "text";
  if (got !== kind) {
    throw new CheckpointError(
      kind === "av-qa"
        ? `${path} was trained on text, not on an audio-video QA set; ` +
            `${use} needs a checkpoint from 'mira train … --data <a mira data synth directory>'`
        : `${path} was trained on an audio-video QA set; ` +
            `${use} needs a text model's checkpoint (for audio-video questions use --data and --clip)`,
    );
  }
  const set = metaJson<string[]>(path, meta, "overrides", "[]");
  if (!Array.isArray(set) || !set.every((x) => typeof x === "string")) {
    throw new CheckpointError(`${path}: its metadata's overrides are not a list of strings`);
  }
  const model = loadModel(meta.model, { preset: meta.preset || undefined, set });
  if (meta.source_sha256 && meta.source_sha256 !== model.sourceHash) {
    throw new CheckpointError(
      `${meta.model} (or a file it imports) changed since ${path} was saved; ` +
        `${use} needs the model it was trained from`,
    );
  }
  return { path, checkpoint, meta, model };
}

/** A JSON value of the checkpoint's metadata; damaged JSON is a damaged checkpoint. */
export function metaJson<T>(path: string, meta: Readonly<Record<string, string>>, key: string, fallback?: string): T {
  try {
    return JSON.parse(meta[key] ?? fallback ?? "") as T;
  } catch {
    throw new CheckpointError(`${path}: its metadata's ${key} is not valid JSON (damaged, or not from 'mira train')`);
  }
}

/** Refuses a checkpoint that lacks one of `params` or stores it in another shape, before any work. */
export function checkWeights(t: Trained, params: readonly ParamInfo[]): void {
  for (const p of params) {
    const stored = t.checkpoint.tensors.get(p.name);
    if (!stored) throw new CheckpointError(`${t.path} has no tensor '${p.name}'; was it saved from another model?`);
    if (stored.shape.join(",") !== p.shape.join(",")) {
      const [got, want] = [stored.shape, p.shape].map((s) => `[${s.join(", ")}]`);
      throw new CheckpointError(`${t.path}: tensor '${p.name}' is ${got} but the model needs ${want}`);
    }
  }
}

/** Writes every parameter of the executor's program from the checkpoint. */
export function loadWeights(ex: Executor, t: Trained): void {
  weightLoader(t)(
    ex,
    ex.program.params.map((p) => p.name),
  );
}

/** Writes the named parameters from the checkpoint (a decoder's programs share most of theirs). */
export function weightLoader(t: Trained): WeightLoader {
  return (ex, names) => {
    const reader = openCheckpoint(t.path);
    try {
      for (const name of names) {
        const stored = reader.infos.get(name);
        if (!stored) throw new CheckpointError(`${t.path} has no tensor '${name}'`);
        const bytes = reader.read(name); // checked against its CRC-32
        const want = ex.program.params.find((p) => p.name === name)?.dtype ?? stored.dtype;
        if (want === stored.dtype) ex.writeBytes(name, bytes);
        else {
          // a model loaded at another precision than it was saved at (`--set precision=f16`): converted
          const n = stored.shape.reduce((a, d) => a * d, 1);
          ex.write(name, decode(stored.dtype, Uint8Array.from(bytes).buffer, n));
        }
      }
    } finally {
      reader.close();
    }
  };
}

/** An executor computing `output` of `graph` on the device, with the checkpoint's weights loaded. */
export async function weightedExecutor(t: Trained, graph: Graph, output: Graph["outputs"][number]): Promise<Executor> {
  const gpu = await getGpu();
  const ex = await Executor.create(gpu, compileFor(gpu, { nodes: graph.nodes, outputs: [output] }));
  try {
    loadWeights(ex, t);
  } catch (e) {
    ex.destroy();
    throw e;
  }
  return ex;
}
