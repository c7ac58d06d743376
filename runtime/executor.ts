// executor.ts: runs a compiled Program. Pipelines, bind groups and buffers are created once (identical
// kernels share one pipeline, created asynchronously and in parallel); each run records every dispatch
// in one compute pass and one submit, and reads back only the outputs asked for. A buffer kept in an arena
// (compiler/arenas.ts) is the arena's device buffer at an offset. Knows nothing of .mira.
import { type HostArray, decode, encode } from "../compiler/dtype.js";
import type { Program, Tensor } from "../compiler/program.js";
import { prod } from "../compiler/shape.js";
import { type Gpu, OutOfMemoryError } from "./device.js";
import { formatBytes } from "../compiler/limits.js";
import { InputError, InternalError } from "../base/errors.js";

/** Objects created on the device, counted so tests can prove a step allocates nothing. */
export interface CreationCounts {
  buffers: number;
  pipelines: number;
  bindGroups: number;
}

/** Generated WGSL the device rejects: the compiler's bug, reported as an internal error. */
export class KernelCompileError extends InternalError {
  override name = "KernelCompileError";
}

/** Where a program buffer lives on the device: a device buffer and a byte offset into it. */
export interface Location {
  readonly buffer: GPUBuffer;
  readonly offset: number;
}

export class Executor {
  readonly counts: CreationCounts = { buffers: 0, pipelines: 0, bindGroups: 0 };
  private readonly buffers: Location[] = [];
  private readonly staging = new Map<number, GPUBuffer>();
  private readonly sharedBuffers = new Set<number>();
  private pipelines: GPUComputePipeline[] = [];
  private bindGroups: GPUBindGroup[] = [];
  private readonly byName = new Map<string, Tensor>();

  private constructor(
    readonly gpu: Gpu,
    readonly program: Program,
    private readonly share?: Executor,
  ) {}

  /** `share`: another executor whose parameter buffers this one uses for params of the same name
   *  (an evaluation program reading the weights a training program updates). */
  static async create(gpu: Gpu, program: Program, opts: { share?: Executor } = {}): Promise<Executor> {
    const ex = new Executor(gpu, program, opts.share);
    await ex.init();
    return ex;
  }

  private async init(): Promise<void> {
    const { device } = this.gpu;
    const p = this.program;
    for (const t of [...p.inputs, ...p.params, ...p.outputs]) this.byName.set(t.name, t);
    device.pushErrorScope("out-of-memory");
    for (const b of p.buffers) {
      const shared = b.role === "param" && b.name !== undefined ? this.share?.paramBuffer(b.name) : undefined;
      if (shared && b.home)
        throw new InternalError(`param ${b.name} is kept in an arena, so it cannot share another program's buffer`);
      if (shared && this.share!.program.buffers[this.share!.tensor(b.name!).buffer].bytes === b.bytes) {
        this.buffers[b.id] = shared;
        this.sharedBuffers.add(b.id);
        continue;
      }
      if (b.home) continue; // placed below, once its arena exists
      const buffer = device.createBuffer({
        size: b.bytes,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
        label: b.name ?? `t${b.id}`,
      });
      this.buffers[b.id] = { buffer, offset: 0 };
      this.counts.buffers++;
    }
    for (const b of p.buffers)
      if (b.home) this.buffers[b.id] = { buffer: this.buffers[b.home.arena].buffer, offset: b.home.offset };
    for (const b of p.buffers) {
      const at = this.buffers[b.id];
      if (b.init) device.queue.writeBuffer(at.buffer, at.offset, Uint32Array.from(b.init));
    }
    const oom = await device.popErrorScope();
    if (oom) {
      const total = p.buffers.reduce((sum, b) => sum + b.bytes, 0);
      const largest = p.buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
      this.destroy();
      const biggest = `${largest.name ?? `t${largest.id}`}, ${formatBytes(largest.bytes)}`;
      throw new OutOfMemoryError(
        `the device ran out of memory allocating ${formatBytes(total)} of buffers (the largest, ${biggest}); ` +
          "lower --batch or --window, or use a smaller --preset",
      );
    }
    device.pushErrorScope("validation");
    // All pipelines compile concurrently (a matmul pipeline takes 2–10 ms on llvmpipe).
    this.pipelines = await Promise.all(
      p.kernels.map(async (k) => {
        const module = device.createShaderModule({ code: k.code, label: k.name });
        this.counts.pipelines++;
        try {
          return await device.createComputePipelineAsync({
            layout: "auto",
            compute: { module, entryPoint: "main" },
            label: k.name,
          });
        } catch (e) {
          const info = await module.getCompilationInfo();
          const msgs = info.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join("; ");
          throw new KernelCompileError(
            `kernel ${k.name} did not compile (${msgs || (e as Error).message}); ` +
              "run 'mira compile --emit wgsl' to see it",
          );
        }
      }),
    );
    this.bindGroups = p.dispatches.map((d) => {
      this.counts.bindGroups++;
      return device.createBindGroup({
        layout: this.pipelines[d.kernel].getBindGroupLayout(0),
        entries: d.buffers.map((b, i) => {
          const { buffer, offset } = this.buffers[b];
          const range = d.ranges?.[i] ?? { offset: 0, size: p.buffers[b].bytes };
          return { binding: i, resource: { buffer, offset: offset + range.offset, size: range.size } };
        }),
      });
    });
    const err = await device.popErrorScope();
    if (err) throw new KernelCompileError(`the device rejected the program: ${err.message}`);
  }

  /** Where a param lives on the device, for sharing with another executor. */
  paramBuffer(name: string): Location | undefined {
    const t = this.program.params.find((x) => x.name === name);
    return t ? this.buffers[t.buffer] : undefined;
  }

  /** A mappable copy target for a buffer, created on first use and kept. */
  private stagingFor(buffer: number): GPUBuffer {
    let st = this.staging.get(buffer);
    if (!st) {
      st = this.gpu.device.createBuffer({
        size: this.program.buffers[buffer].bytes,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      this.counts.buffers++;
      this.staging.set(buffer, st);
    }
    return st;
  }

  tensor(name: string): Tensor {
    const t = this.byName.get(name);
    if (!t)
      throw new InputError(
        `no input, parameter or output named '${name}'; have: ${[...this.byName.keys()].join(", ")}`,
      );
    return t;
  }

  /** Uploads values (numbers, or an already-encoded array of the buffer's dtype) to an input or param. */
  write(name: string, values: ArrayLike<number> | HostArray): void {
    const t = this.tensor(name);
    const n = prod(t.shape);
    if (values.length !== n)
      throw new InputError(`'${name}' needs ${n} values (${t.dtype}[${t.shape.join(", ")}]), got ${values.length}`);
    const data = encode(t.dtype, values);
    const padded = data.byteLength % 4 === 0 ? data : new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
    if (padded !== data) (padded as Uint8Array).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const at = this.buffers[t.buffer];
    this.gpu.device.queue.writeBuffer(at.buffer, at.offset, padded.buffer, padded.byteOffset, padded.byteLength);
  }

  /** Overwrites a value with raw bytes as stored (a checkpoint's tensor), bit for bit. */
  writeBytes(name: string, bytes: Uint8Array): void {
    const t = this.tensor(name);
    const size = this.program.buffers[t.buffer].bytes;
    if (bytes.byteLength > size || bytes.byteLength < size - 3)
      throw new InputError(`'${name}' holds ${size} bytes, got ${bytes.byteLength}`);
    const padded = bytes.byteLength === size ? bytes : new Uint8Array(size);
    if (padded !== bytes) padded.set(bytes);
    const at = this.buffers[t.buffer];
    this.gpu.device.queue.writeBuffer(at.buffer, at.offset, padded.buffer, padded.byteOffset, size);
  }

  /** Records dispatches [from, to) into a pass of `encoder` (all of them by default). */
  encode(encoder: GPUCommandEncoder, from = 0, to = this.program.dispatches.length): void {
    const pass = encoder.beginComputePass();
    const ds = this.program.dispatches;
    let current = -1;
    for (let i = from; i < to; i++) {
      const d = ds[i];
      if (d.kernel !== current) {
        pass.setPipeline(this.pipelines[d.kernel]);
        current = d.kernel;
      }
      pass.setBindGroup(0, this.bindGroups[i]);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    }
    pass.end();
  }

  /** Records dispatches [from, to) each in its own pass, with timestamps written before and after it
   *  into `querySet` at 2·(i − from) and 2·(i − from) + 1: a per-dispatch profile (runtime/profile.ts). */
  encodeTimed(encoder: GPUCommandEncoder, querySet: GPUQuerySet, from: number, to: number): void {
    const ds = this.program.dispatches;
    for (let i = from; i < to; i++) {
      const d = ds[i];
      const q = 2 * (i - from);
      const pass = encoder.beginComputePass({
        timestampWrites: { querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 },
      });
      pass.setPipeline(this.pipelines[d.kernel]);
      pass.setBindGroup(0, this.bindGroups[i]);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
      pass.end();
    }
  }

  /** One submit: every dispatch, the state updates, then copies of the requested values (outputs,
   *  inputs or params); resolves with them. Staging buffers are made on a value's first read only. */
  async run(read: readonly string[] = this.program.outputs.map((o) => o.name)): Promise<Record<string, Float64Array>> {
    const { device } = this.gpu;
    const encoder = device.createCommandEncoder();
    this.encode(encoder);
    for (const u of this.program.updates) {
      const [from, to] = [this.buffers[u.from], this.buffers[u.to]];
      encoder.copyBufferToBuffer(from.buffer, from.offset, to.buffer, to.offset, this.program.buffers[u.to].bytes);
    }
    return this.submitAndRead(encoder, read);
  }

  /** Reads values without running anything (parameters for a checkpoint, say). */
  read(names: readonly string[]): Promise<Record<string, Float64Array>> {
    return this.submitAndRead(this.gpu.device.createCommandEncoder(), names);
  }

  /** Raw bytes of a value, exactly as stored (for bit-exact checkpoints). */
  async readBytes(name: string, keepStaging = true): Promise<ArrayBuffer> {
    const t = this.tensor(name);
    // without keepStaging the copy target is made for this read and destroyed after it: reading every
    // weight of a large model once (a checkpoint) then needs one tensor's staging at a time, not all
    const st = keepStaging
      ? this.stagingFor(t.buffer)
      : this.gpu.device.createBuffer({
          size: this.program.buffers[t.buffer].bytes,
          usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        });
    const encoder = this.gpu.device.createCommandEncoder();
    const at = this.buffers[t.buffer];
    encoder.copyBufferToBuffer(at.buffer, at.offset, st, 0, st.size);
    this.gpu.device.queue.submit([encoder.finish()]);
    await st.mapAsync(GPUMapMode.READ);
    const bytes = st.getMappedRange().slice(0);
    st.unmap();
    if (!keepStaging) st.destroy();
    return bytes;
  }

  private async submitAndRead(
    encoder: GPUCommandEncoder,
    read: readonly string[],
  ): Promise<Record<string, Float64Array>> {
    const wanted = read.map((name) => this.tensor(name));
    const buffers = [...new Set(wanted.map((t) => t.buffer))]; // two names may share one value
    for (const b of buffers) {
      const st = this.stagingFor(b);
      const at = this.buffers[b];
      encoder.copyBufferToBuffer(at.buffer, at.offset, st, 0, st.size);
    }
    this.gpu.device.pushErrorScope("validation");
    this.gpu.device.queue.submit([encoder.finish()]);
    const invalid = this.gpu.device.popErrorScope();
    const bytes = new Map<number, ArrayBuffer>();
    const mapped = Promise.all(
      buffers.map(async (b) => {
        const st = this.staging.get(b)!;
        await st.mapAsync(GPUMapMode.READ);
        bytes.set(b, st.getMappedRange().slice(0));
        st.unmap();
      }),
    );
    // waited for beside the reads, not before them; a command the device refuses would otherwise leave
    // the outputs as they were, silently
    const [err] = await Promise.all([invalid, mapped]);
    if (err) throw new InternalError(`the device refused a run of the program: ${err.message}`);
    return Object.fromEntries(wanted.map((t) => [t.name, decode(t.dtype, bytes.get(t.buffer)!, prod(t.shape))]));
  }

  /** Waits until every submitted command has finished. */
  async sync(): Promise<void> {
    await this.gpu.device.queue.onSubmittedWorkDone();
  }

  destroy(): void {
    this.program.buffers.forEach((b, i) => {
      if (!b.home && !this.sharedBuffers.has(i)) this.buffers[i]?.buffer.destroy();
    });
    for (const b of this.staging.values()) b.destroy();
  }
}
