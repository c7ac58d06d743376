// resize.ts (mirasol): a trained model evaluated at other sizes — `mira eval --set chunks=8` — for integer
// config overrides that keep every parameter's name and shape (e.g. more chunks than it was trained on,
// up to the chunk positions it learned). Anything else is refused with the key or parameter that would
// change, since the checkpoint's weights would not fit it.
import type { ParamInfo } from "../../compiler/lower.js";
import { InputError, loadModel } from "../../api/model.js";
import type { Trained } from "../../api/trained.js";

/** AdamW's moments are stored beside the parameters as opt.m.NAME and opt.v.NAME (compiler/train-step.ts). */
const isMoment = (name: string): boolean => name.startsWith("opt.");

/** `t` with `set` applied over the overrides it was trained with; only integer config keys may change. */
export function withSizes(t: Trained, set: readonly string[]): Trained {
  if (!set.length) return t;
  const model = loadModel(t.meta.model, { preset: t.meta.preset || undefined, set: [...t.model.set, ...set] });
  for (const raw of set) {
    const key = raw.slice(0, raw.indexOf("=")).trim();
    const type = model.checked.config?.entries.find((e) => e.name === key)?.field.type?.name.name ?? "untyped";
    if (type !== "int")
      throw new InputError(
        `--set ${raw}: only integer sizes can change when evaluating a checkpoint, and '${key}' is ${type}; ` +
          "train a model with it instead",
      );
  }
  return { ...t, model };
}

const fmt = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

/** Throws unless `params` (the resized model's) are exactly the checkpoint's, name for name and shape for shape. */
export function checkSameParams(t: Trained, params: readonly ParamInfo[], set: readonly string[]): void {
  const why = `with --set ${set.join(" --set ")}`;
  const fix =
    "only sizes that keep every parameter's shape (such as chunks, up to max_chunks) can change when evaluating";
  for (const p of params) {
    const stored = t.checkpoint.tensors.get(p.name);
    if (!stored)
      throw new InputError(`${why} the model has a parameter '${p.name}' ${fmt(p.shape)} that ${t.path} lacks; ${fix}`);
    if (fmt(stored.shape) !== fmt(p.shape))
      throw new InputError(
        `${why} parameter '${p.name}' would be ${fmt(p.shape)} but ${t.path} holds ${fmt(stored.shape)}; ${fix}`,
      );
  }
  const names = new Set(params.map((p) => p.name));
  const extra = [...t.checkpoint.tensors.keys()].find((n) => !isMoment(n) && !names.has(n));
  if (extra) throw new InputError(`${why} the model has no parameter '${extra}', which ${t.path} holds; ${fix}`);
}
