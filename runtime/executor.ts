// executor.ts: runs a compiled Program. Pipelines, bind groups and buffers are created once (identical
// kernels share one pipeline, created asynchronously and in parallel); each run records every dispatch
// in one compute pass and one submit, and reads back only the outputs asked for. Knows nothing of .mira.
import { type HostArray, decode, encode } from "../compiler/dtype.js";
import type { Program, Tensor } from "../compiler/program.js";
import { prod } from "../compiler/shape.js";
import type { Gpu } from "./device.js";

/** Objects created on the device, counted so tests can prove a step allocates nothing. */
export interface CreationCounts {
  buffers: number;
  pipelines: number;
  bindGroups: number;
}

export class KernelCompileError extends Error {
  override name = "KernelCompileError";
}

export class Executor {
  readonly counts: CreationCounts = { buffers: 0, pipelines: 0, bindGroups: 0 };
  private readonly buffers: GPUBuffer[] = [];
  private readonly staging = new Map<number, GPUBuffer>();
  private pipelines: GPUComputePipeline[] = [];
  private bindGroups: GPUBindGroup[] = [];
  private readonly byName = new Map<string, Tensor>();

  private constructor(readonly gpu: Gpu, readonly program: Program) {}

  static async create(gpu: Gpu, program: Program): Promise<Executor> {
    const ex = new Executor(gpu, program);
    await ex.init();
    return ex;
  }

  private async init(): Promise<void> {
    const { device } = this.gpu;
    const p = this.program;
    for (const t of [...p.inputs, ...p.params, ...p.outputs]) this.byName.set(t.name, t);
    for (const b of p.buffers) {
      this.buffers.push(device.createBuffer({ size: b.bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC, label: b.name ?? `t${b.id}` }));
      this.counts.buffers++;
    }
    for (const o of p.outputs) {
      this.staging.set(o.buffer, device.createBuffer({ size: p.buffers[o.buffer].bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
      this.counts.buffers++;
    }
    device.pushErrorScope("validation");
    // All pipelines compile concurrently (a matmul pipeline takes 2–10 ms on llvmpipe).
    this.pipelines = await Promise.all(
      p.kernels.map(async (k) => {
        const module = device.createShaderModule({ code: k.code, label: k.name });
        this.counts.pipelines++;
        try {
          return await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" }, label: k.name });
        } catch (e) {
          const info = await module.getCompilationInfo();
          const msgs = info.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join("; ");
          throw new KernelCompileError(`bug: kernel ${k.name} did not compile (${msgs || (e as Error).message}); run 'mira compile --emit wgsl' to see it`);
        }
      }),
    );
    this.bindGroups = p.dispatches.map((d) => {
      this.counts.bindGroups++;
      return device.createBindGroup({
        layout: this.pipelines[d.kernel].getBindGroupLayout(0),
        entries: d.buffers.map((b, i) => ({ binding: i, resource: { buffer: this.buffers[b] } })),
      });
    });
    const err = await device.popErrorScope();
    if (err) throw new KernelCompileError(`bug: the device rejected the program: ${err.message}`);
  }

  tensor(name: string): Tensor {
    const t = this.byName.get(name);
    if (!t) throw new Error(`no input, parameter or output named '${name}'; have: ${[...this.byName.keys()].join(", ")}`);
    return t;
  }

  /** Uploads values (numbers, or an already-encoded array of the buffer's dtype) to an input or param. */
  write(name: string, values: ArrayLike<number> | HostArray): void {
    const t = this.tensor(name);
    const n = prod(t.shape);
    if (values.length !== n) throw new Error(`'${name}' needs ${n} values (${t.dtype}[${t.shape.join(", ")}]), got ${values.length}`);
    const data = encode(t.dtype, values);
    const padded = data.byteLength % 4 === 0 ? data : new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
    if (padded !== data) (padded as Uint8Array).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.gpu.device.queue.writeBuffer(this.buffers[t.buffer], 0, padded.buffer, padded.byteOffset, padded.byteLength);
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

  /** One submit: every dispatch, then copies of the requested outputs; resolves with their values. */
  async run(read: readonly string[] = this.program.outputs.map((o) => o.name)): Promise<Record<string, Float64Array>> {
    const { device } = this.gpu;
    const encoder = device.createCommandEncoder();
    this.encode(encoder);
    const wanted = read.map((name) => this.tensor(name));
    for (const t of wanted) {
      const st = this.staging.get(t.buffer);
      if (!st) throw new Error(`'${t.name}' is not an output of this program`);
      encoder.copyBufferToBuffer(this.buffers[t.buffer], 0, st, 0, st.size);
    }
    device.queue.submit([encoder.finish()]);
    const out: Record<string, Float64Array> = {};
    await Promise.all(
      wanted.map(async (t) => {
        const st = this.staging.get(t.buffer)!;
        await st.mapAsync(GPUMapMode.READ);
        out[t.name] = decode(t.dtype, st.getMappedRange().slice(0), prod(t.shape));
        st.unmap();
      }),
    );
    return out;
  }

  /** Waits until every submitted command has finished. */
  async sync(): Promise<void> {
    await this.gpu.device.queue.onSubmittedWorkDone();
  }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
    for (const b of this.staging.values()) b.destroy();
  }
}
