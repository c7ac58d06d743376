// stream.ts (runtime): runs a derived streaming encoder (compiler/stream.ts) — one per-chunk program,
// compiled once, fed chunk t's inputs and t; its K/V caches and scan states stay on the device between
// chunks (written in place, or copied by the program's updates), and chunk t's rows are read back before
// chunk t + 1 is fed. After the last chunk the rows joined along the chunk axis are the inputs
// `stream.memory.i` of the text decoder of the model at that many chunks (runtime/decode.ts).
import { CHUNK, type ChunkInput, type Stream, joinChunks, memoryName } from "../compiler/stream.js";
import type { CompileOptions } from "../compiler/program.js";
import { prod } from "../compiler/shape.js";
import { compileFor } from "./autotune-cache.js";
import type { WeightLoader } from "./decode.js";
import type { Gpu } from "./device.js";
import { Executor } from "./executor.js";
import { InputError } from "../base/errors.js";

export interface ChunkResult {
  /** the chunk's index */
  readonly chunk: number;
  /** its rows of each value the text decoder reads (rowsName(i)) */
  readonly rows: readonly Float64Array[];
  /** wall time of the run, upload to read-back */
  readonly ms: number;
}

export class StreamEncoder {
  private t = 0;
  private rows: Float64Array[][] = [];

  private constructor(
    readonly stream: Stream,
    private readonly ex: Executor,
  ) {}

  static async create(gpu: Gpu, stream: Stream, load: WeightLoader, opts: CompileOptions = {}): Promise<StreamEncoder> {
    const ex = await Executor.create(gpu, compileFor(gpu, stream.graph, { ...opts, updates: stream.updates }));
    const carried = new Set(stream.carried.map((c) => c.name));
    try {
      load(
        ex,
        ex.program.params.map((p) => p.name).filter((n) => !carried.has(n)),
      );
    } catch (e) {
      ex.destroy();
      throw e;
    }
    const enc = new StreamEncoder(stream, ex);
    enc.reset();
    return enc;
  }

  /** Chunks encoded since the last reset. */
  get chunks(): number {
    return this.t;
  }

  /** The per-chunk program (for reports). */
  get program(): Executor["program"] {
    return this.ex.program;
  }

  /** Starts a new clip: empty caches, scan states at their initial values. */
  reset(): void {
    for (const c of this.stream.carried) this.ex.write(c.name, new Float32Array(prod(c.shape)).fill(c.init));
    this.t = 0;
    this.rows = [];
  }

  /** Encodes the next chunk from its inputs (each [B, …] with the chunk axis holding one chunk). */
  async encode(feeds: Readonly<Record<string, ArrayLike<number>>>): Promise<ChunkResult> {
    if (this.t >= this.stream.maxChunks)
      throw new InputError(`the caches hold ${this.stream.maxChunks} chunks; encode fewer or raise maxChunks`);
    const start = performance.now();
    for (const i of this.stream.inputs) {
      const v = feeds[i.name];
      if (!v) throw new InputError(`chunk ${this.t} needs input '${i.name}'; pass it in feeds`);
      this.ex.write(i.name, v);
    }
    this.ex.write(CHUNK, [this.t]);
    const out = await this.ex.run(this.stream.rows.map((r) => r.name));
    const rows = this.stream.rows.map((r) => out[r.name]);
    this.rows.push(rows);
    return { chunk: this.t++, rows, ms: performance.now() - start };
  }

  /** The decoder's inputs: every chunk's rows joined along the chunk axis. */
  memory(): Record<string, Float32Array> {
    return Object.fromEntries(
      this.stream.rows.map((r, i) => [
        memoryName(i),
        joinChunks(
          this.rows.map((c) => c[i]),
          r.shape,
          r.axis,
        ),
      ]),
    );
  }

  destroy(): void {
    this.ex.destroy();
  }
}

/** Chunk t of a whole-clip input laid out [G, C·rows, inner] along its chunk axis. */
export function chunkOf(x: ArrayLike<number>, input: ChunkInput, C: number, t: number): Float32Array {
  const G = prod(input.shape.slice(0, input.axis));
  const per = prod(input.shape.slice(input.axis)); // rows · inner
  const out = new Float32Array(G * per);
  for (let g = 0; g < G; g++) for (let j = 0; j < per; j++) out[g * per + j] = x[(g * C + t) * per + j];
  return out;
}
