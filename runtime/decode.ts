// decode.ts (runtime): runs a derived decoder (compiler/decode.ts) — one step program, compiled once,
// and a prefill program per prompt length, compiled on first use and kept. The step executor owns the
// weights, the K/V caches and the kept values (memo); prefill executors share them by name, so a
// prefill writes the caches the steps then extend in place. Per step the host writes the new tokens and
// the position (two small uploads), runs one submit and reads back one row of logits — or, sampling on
// the GPU (prefillSample/stepSample), the sampler's settings and seed and only the token ids.
import { type CacheSpec, type Decoder, LENGTHS, NEXT, POS, SAMPLE } from "../compiler/decode.js";
import { byteSize } from "../compiler/dtype.js";
import type { CompileOptions } from "../compiler/program.js";
import { compileFor } from "./autotune-cache.js";
import { prod } from "../compiler/shape.js";
import type { Gpu } from "./device.js";
import { Executor } from "./executor.js";
import { type SamplingOptions, samplerInputs } from "./sampling.js";
import { InputError } from "../base/errors.js";

/** Writes the named params (weights) of an executor's program. */
export type WeightLoader = (ex: Executor, names: readonly string[]) => void;

/** Next-token rows from a growing sequence: the derived KV-cache decoder (IncrementalDecoder) or full
 *  recomputation (RecomputeDecoder, runtime/recompute.ts), interchangeable for callers and tests. */
export interface TokenDecoder {
  /** positions fed so far (the next step feeds this one) */
  readonly position: number;
  /** positions it can hold */
  readonly capacity: number;
  /** batch rows, each fed one token per position */
  readonly batch: number;
  /** values per batch row of a next-token row (the vocabulary, for logits) */
  readonly width: number;
  /** starts over with a prompt ([batch, P] row-major) and the model's other inputs; resolves with
   *  the rows of the last position, [batch, width] */
  prefill(tokens: ArrayLike<number>, feeds?: Readonly<Record<string, ArrayLike<number>>>): Promise<Float64Array>;
  /** feeds one token per batch row at `position`; resolves with the rows of that position */
  step(tokens: ArrayLike<number>): Promise<Float64Array>;
  destroy(): void;
}

/** One draw of the GPU sampler: its settings, and the step (the draw's counter with the seed). */
export interface Draw {
  readonly sampling: SamplingOptions;
  readonly step: number;
  /** read the logits back too (tests comparing with the host reference) */
  readonly logits?: boolean;
}

export interface Sampled {
  /** the token each batch row drew */
  readonly tokens: Int32Array;
  readonly logits?: Float64Array;
}

export class IncrementalDecoder implements TokenDecoder {
  private readonly prefills = new Map<number, Executor>();
  /** each batch row's next position (rows of a ragged prompt differ) */
  private readonly pos: Int32Array;
  private readonly state: ReadonlySet<string>;

  private constructor(
    private readonly gpu: Gpu,
    readonly graphs: Decoder,
    private readonly stepEx: Executor,
    private readonly load: WeightLoader,
    private readonly opts: CompileOptions,
  ) {
    this.state = new Set([...graphs.caches.map((c) => c.name), ...graphs.memos]);
    this.pos = new Int32Array(graphs.batch);
  }

  static async create(
    gpu: Gpu,
    graphs: Decoder,
    load: WeightLoader,
    opts: CompileOptions = {},
  ): Promise<IncrementalDecoder> {
    // the prefill programs read and write the step's weights and caches in place (shared buffers), so
    // these live in buffers of their own: a kernel may not bind one device buffer both ways (arenas.ts)
    const own = { ...opts, arenas: false };
    const ex = await Executor.create(gpu, compileFor(gpu, graphs.step, own));
    const d = new IncrementalDecoder(gpu, graphs, ex, load, own);
    try {
      load(
        ex,
        ex.program.params.map((p) => p.name).filter((n) => !d.state.has(n)),
      );
    } catch (e) {
      ex.destroy();
      throw e;
    }
    return d;
  }

  /** Positions held in the caches (the next step writes this one): the furthest row's. */
  get position(): number {
    return Math.max(...this.pos);
  }

  /** Each batch row's position. */
  get positions(): readonly number[] {
    return Array.from(this.pos);
  }

  get capacity(): number {
    return this.graphs.maxLen;
  }

  get batch(): number {
    return this.graphs.batch;
  }

  get width(): number {
    return this.graphs.width;
  }

  /** Bytes of the K/V caches. */
  get cacheBytes(): number {
    return this.graphs.caches.reduce((s, c: CacheSpec) => s + prod(c.shape) * byteSize(c.dtype), 0);
  }

  /** The step program (for reports: dispatches, kernels). */
  get stepProgram(): Executor["program"] {
    return this.stepEx.program;
  }

  private async prefillRun(
    tokens: ArrayLike<number>,
    feeds: Readonly<Record<string, ArrayLike<number>>>,
    draw?: Draw,
    lengths?: readonly number[],
  ): Promise<Sampled> {
    const B = this.graphs.batch;
    const P = tokens.length / B;
    if (!Number.isInteger(P) || P < 1)
      throw new InputError(
        `a prompt needs a whole number ≥ 1 of tokens per batch row (${B} rows), got ${tokens.length} tokens`,
      );
    if (P > this.capacity)
      throw new InputError(
        `a prompt of ${P} tokens does not fit the caches (${this.capacity} positions); shorten it or raise maxLen`,
      );
    const lens = lengths ?? Array<number>(B).fill(P);
    if (lens.length !== B || lens.some((n) => !Number.isInteger(n) || n < 1 || n > P))
      throw new InputError(`prompt lengths must be ${B} whole numbers from 1 to ${P}, got [${lens.join(", ")}]`);
    if (!this.graphs.lengths && lens.some((n) => n !== P))
      throw new InputError(
        "this decoder's prefill reads no prompt lengths: every row's prompt is all of its tokens " +
          "(derive it with lengths: true for ragged prompts)",
      );
    const ex = this.prefills.get(P) ?? (await this.compilePrefill(P));
    ex.write(this.graphs.input, tokens);
    if (this.graphs.lengths) ex.write(LENGTHS, lens);
    for (const name of this.graphs.otherInputs) {
      const v = feeds[name];
      if (!v) throw new InputError(`the prefill needs input '${name}'; pass it in feeds`);
      ex.write(name, v);
    }
    const out = await this.run(ex, draw);
    this.pos.set(lens);
    return out;
  }

  /** prefill, drawing each row's next token on the GPU: only the token ids are read back. `lengths`:
   *  each row's prompt length, its tokens the first of its row of `tokens` ([batch, P], padded at the
   *  end); each row then decodes from its own position. */
  async prefillSample(
    tokens: ArrayLike<number>,
    draw: Draw,
    feeds: Readonly<Record<string, ArrayLike<number>>> = {},
    lengths?: readonly number[],
  ): Promise<Sampled> {
    return this.prefillRun(tokens, feeds, draw, lengths);
  }

  /** Compiles (once per length) and runs the prefill over `tokens` ([batch, P], row-major), with the
   *  model's other inputs; resolves with the next-token row of each batch row ([batch, width]). */
  async prefill(
    tokens: ArrayLike<number>,
    feeds: Readonly<Record<string, ArrayLike<number>>> = {},
    lengths?: readonly number[],
  ): Promise<Float64Array> {
    return (await this.prefillRun(tokens, feeds, undefined, lengths)).logits!;
  }

  /** step, drawing each row's next token on the GPU: only the token ids are read back. Rows not
   *  `active` (finished) stay where they are: their token is written again at their last position and
   *  what they draw is to be ignored. */
  async stepSample(tokens: ArrayLike<number>, draw: Draw, active?: readonly boolean[]): Promise<Sampled> {
    return this.stepRun(tokens, draw, active);
  }

  /** Feeds one token per batch row at the current position; resolves with the next-token rows. */
  async step(tokens: ArrayLike<number>): Promise<Float64Array> {
    return (await this.stepRun(tokens)).logits!;
  }

  /** Runs `ex` once: with a draw, writes the sampler's inputs and reads the tokens (and the logits
   *  when asked); without, reads the logits. */
  private async run(ex: Executor, draw?: Draw): Promise<Sampled> {
    if (!draw) return { tokens: new Int32Array(0), logits: (await ex.run([NEXT]))[NEXT] };
    const s = samplerInputs(draw.sampling, draw.step, this.width);
    ex.write(SAMPLE.seed, [s.seed]);
    ex.write(SAMPLE.temperature, [s.temperature]);
    ex.write(SAMPLE.topK, [s.topK]);
    ex.write(SAMPLE.topP, [s.topP]);
    const r = await ex.run(draw.logits ? [SAMPLE.token, NEXT] : [SAMPLE.token]);
    return { tokens: Int32Array.from(r[SAMPLE.token]), logits: r[NEXT] };
  }

  private async stepRun(tokens: ArrayLike<number>, draw?: Draw, active?: readonly boolean[]): Promise<Sampled> {
    const moving = (r: number): boolean => active?.[r] ?? true;
    if (this.pos[0] === 0) throw new InputError("step before prefill: the caches hold no prompt; call prefill first");
    const full = this.pos.findIndex((p, r) => moving(r) && p >= this.capacity);
    if (full >= 0)
      throw new InputError(
        `the caches are full (${this.capacity} positions)${this.batch > 1 ? ` for batch row ${full}` : ""}; ` +
          "generate fewer tokens or raise maxLen",
      );
    this.stepEx.write(this.graphs.input, tokens);
    // a finished row writes at its next position (its last when the caches are full) and never reads it
    this.stepEx.write(
      POS,
      Array.from(this.pos, (p, r) => (moving(r) ? p : Math.min(p, this.capacity - 1))),
    );
    const out = await this.run(this.stepEx, draw);
    this.pos.forEach((p, r) => moving(r) && (this.pos[r] = p + 1));
    return out;
  }

  private async compilePrefill(P: number): Promise<Executor> {
    const { graph, updates } = this.graphs.prefill(P);
    const ex = await Executor.create(this.gpu, compileFor(this.gpu, graph, { ...this.opts, updates }), {
      share: this.stepEx,
    });
    try {
      // Params the step program has are shared (weights, caches, memo); the rest (an encoder's
      // weights, which only the prefill reads) are loaded here.
      const shared = new Set(this.stepEx.program.params.map((p) => p.name));
      this.load(
        ex,
        ex.program.params.map((p) => p.name).filter((n) => !shared.has(n) && !this.state.has(n)),
      );
    } catch (e) {
      ex.destroy();
      throw e;
    }
    this.prefills.set(P, ex);
    return ex;
  }

  /** Each weight the programs read (not the caches or memos), with an executor holding its buffer: what
   *  a checkpoint of the loaded model saves, and where a loaded one is written back. */
  weightHolders(): Map<string, Executor> {
    const out = new Map<string, Executor>();
    for (const ex of [this.stepEx, ...this.prefills.values()])
      for (const p of ex.program.params) if (!this.state.has(p.name) && !out.has(p.name)) out.set(p.name, ex);
    return out;
  }

  destroy(): void {
    for (const ex of this.prefills.values()) ex.destroy();
    this.stepEx.destroy();
  }
}
