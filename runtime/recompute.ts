// recompute.ts (runtime): next-token rows by full recomputation — one program of the whole forward
// pass at the maximum length, compiled once, run over the padded sequence for every token (causal
// masking keeps the padding out of the rows read). The baseline the derived decoder is tested and
// benchmarked against, and `mira generate --no-cache`.
import type { Graph } from "../compiler/ir.js";
import type { CompileOptions } from "../compiler/program.js";
import { compileFor } from "./autotune-cache.js";
import type { TokenDecoder, WeightLoader } from "./decode.js";
import type { Gpu } from "./device.js";
import { Executor } from "./executor.js";
import { InputError } from "../base/errors.js";

export interface ForwardSpec {
  /** the forward graph at the maximum length, its output being the next-token rows */
  readonly graph: Graph;
  readonly input: string;
  readonly output: string;
  readonly batch: number;
  /** positions of the input (the maximum length) */
  readonly length: number;
  /** output rows before position 0 (a prepended start token whose row is kept) */
  readonly offset: number;
  readonly width: number;
}

export class RecomputeDecoder implements TokenDecoder {
  private pos = 0;
  private readonly tokens: Int32Array;

  private constructor(
    private readonly ex: Executor,
    private readonly spec: ForwardSpec,
  ) {
    this.tokens = new Int32Array(spec.batch * spec.length);
  }

  static async create(
    gpu: Gpu,
    spec: ForwardSpec,
    load: WeightLoader,
    opts: CompileOptions = {},
  ): Promise<RecomputeDecoder> {
    const out = spec.graph.outputs.find((o) => o.name === spec.output);
    if (!out)
      throw new InputError(
        `the forward graph has no output '${spec.output}'; ` +
          `name one of: ${spec.graph.outputs.map((o) => o.name).join(", ")}`,
      );
    const ex = await Executor.create(gpu, compileFor(gpu, { nodes: spec.graph.nodes, outputs: [out] }, opts));
    try {
      load(
        ex,
        ex.program.params.map((p) => p.name),
      );
    } catch (e) {
      ex.destroy();
      throw e;
    }
    return new RecomputeDecoder(ex, spec);
  }

  /** The one program, run per token (for reports). */
  get program(): Executor["program"] {
    return this.ex.program;
  }

  get position(): number {
    return this.pos;
  }

  get capacity(): number {
    return this.spec.length;
  }

  get batch(): number {
    return this.spec.batch;
  }

  get width(): number {
    return this.spec.width;
  }

  async prefill(
    tokens: ArrayLike<number>,
    feeds: Readonly<Record<string, ArrayLike<number>>> = {},
  ): Promise<Float64Array> {
    const { batch, length } = this.spec;
    const P = tokens.length / batch;
    if (!Number.isInteger(P) || P < 1 || P > length)
      throw new InputError(
        `a prompt of ${tokens.length} tokens over ${batch} rows does not fit ${length} positions; ` +
          "shorten it or raise the length",
      );
    this.tokens.fill(0);
    for (let b = 0; b < batch; b++) for (let t = 0; t < P; t++) this.tokens[b * length + t] = tokens[b * P + t];
    for (const t of this.ex.program.inputs)
      if (t.name !== this.spec.input)
        this.ex.write(t.name, feeds[t.name] ?? new Float32Array(t.shape.reduce((a, c) => a * c, 1)));
    this.pos = P;
    return this.rows(P - 1);
  }

  async step(tokens: ArrayLike<number>): Promise<Float64Array> {
    if (this.pos === 0) throw new InputError("step before prefill; call prefill first");
    if (this.pos >= this.spec.length)
      throw new InputError(
        `the sequence is full (${this.spec.length} positions); generate fewer tokens or raise the length`,
      );
    for (let b = 0; b < this.spec.batch; b++) this.tokens[b * this.spec.length + this.pos] = tokens[b];
    return this.rows(this.pos++);
  }

  /** Runs the forward over the padded tokens; the rows of position t, [batch, width]. */
  private async rows(t: number): Promise<Float64Array> {
    const { batch, length, offset, width, input, output } = this.spec;
    this.ex.write(input, this.tokens);
    const all = (await this.ex.run([output]))[output];
    const rows = new Float64Array(batch * width);
    const per = length + offset;
    for (let b = 0; b < batch; b++)
      rows.set(all.subarray((b * per + t + offset) * width, (b * per + t + offset + 1) * width), b * width);
    return rows;
  }

  destroy(): void {
    this.ex.destroy();
  }
}
