// export.ts (api): `exportModel(...)` — a .mira model (or a trained checkpoint's) written for another
// engine: `torch` is a directory with a generated PyTorch module, mira's data formats and a torchrun
// training script (compiler/export/torch.ts, compiler/export/python/); `onnx` is the inference graph
// as one ONNX file (compiler/export/onnx.ts). Weights are mira's initialisers at --seed, or the
// parameters of --checkpoint.
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as A from "../dsl/ast.js";
import { ExportError, type ExportSource } from "../compiler/export/source.js";
import { type SymbolicGraph, staticGraph, symbolicGraph } from "../compiler/export/symbolic.js";
import { generateTorch } from "../compiler/export/torch.js";
import { generateOnnx } from "../compiler/export/onnx.js";
import { type Elaborated, initParams } from "../compiler/lower.js";
import { type StoredTensor, CheckpointError, loadCheckpoint, saveCheckpoint } from "../runtime/checkpoint.js";
import { InputError, type LoadedModel, ModelError, loadModel } from "./model.js";

export const EXPORT_FORMATS = ["torch", "onnx"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  /** the .mira file; optional with `checkpoint`, whose metadata names it */
  readonly model?: string;
  readonly preset?: string;
  readonly set?: readonly string[];
  readonly format: ExportFormat;
  /** output directory (created) */
  readonly out: string;
  /** sizes of the batch dims: where the exporter probes the model (the exported code reads the real
   *  sizes from its inputs), and the sizes kept when a dim cannot be symbolic; each dim not given is 4
   *  for torch, 1 for ONNX (a text model's T: its window) */
  readonly batch?: Readonly<Record<string, number>>;
  /** seed of mira's initialisers (default 1, as `mira train`) */
  readonly seed?: number;
  /** a mira checkpoint whose parameters (and model) to export */
  readonly checkpoint?: string;
  /** torch: write mira's initial parameters (init.safetensors); default when they are at most
   *  MAX_INIT_PARAMS — past that train.py draws them itself from the same initialisers */
  readonly init?: boolean;
}

/** 100 M parameters: a 400 MB init.safetensors; Mirasol's 3b preset would be 12 GB. */
export const MAX_INIT_PARAMS = 100_000_000;

export interface ExportResult {
  readonly dir: string;
  readonly files: readonly string[];
  readonly model: string;
  readonly params: number;
  /** batch dims the exported code reads from its inputs */
  readonly dynamic: readonly string[];
  /** batch dims fixed at export, with why when the model allowed no better */
  readonly fixed: Readonly<Record<string, number>>;
  readonly fixedReason?: string;
  /** torch: whether init.safetensors holds mira's initial parameters */
  readonly initWritten?: boolean;
}

const PYTHON_DIR = fileURLToPath(new URL("../compiler/export/python/", import.meta.url));
export const INIT_FILE = "init.safetensors";

/** Batch dims a model's inputs name: whole-name dims that are not config values (lower.ts inputDim). */
export function batchDims(model: LoadedModel): string[] {
  const config = model.config();
  const names: string[] = [];
  for (const s of model.checked.model?.body.stmts ?? []) {
    if (s.kind !== "input") continue;
    for (const d of s.type.dims ?? []) {
      const e = d as A.Expr;
      if (e.kind === "name" && !(e.name in config) && !names.includes(e.name)) names.push(e.name);
    }
  }
  return names;
}

function openModel(o: ExportOptions): {
  model: LoadedModel;
  weights?: ReadonlyMap<string, StoredTensor>;
  meta: Readonly<Record<string, string>>;
} {
  if (!o.checkpoint) {
    if (!o.model) throw new InputError("export needs a .mira file (or --checkpoint CKPT)");
    return { model: loadModel(o.model, { preset: o.preset, set: o.set }), meta: {} };
  }
  const ckpt = loadCheckpoint(o.checkpoint);
  const meta = ckpt.metadata;
  if (!meta.model)
    throw new CheckpointError(`${o.checkpoint} was not written by 'mira train' (its metadata names no model)`);
  const model = loadModel(o.model ?? meta.model, {
    preset: meta.preset || undefined,
    set: JSON.parse(meta.overrides ?? "[]") as string[],
  });
  if (meta.source_sha256 && meta.source_sha256 !== model.sourceHash)
    throw new CheckpointError(
      `${model.path} (or a file it imports) changed since ${o.checkpoint} was saved; ` +
        "export the model it was trained from",
    );
  return { model, weights: ckpt.tensors, meta };
}

/** The sizes kept when the dims cannot be symbolic: the caller's, else 4 for torch, and for ONNX 1
 *  with a text model's T at its window. */
function fixedSizes(
  model: LoadedModel,
  dims: readonly string[],
  o: ExportOptions,
  meta: Readonly<Record<string, string>>,
): Record<string, number> {
  for (const k of Object.keys(o.batch ?? {}))
    if (!dims.includes(k))
      throw new InputError(
        `--batch ${k}: ${model.path} has no batch dim '${k}' (its inputs name ${dims.join(", ") || "none"})`,
      );
  const maxLen = model.config().max_len;
  const window = meta.window ? Number(meta.window) : typeof maxLen === "number" ? Math.min(128, maxLen) : 16;
  return Object.fromEntries(dims.map((d) => [d, o.batch?.[d] ?? (o.format === "torch" ? 4 : d === "T" ? window : 1)]));
}

/** PROBE for every dim: a size that equals no config value of the tiny and small presets, so the
 *  elaborator elides nothing there (at T = max_len a slice of the whole position table is dropped, at
 *  B = 1 some broadcasts are: the structure would change between probes). */
const PROBE = 4;

/** The graph seen symbolically, from the first probe point that fits: the caller's sizes, then PROBE;
 *  when neither does, the graph at the fixed sizes, with the reason. */
function symbolicModel(
  model: LoadedModel,
  dims: readonly string[],
  fixed: Readonly<Record<string, number>>,
  given: boolean,
): { el: Elaborated; sym: SymbolicGraph } {
  const attempt = (base: Readonly<Record<string, number>>): { el: Elaborated; sym: SymbolicGraph } => {
    const el = model.elaborate(base);
    const same = (b: Readonly<Record<string, number>>): boolean => dims.every((d) => b[d] === base[d]);
    return { el, sym: symbolicGraph((b) => (same(b) ? el : model.elaborate(b)).graph, base) };
  };
  const first = attempt(given ? fixed : Object.fromEntries(dims.map((d) => [d, PROBE])));
  if (!first.sym.fixedReason) return first;
  const probe = Object.fromEntries(dims.map((d) => [d, PROBE]));
  if (given) {
    const second = attempt(probe);
    if (!second.sym.fixedReason) return second;
  }
  const el = model.elaborate(fixed);
  return { el, sym: { ...staticGraph(el.graph, fixed), fixedReason: first.sym.fixedReason } };
}

function weightsOf(
  el: Elaborated,
  seed: number,
  stored?: ReadonlyMap<string, StoredTensor>,
): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  const init = stored ? undefined : initParams(el.params, seed);
  for (const p of el.params) {
    if (stored) {
      const t = stored.get(p.name);
      if (!t) throw new CheckpointError(`the checkpoint has no tensor '${p.name}'`);
      out.set(p.name, t);
      continue;
    }
    if (p.dtype !== "f32")
      throw new ModelError(
        `parameter '${p.name}' is ${p.dtype}; export writes mira's initial values for f32 parameters only ` +
          "(export from a checkpoint instead)",
      );
    const v = init!.get(p.name)!;
    out.set(p.name, { dtype: "f32", shape: p.shape, bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
  }
  return out;
}

export function exportModel(o: ExportOptions): ExportResult {
  const { model, weights: stored, meta } = openModel(o);
  const dims = batchDims(model);
  const base = fixedSizes(model, dims, o, meta);
  const { el, sym } = symbolicModel(model, dims, base, o.batch !== undefined && Object.keys(o.batch).length > 0);
  const src: ExportSource = {
    name: model.checked.model?.name.name ?? "Model",
    sym,
    params: el.params,
    inputs: el.inputs,
    outputs: el.outputs,
    losses: el.losses,
    objective: el.objective,
    generate: el.generate,
    origins: el.origins,
    sources: model.sources,
    model: { path: model.path, preset: model.preset, set: model.set, sourceHash: model.sourceHash },
    config: el.config,
  };
  const seed = o.seed ?? 1;
  const writeInit = o.format === "onnx" || (o.init ?? (stored !== undefined || el.paramCount <= MAX_INIT_PARAMS));
  const weights = writeInit ? weightsOf(el, seed, stored) : new Map<string, StoredTensor>();
  mkdirSync(o.out, { recursive: true });
  const files: string[] = [];
  const write = (name: string, data: string | Uint8Array): void => {
    writeFileSync(join(o.out, name), data);
    files.push(name);
  };
  try {
    if (o.format === "torch") {
      const t = generateTorch(src);
      write("model.py", t.code);
      for (const f of readdirSync(PYTHON_DIR)
        .filter((n) => n.endsWith(".py"))
        .sort()) {
        copyFileSync(join(PYTHON_DIR, f), join(o.out, f));
        files.push(f);
      }
      // A new torchrun run starts from these: mira's initial parameters (or the checkpoint's, with its
      // tokenizer and window, so the data is encoded as the checkpoint's model expects).
      if (writeInit) {
        const keep = Object.fromEntries(
          ["tokenizer", "window"].filter((k) => meta[k] !== undefined).map((k) => [k, meta[k]]),
        );
        saveCheckpoint(join(o.out, INIT_FILE), {
          tensors: weights,
          metadata: {
            format: "mira-init-1",
            model: model.path,
            source_sha256: model.sourceHash,
            seed: String(seed),
            ...keep,
          },
        });
        files.push(INIT_FILE);
      } else rmSync(join(o.out, INIT_FILE), { force: true }); // a stale one from an earlier export would be used
      return {
        dir: o.out,
        files,
        model: model.path,
        params: el.paramCount,
        dynamic: t.dynamic,
        fixed: t.fixed,
        fixedReason: sym.fixedReason,
        initWritten: writeInit,
      };
    }
    const onnx = generateOnnx(src, weights);
    write("model.onnx", onnx.bytes);
    const fixed = Object.fromEntries(Object.entries(sym.base).filter(([d]) => !onnx.dynamic.includes(d)));
    return {
      dir: o.out,
      files,
      model: model.path,
      params: el.paramCount,
      dynamic: onnx.dynamic,
      fixed,
      fixedReason: sym.fixedReason,
    };
  } catch (e) {
    if (e instanceof ExportError) throw new ModelError(e.message);
    throw e;
  }
}
