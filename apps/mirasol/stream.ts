// stream.ts (mirasol): streaming audio-video encoding — a clip fed chunk by chunk through the per-chunk
// program derived from the model (compiler/stream.ts), each chunk's result ready before the next is
// read, then the question answered by the derived text decoder reading what the chunks produced.
// `mira generate --stream` uses it; nothing here is specific to one model: the chunk count is the
// config key `chunks` (by default), and the model is elaborated at the chunk counts it needs.
import { type Stream, StreamError, deriveStream, keptValues } from "../../compiler/stream.js";
import { DEFAULT_LIMITS, type DeviceLimits } from "../../compiler/limits.js";
import { compileGraph } from "../../compiler/program.js";
import { DecodeError } from "../../compiler/decode.js";
import type { Graph } from "../../compiler/ir.js";
import type { Elaborated } from "../../compiler/lower.js";
import type { CompileOptions } from "../../compiler/program.js";
import { type ProgramReport, graphFlops, reportProgram } from "../../compiler/report.js";
import { formatDiagnostics } from "../../dsl/diagnostics.js";
import { type AvDataset, loadAvDataset } from "../../datasets/av-format.js";
import { EOS, WordTokenizer } from "../../datasets/words.js";
import { IncrementalDecoder, type WeightLoader } from "../../runtime/decode.js";
import { type Gpu, getGpu } from "../../runtime/device.js";
import { argmax } from "../../runtime/sampling.js";
import { type ChunkResult, StreamEncoder, chunkOf } from "../../runtime/stream.js";
import { avBatchDims, checkAvModel, writeClip } from "./av.js";
import { elaborateAt } from "../../api/decoder.js";
import { InputError, type LoadedModel, ModelError, configNumber, modelFromSource } from "../../api/model.js";
import { openTrained, weightLoader } from "../../api/trained.js";

export interface StreamModelOptions {
  /** the config key holding the chunk count (default "chunks") */
  readonly chunkKey?: string;
  /** chunks the caches hold (default: the config's max_chunks, else its chunk count) */
  readonly maxChunks?: number;
  /** sizes of the inputs' other batch dims (default 1) */
  readonly dims?: Readonly<Record<string, number>>;
}

/** The model elaborated with C chunks (config `chunkKey` = C) and its generated input of length T. */
export function chunkedModel(
  model: LoadedModel,
  chunkKey = "chunks",
  dims: Readonly<Record<string, number>> = {},
): (C: number, T: number) => Elaborated {
  if (configNumber(model, chunkKey) === undefined)
    throw new ModelError(`${model.path}: streaming needs the chunk count as an int config value '${chunkKey}'`);
  const models = new Map<number, LoadedModel>();
  return (C, T) => {
    let m = models.get(C);
    if (!m) {
      m = modelFromSource(model.source, model.path, { preset: model.preset, set: [...model.set, `${chunkKey}=${C}`] });
      models.set(C, m);
    }
    return elaborateAt(m, dims)(T);
  };
}

/** The derived streaming encoder; a model that cannot stream is a ModelError with the M3008 (or, for
 *  its text decoder, M3007) diagnostic. */
export function deriveModelStream(model: LoadedModel, o: StreamModelOptions = {}): Stream {
  const key = o.chunkKey ?? "chunks";
  const elab = chunkedModel(model, key, o.dims);
  const maxChunks = o.maxChunks ?? configNumber(model, "max_chunks") ?? configNumber(model, key)!;
  try {
    return deriveStream(elab, { maxChunks, sources: model.sources });
  } catch (e) {
    if (!(e instanceof StreamError) && !(e instanceof DecodeError)) throw e;
    const shown = e.diagnostic ? formatDiagnostics([e.diagnostic], model.sources) : e.message;
    throw new ModelError(shown, e.diagnostic ? [e.diagnostic] : []);
  }
}

/** A clip encoded chunk by chunk, then read by the text decoder. */
export class ClipStream {
  /** text decoders by chunk count and length, compiled on first use */
  private readonly decoders = new Map<string, IncrementalDecoder>();

  private constructor(
    readonly stream: Stream,
    readonly encoder: StreamEncoder,
    private readonly gpu: Gpu,
    private readonly load: WeightLoader,
    private readonly compile: CompileOptions,
  ) {}

  static async open(
    gpu: Gpu,
    model: LoadedModel,
    load: WeightLoader,
    o: StreamModelOptions & { compile?: CompileOptions } = {},
  ): Promise<ClipStream> {
    const stream = deriveModelStream(model, o);
    return new ClipStream(stream, await StreamEncoder.create(gpu, stream, load, o.compile), gpu, load, o.compile ?? {});
  }

  /** FLOPs of one chunk's program as compiled (as `mira compile --step stream` reports them): the same
   *  for every chunk, t being an input. */
  get flopsPerChunk(): number {
    return graphFlops(this.encoder.program.graph);
  }

  /** Encodes a whole clip of C chunks (inputs as the model takes them at C chunks), one chunk at a time;
   *  `onChunk` sees each chunk's result before the next chunk is fed. */
  async encode(
    clip: Readonly<Record<string, ArrayLike<number>>>,
    C: number,
    onChunk?: (r: ChunkResult) => void,
  ): Promise<ChunkResult[]> {
    this.encoder.reset();
    const results: ChunkResult[] = [];
    for (let t = 0; t < C; t++) {
      const feeds = Object.fromEntries(this.stream.inputs.map((i) => [i.name, chunkOf(clip[i.name], i, C, t)]));
      const r = await this.encoder.encode(feeds);
      results.push(r);
      onChunk?.(r);
    }
    return results;
  }

  /** Greedy answer to the prompt `ids` (one batch row) from the chunks encoded so far: the text decoder of
   *  the model at that many chunks, prefilled with the prompt, one cached step per token. */
  async answer(ids: readonly number[], maxLen: number, eos: number): Promise<number[]> {
    const C = this.encoder.chunks;
    if (C === 0) throw new InputError("no chunk has been encoded");
    const key = `${C}:${maxLen}`;
    let dec = this.decoders.get(key);
    if (!dec) {
      dec = await IncrementalDecoder.create(this.gpu, this.stream.decoder(C, maxLen), this.load, this.compile);
      this.decoders.set(key, dec);
    }
    const produced: number[] = [];
    let row = await dec.prefill(ids, this.encoder.memory());
    while (ids.length + produced.length < maxLen) {
      const best = argmax(row);
      if (best === eos) break;
      produced.push(best);
      if (ids.length + produced.length >= maxLen) break;
      row = await dec.step([best]);
    }
    return produced;
  }

  destroy(): void {
    for (const d of this.decoders.values()) d.destroy();
    this.encoder.destroy();
  }
}

export interface StreamedAnswer {
  readonly question: string;
  readonly answer: string;
  readonly tokens: readonly number[];
  readonly expected?: string;
  readonly chunks: readonly { readonly chunk: number; readonly ms: number }[];
  readonly flopsPerChunk: number;
  readonly answerMs: number;
}

/** `mira generate --stream`: a clip of an audio-video QA set (by default the one the checkpoint was
 *  trained on) fed chunk by chunk to a trained checkpoint, then the question answered. */
export async function streamAnswer(o: {
  checkpoint: string;
  data?: string;
  clip: number;
  question: string;
  maxChunks?: number;
  onChunk?: (r: ChunkResult, of: number) => void;
}): Promise<StreamedAnswer> {
  const trained = openTrained(o.checkpoint, "av-qa", "streaming a clip");
  const ds: AvDataset = loadAvDataset(o.data ?? trained.meta.data);
  if (!Number.isInteger(o.clip) || o.clip < 0 || o.clip >= ds.index.clips)
    throw new InputError(`--clip must be a clip id from 0 to ${ds.index.clips - 1} in ${ds.dir}; got ${o.clip}`);
  const el = trained.model.elaborate(avBatchDims(ds, 1));
  checkAvModel(el, ds);
  const tokenizer = new WordTokenizer(ds.index.text.vocab);
  let ids: number[];
  try {
    ids = tokenizer.encode(o.question);
  } catch (e) {
    throw new InputError(`the question cannot be read: ${(e as Error).message}`);
  }
  const L = ds.index.text.length;
  if (ids.length === 0) throw new InputError("the question is empty");
  if (ids.length >= L)
    throw new InputError(
      `the question has ${ids.length} words; this data set's rows hold ${L} tokens, question and answer together`,
    );
  const C = configNumber(trained.model, "chunks")!;
  const video = new Float32Array(ds.tensors.video.length / ds.index.clips);
  const spectrogram = new Float32Array(ds.tensors.spectrogram.length / ds.index.clips);
  writeClip(ds, o.clip, video, spectrogram, 0);
  const s = await ClipStream.open(await getGpu(), trained.model, weightLoader(trained), {
    maxChunks: o.maxChunks ?? C,
  });
  try {
    const chunks = await s.encode({ video, spectrogram }, C, (r) => o.onChunk?.(r, C));
    const start = performance.now();
    const tokens = await s.answer(ids, L, el.generate?.until ?? EOS);
    const answerMs = performance.now() - start;
    const question = tokenizer.decode(ids);
    const t = ds.tensors;
    let expected: string | undefined;
    for (let q = 0; q < ds.index.questions; q++) {
      if (t.question_clip[q] !== o.clip) continue;
      if (tokenizer.decode(t.text.subarray(q * L, q * L + t.prompt_length[q])) === question)
        expected = tokenizer.vocab[t.answer[q]];
    }
    return {
      question,
      answer: tokenizer.decode(tokens),
      tokens,
      expected,
      chunks: chunks.map((c) => ({ chunk: c.chunk, ms: c.ms })),
      flopsPerChunk: s.flopsPerChunk,
      answerMs,
    };
  } finally {
    s.destroy();
  }
}

/** `mira compile FILE --emit report --step stream`: the per-chunk program compiled for `target` limits,
 *  else this machine's adapter's (WebGPU's default limits when there is none), beside the whole clip's
 *  encoding at the model's chunk count — one chunk's work is the same for every t, the whole clip's grows with C. */
export async function streamReport(
  model: LoadedModel,
  o: StreamModelOptions = {},
  target?: DeviceLimits,
): Promise<{ report: ProgramReport; maxChunks: number; wholeFlops: readonly { chunks: number; flops: number }[] }> {
  const stream = deriveModelStream(model, o);
  let limits: DeviceLimits = target ?? DEFAULT_LIMITS;
  if (!target) {
    try {
      limits = (await getGpu()).limits;
    } catch {
      // no adapter: WebGPU's default limits
    }
  }
  const program = compileGraph(stream.graph, limits, { updates: stream.updates });
  const elab = chunkedModel(model, o.chunkKey, o.dims);
  const wholeFlops = [2, 3, 4]
    .filter((C) => C <= stream.maxChunks)
    .map((C) => {
      const e = elab(C, 2);
      const kept = keptValues(elab, C, model.sources);
      const byId = new Map(e.graph.nodes.map((n) => [n.id, n]));
      const live = new Set<number>();
      const stack = [...kept];
      while (stack.length) {
        const id = stack.pop()!;
        if (!live.has(id)) live.add(id), stack.push(...byId.get(id)!.inputs);
      }
      const cone: Graph = {
        nodes: e.graph.nodes.filter((n) => live.has(n.id)),
        outputs: kept.map((id, i) => ({ name: `kept.${i}`, id })),
      };
      return { chunks: C, flops: graphFlops(compileGraph(cone, limits).graph) }; // counted as lowered, as the report's
    });
  return { report: reportProgram(program), maxChunks: stream.maxChunks, wholeFlops };
}
