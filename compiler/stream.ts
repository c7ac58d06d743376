// stream.ts: a streaming encoder derived from a model's forward graph — one per-chunk program that
// encodes chunk t of a clip from chunk t's inputs, the K/V caches of earlier chunks and a scan's
// carried state, and a text decoder that reads what the chunks produced — with nothing written by hand.
// The values the stream produces are the ones the derived text decoder keeps (decode/analyze.ts's memo:
// for Mirasol, each cross-attention's K and V over the A/V memory); stream/analyze.ts checks that their
// cone keeps chunks apart (or mixes them only through block-causal attention and a scan over the
// chunks), stream/rewrite.ts builds the per-chunk program. After the last of C chunks, the text decoder
// of the model at C chunks runs with those values as inputs (`stream.memory.i`) instead of the clip.
import type { Sources } from "../dsl/diagnostics.js";
import type { Graph, Node } from "./ir.js";
import type { Elaborated } from "./lower.js";
import { ANALYSIS_LENGTHS, analyze } from "./decode/analyze.js";
import { DecodeError, locator } from "./decode/error.js";
import { type Decoder, deriveDecoder } from "./decode.js";
import { CHUNK_COUNTS, type StreamAnalysis, analyzeChunks } from "./stream/analyze.js";
import { StreamError, streamLocator } from "./stream/error.js";
import { type PerChunk, perChunkGraph } from "./stream/rewrite.js";

export { StreamError } from "./stream/error.js";
export { CHUNK, cacheWrite, rowsName, stateName } from "./stream/rewrite.js";
export type { ChunkInput, PerChunk, StreamBuffer, StreamRows } from "./stream/rewrite.js";

/** The model elaborated with C chunks and the generated input of length T. */
export type ElabAt = (C: number, T: number) => Elaborated;

export interface StreamOptions {
  /** chunks the caches hold */
  readonly maxChunks: number;
  readonly sources?: Sources;
}

export interface Stream extends PerChunk {
  readonly maxChunks: number;
  readonly analysis: StreamAnalysis;
  /** the text decoder of the model at C chunks, reading inputs `stream.memory.i` (row i of every chunk,
   *  joined along the chunk axis) where the model reads the clip */
  decoder(C: number, maxLen: number): Decoder;
}

export const memoryName = (i: number): string => `stream.memory.${i}`;

/** The values the text decoder keeps at C chunks (ids shared by the model at T = 2, 3, 4). */
export function keptValues(elab: ElabAt, C: number, sources?: Sources): readonly number[] {
  const es = ANALYSIS_LENGTHS.map((T) => elab(C, T)) as [Elaborated, Elaborated, Elaborated];
  return analyze(es, locator(es[0].origins, sources)).memo;
}

export function deriveStream(elab: ElabAt, opts: StreamOptions): Stream {
  if (!Number.isInteger(opts.maxChunks) || opts.maxChunks < 1)
    throw new StreamError(`the maximum chunk count must be a whole number ≥ 1, got ${opts.maxChunks}`);
  const T = ANALYSIS_LENGTHS[0];
  const es = CHUNK_COUNTS.map((C) => elab(C, T)) as [Elaborated, Elaborated, Elaborated];
  const kept = CHUNK_COUNTS.map((C) => keptValues(elab, C, opts.sources));
  if (kept[0].length === 0)
    throw new StreamError("the text decoder reads nothing of the clip, so there is nothing to stream");
  if (kept.some((k) => k.length !== kept[0].length))
    throw new StreamError("the values the text decoder reads change with the chunk count");
  const an = analyzeChunks(es, kept, streamLocator(es[0].origins, opts.sources));
  // A table sliced to the chunk count (learned chunk positions) must hold every chunk the caches do.
  for (const id of an.sources) {
    const n = an.byId.get(id)!;
    if (n.op !== "slice") continue;
    const a = an.axes.get(id)!;
    const rows = an.byId.get(n.inputs[0])!.shape[a.axis];
    const need = (n.attrs.starts?.[a.axis] ?? 0) + opts.maxChunks * a.k;
    if (rows < need)
      throw streamLocator(es[0].origins, opts.sources).error(
        n,
        `reads ${need} rows of a table of ${rows}: ` +
          `caches of ${opts.maxChunks} chunks exceed the model's chunk positions`,
      );
  }
  const per = perChunkGraph(an, opts.maxChunks);
  const decoders = new Map<string, Decoder>();
  return {
    ...per,
    maxChunks: opts.maxChunks,
    analysis: an,
    decoder: (C, maxLen) => {
      if (!Number.isInteger(C) || C < 1 || C > opts.maxChunks)
        throw new StreamError(`${C} chunks do not fit caches of ${opts.maxChunks}`);
      const key = `${C}:${maxLen}`;
      let d = decoders.get(key);
      if (!d) {
        const ids = keptValues(elab, C, opts.sources);
        d = deriveDecoder((t) => withInputs(elab(C, t), ids), { maxLen, sources: opts.sources });
        decoders.set(key, d);
      }
      return d;
    },
  };
}

/** The model with the values `ids` replaced by inputs `stream.memory.i` (ids keep their numbers). */
function withInputs(e: Elaborated, ids: readonly number[]): Elaborated {
  const at = new Map(ids.map((id, i) => [id, i]));
  const nodes = e.graph.nodes.map((n): Node => {
    const i = at.get(n.id);
    return i === undefined
      ? n
      : {
          id: n.id,
          op: "input",
          inputs: [],
          attrs: { name: memoryName(i), dtype: n.dtype, shape: n.shape },
          dtype: n.dtype,
          shape: n.shape,
        };
  });
  const graph: Graph = { nodes, outputs: e.graph.outputs };
  return { ...e, graph };
}

/** Joins chunk rows (each [G, r, inner] around the chunk axis) into the value at C chunks. */
export function joinChunks(chunks: readonly ArrayLike<number>[], shape: readonly number[], axis: number): Float32Array {
  const G = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const per = shape.slice(axis).reduce((a, b) => a * b, 1); // r · inner
  const C = chunks.length;
  const out = new Float32Array(G * C * per);
  chunks.forEach((rows, c) => {
    for (let g = 0; g < G; g++) for (let j = 0; j < per; j++) out[(g * C + c) * per + j] = rows[g * per + j];
  });
  return out;
}

export { DecodeError };
