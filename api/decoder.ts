// decoder.ts (api): next-token decoding of a model's `generate` declaration — by the decoder derived
// from its graph (prefill + cached steps, compiler/decode.ts) or, with `cache: false`, by recomputing
// the whole forward pass per token. Both give a runtime TokenDecoder, so generation, tests and
// benchmarks drive either the same way.
import { DecodeError, type ElabAt, deriveDecoder } from "../compiler/decode.js";
import type { CompileOptions } from "../compiler/program.js";
import { formatDiagnostics } from "../dsl/diagnostics.js";
import { IncrementalDecoder, type TokenDecoder, type WeightLoader } from "../runtime/decode.js";
import type { Gpu } from "../runtime/device.js";
import { RecomputeDecoder } from "../runtime/recompute.js";
import { type LoadedModel, ModelError } from "./model.js";

export interface DecoderOptions {
  /** positions held: prompt and generated tokens together */
  readonly maxLen: number;
  /** sizes of the other batch dims of the inputs (default: every one 1) */
  readonly dims?: Readonly<Record<string, number>>;
  /** the derived KV-cache decoder (default), or full recomputation per token */
  readonly cache?: boolean;
  /** the derived prefill reads each row's prompt length, so one program serves shorter prompts padded
   *  at the end (always so with more than one batch row) */
  readonly lengths?: boolean;
  /** writes the named weights into an executor */
  readonly load: WeightLoader;
  readonly compile?: CompileOptions;
}

/** The name of the generated input's sequence dim (its second), e.g. T of `tokens: i32[B, T]`. */
export function sequenceDim(model: LoadedModel): string {
  const stmts = model.checked.model?.body.stmts ?? [];
  const gen = stmts.find((s) => s.kind === "generate");
  if (!gen || gen.kind !== "generate") throw new ModelError(`${model.path}: the model has no 'generate' declaration`);
  const dim = generatedInput(model)?.type.dims?.[1];
  if (!dim || dim.kind !== "name")
    throw new ModelError(
      `${model.path}: the generated input '${gen.input.name}' needs a named sequence dim, e.g. i32[B, T]`,
    );
  return dim.name;
}

/** Elaborates the model with its generated input of length T (other batch dims from `dims`, else 1;
 *  the generated input's first dim `batch` when given). */
export function elaborateAt(model: LoadedModel, dims: Readonly<Record<string, number>> = {}): ElabAt {
  const seq = sequenceDim(model);
  const rowsDim = generatedInput(model)?.type.dims?.[0];
  const batchDims = batchDimNames(model).filter((d) => d !== seq);
  return (T, batch) =>
    model.elaborate({
      ...Object.fromEntries(batchDims.map((d) => [d, 1])),
      ...dims,
      [seq]: T,
      ...(batch !== undefined && rowsDim?.kind === "name" ? { [rowsDim.name]: batch } : {}),
    });
}

/** The declaration of the input `generate` names. */
function generatedInput(model: LoadedModel) {
  const stmts = model.checked.model?.body.stmts ?? [];
  const gen = stmts.find((s) => s.kind === "generate");
  const input =
    gen?.kind === "generate" ? stmts.find((s) => s.kind === "input" && s.name.name === gen.input.name) : undefined;
  return input?.kind === "input" ? input : undefined;
}

/** Dims of the model's inputs that are not config values (bound per compilation: B, T, …). */
function batchDimNames(model: LoadedModel): string[] {
  const config = new Set(Object.keys(model.config()));
  const names = new Set<string>();
  for (const s of model.checked.model?.body.stmts ?? [])
    if (s.kind === "input")
      for (const d of s.type.dims ?? []) if (d.kind === "name" && !config.has(d.name)) names.add(d.name);
  return [...names];
}

/** The derived decoder's graphs; a model it cannot be derived for is a ModelError with the diagnostic. */
export function derive(
  model: LoadedModel,
  maxLen: number,
  dims?: Readonly<Record<string, number>>,
  lengths?: boolean,
): ReturnType<typeof deriveDecoder> {
  try {
    return deriveDecoder(elaborateAt(model, dims), { maxLen, sources: model.sources, lengths });
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    const shown = e.diagnostic ? formatDiagnostics([e.diagnostic], model.sources) : e.message;
    throw new ModelError(
      `${shown}\n  (--no-cache generates by recomputing the whole forward pass per token instead)`,
      e.diagnostic ? [e.diagnostic] : [],
    );
  }
}

/** The derived decoder, whose programs also draw tokens on the GPU (prefillSample, stepSample). */
export function openIncremental(
  gpu: Gpu,
  model: LoadedModel,
  o: Omit<DecoderOptions, "cache">,
): Promise<IncrementalDecoder> {
  return IncrementalDecoder.create(gpu, derive(model, o.maxLen, o.dims, o.lengths), o.load, o.compile);
}

export async function openDecoder(gpu: Gpu, model: LoadedModel, o: DecoderOptions): Promise<TokenDecoder> {
  if (o.cache ?? true) return openIncremental(gpu, model, o);
  const el = elaborateAt(model, o.dims)(o.maxLen);
  const gen = el.generate;
  if (!gen) throw new ModelError(`${model.path}: the model has no 'generate' declaration`);
  const out = el.graph.outputs.find((x) => x.name === gen.from);
  const input = el.inputs.find((i) => i.name === gen.input);
  if (!out || !input)
    throw new ModelError(`${model.path}: 'generate ${gen.input} from ${gen.from}' names no such input or output`);
  const shape = el.graph.nodes[out.id].shape;
  const batch = input.shape[0];
  const width = shape.slice(2).reduce((a, b) => a * b, 1);
  return RecomputeDecoder.create(
    gpu,
    {
      graph: el.graph,
      input: gen.input,
      output: gen.from,
      batch,
      length: o.maxLen,
      offset: shape[1] - o.maxLen,
      width,
    },
    o.load,
    o.compile,
  );
}
