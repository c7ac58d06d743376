// program.ts: compiles an IR Graph into a Program — buffers, deduplicated WGSL kernels and a dispatch
// list, all plain data (no GPUDevice here). compileGraph runs the graph passes (pipeline.ts), then
// schedules the dispatches (schedule.ts) and allocates their buffers (allocate.ts). Device limits are
// read, not assumed: a tensor too large for one binding, or a kernel needing more bindings than a stage
// allows, stops compilation with the fix.
import { allocate } from "./allocate.js";
import type { DType } from "./dtype.js";
import type { ChainMiss } from "./fuse.js";
import { type Graph, type Node, describe } from "./ir.js";
import type { DeviceLimits } from "./limits.js";
import type { AttentionPolicy } from "./passes/choose-attention.js";
import type { MatmulRecord } from "./passes/tune-matmuls.js";
import { type PassLog, runPasses } from "./pipeline.js";
import type { MemoryPlan, PlanStep, PlanValue } from "./plan.js";
import { schedule } from "./schedule.js";
import { PARALLEL_DEFAULTS, parallelDispatches } from "./parallel.js";
import { SEQUENCE_DEFAULTS, sequenceDispatches } from "./sequence.js";
import { type Home, boundTwice, homesOf, offsetTable, placeInArenas, writableArenas } from "./arenas.js";
import { opaqueLoopBounds } from "./wgsl/opaque-loops.js";
import { windowDispatches } from "./windows.js";
import { type Shape, prod } from "./shape.js";
import type { TuningTable } from "./autotune.js";
import type { KernelSource } from "./wgsl/common.js";
import type { MatmulVariant } from "./wgsl/matmul.js";
import { bug } from "../base/errors.js";

/** "arena": a device buffer holding other buffers at offsets (arenas.ts); its members say where. */
export type BufferRole = "input" | "param" | "output" | "temp" | "arena";

export interface ProgramBuffer {
  readonly id: number;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly bytes: number; // padded to a multiple of 4
  readonly role: BufferRole;
  readonly name?: string;
  /** the arena holding this buffer, and where (arenas.ts); absent: a device buffer of its own */
  readonly home?: Home;
  /** contents written once when the buffer is created, as u32 words (a sequence kernel's offset table) */
  readonly init?: readonly number[];
}

export interface Dispatch {
  readonly kernel: number; // index into Program.kernels
  readonly buffers: readonly number[]; // buffer ids, in the kernel's binding order
  /** per binding, the byte range of its buffer it binds, where not the whole buffer (compiler/windows.ts) */
  readonly ranges?: readonly (BufferRange | undefined)[];
  readonly workgroups: readonly [number, number, number];
  readonly node: number; // IR node it computes (for reports and profiles)
  /** for a merged kernel binding whole arenas: the member buffers its stages read and write, so later
   *  merges still see which values it touches (parallel.ts) */
  readonly touches?: { readonly reads: readonly number[]; readonly writes: readonly number[] };
}

export interface BufferRange {
  readonly offset: number;
  readonly size: number;
}

export interface Tensor {
  readonly name: string;
  readonly buffer: number;
  readonly dtype: DType;
  readonly shape: Shape;
}

/** After the dispatches, buffer `from` (an output) is copied into `to` (a param): state updates. */
export interface BufferUpdate {
  readonly from: number;
  readonly to: number;
}

export interface Program {
  readonly buffers: readonly ProgramBuffer[];
  readonly updates: readonly BufferUpdate[];
  readonly kernels: readonly KernelSource[];
  readonly dispatches: readonly Dispatch[];
  readonly inputs: readonly Tensor[];
  readonly params: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly graph: Graph; // the lowered graph the dispatches compute
  /** the buffer plan and what it was made from, for reports and its validator */
  readonly memory: {
    readonly plan: MemoryPlan;
    readonly values: readonly PlanValue[];
    readonly steps: readonly PlanStep[];
  };
  /** each matmul's signature and the configuration it compiled with (tuned or default) */
  readonly matmuls: readonly MatmulRecord[];
  /** the graph passes as they ran, with the node count each left (reports) */
  readonly passes: readonly PassLog[];
  /** kernels the fusion plan formed, and matmul pairs it left apart with the reason (reports) */
  readonly fusion: {
    readonly rowKernels: number;
    readonly chains: number;
    readonly chainMisses: readonly ChainMiss[];
  };
}

export interface CompileOptions {
  /** forces a matmul variant for every matmul (tests, A/B benchmarks); wins over `tuning` */
  readonly matmul?: MatmulVariant;
  /** measured matmul configurations for this adapter (compiler/autotune.ts); signatures it lacks get
   *  the default. runtime/autotune-cache.ts loads the table of the current adapter. */
  readonly tuning?: TuningTable;
  /** fuse elementwise chains, constants and views (default true); false is the A/B baseline */
  readonly fuse?: boolean;
  /** with fusion, reductions and the elementwise work over the same rows in one kernel (fuse-rows.ts;
   *  default true); false keeps the elementwise plan's kernels, the A/B baseline of row kernels */
  readonly rows?: boolean;
  /** with fusion, a matmul reading another's small value computed with it in one kernel (fuse-chains.ts;
   *  default true); false keeps their two kernels, the A/B baseline of chains */
  readonly chains?: boolean;
  /** with fusion, matmuls that read the same A joined into one along N where that saves dispatches
   *  (passes/shared-operand.ts; default: unless `sequence`); false is its A/B baseline */
  readonly sharedOperands?: boolean;
  /** with fusion, runs of consecutive small dispatches as one single-workgroup kernel (sequence.ts), over
   *  arenas unless `arenas` is false. Default false: with arenas a TTM step's dispatches fall about 15×, but
   *  on llvmpipe a sequence kernel compiles slowly, so a cold first run takes far longer (docs/architecture.md,
   *  section "After allocation"); on a GPU, where it should pay, it is not measured yet */
  readonly sequence?: boolean;
  /** pack buffers into arenas (arenas.ts), so that merged kernels bind many values at once. Default: with
   *  sequence kernels, which end on the binding limit every two or three stages without them */
  readonly arenas?: boolean;
  /** with fusion, dispatches that do not depend on one another as one dispatch over their grids laid end
   *  to end (parallel.ts). Default: on GPU adapters, where compiles are cheap and a launch costs 3–10 µs.
   *  On llvmpipe they halve a training step's dispatches but about double a cold compile (a merged
   *  kernel compiles slower than its members, and repeats no longer share a compile): a whole cold test
   *  run went from 854 to 1,159 s (docs/PERFORMANCE.md, section compile-cold) */
  readonly parallel?: boolean;
  /** loop bounds the shader compiler cannot fold (wgsl/opaque-loops.ts), so it does not unroll them;
   *  default: on software adapters, where unrolled loops cost seconds of compile per kernel */
  readonly opaqueLoops?: boolean;
  /** share buffers between values whose lifetimes do not overlap (default true) */
  readonly reuseBuffers?: boolean;
  /** output name → param name it overwrites after each run (optimizer steps, carried state) */
  readonly updates?: Readonly<Record<string, string>>;
  /** kernels of attention nodes whose path was not fixed when a gradient was built: by score size
   *  ("auto", the default), or forced (passes/choose-attention.ts) */
  readonly attention?: AttentionPolicy;
  /** rows per invocation of the flash-attention kernels (default: by problem size, wgsl/attention.ts) */
  readonly attentionRows?: 1 | 2 | 4 | 8;
}

export function compileGraph(graph: Graph, limits: DeviceLimits, opts: CompileOptions = {}): Program {
  const { state, log } = runPasses(graph, { limits, opts });
  const { graph: g, plan, matmuls } = state;
  if (!plan || !matmuls) bug("the pipeline ends without a fusion plan or matmul choices");
  const scheduleOpts = { updates: opts.updates ?? {}, attentionRows: opts.attentionRows };
  const sched = schedule({ graph: g, plan, choices: matmuls.choices }, limits, scheduleOpts);
  const parallel = (opts.fuse ?? true) && (opts.parallel ?? limits.adapterKind === "gpu");
  // with parallel kernels, a freed buffer waits out their window before it is taken again
  const allocation = allocate(sched, limits, opts.reuseBuffers ?? true, parallel ? PARALLEL_DEFAULTS.window : 0);
  const { buffers: allocated, memory, bufferOf } = allocation;
  // bindings past the device's binding size become windows of their buffers (not merged below)
  const windowed = windowDispatches(allocation.kernels, allocation.dispatches, allocated, limits);
  const sequence = (opts.fuse ?? true) && (opts.sequence ?? false);
  const byId = sched.byId;
  const updates = Object.entries(opts.updates ?? {})
    .map(([out, param]) => {
      const o = g.outputs.find((x) => x.name === out);
      const p = g.nodes.find((n) => n.op === "param" && n.attrs.name === param);
      if (!o || !p) bug(`update ${out} → ${param} names a missing output or param`);
      const src = byId.get(o.id)!;
      if (src.dtype !== p.dtype || prod(src.shape) !== prod(p.shape)) {
        bug(`update ${out} (${describe(src)}) does not fit ${param} (${describe(p)})`);
      }
      return { from: bufferOf(o.id), to: bufferOf(p.id) };
    })
    .filter((u) => u.from !== u.to); // written in place (an adamw step)
  const apart = new Set([...updates.flatMap((u) => [u.from, u.to]), ...boundTwice(windowed.dispatches)]);
  const placed = (opts.arenas ?? sequence) ? placeInArenas(allocated, limits, apart) : allocated;
  const homes = homesOf(placed);
  const arenaSet = homes.size > 0 ? { homes, table: placed.length } : undefined;
  const sequenced = sequence
    ? sequenceDispatches(windowed.kernels, windowed.dispatches, limits, SEQUENCE_DEFAULTS, arenaSet)
    : { ...windowed, table: [] };
  // the sequence kernels' table of member offsets, uploaded once (not in an arena: it is bound beside them)
  const buffers = sequenced.table.length > 0 ? [...placed, offsetTable(placed.length, sequenced.table)] : placed;
  const merged = parallel
    ? parallelDispatches(sequenced.kernels, sequenced.dispatches, limits, PARALLEL_DEFAULTS, homes)
    : sequenced;
  const final = writableArenas(merged.kernels, merged.dispatches, homes);
  const { dispatches } = final;
  const kernels =
    (opts.opaqueLoops ?? limits.adapterKind === "cpu")
      ? final.kernels.map((k) => ({ ...k, code: opaqueLoopBounds(k.code) }))
      : final.kernels;
  const tensor = (n: Node, name: string): Tensor => ({ name, buffer: bufferOf(n.id), dtype: n.dtype, shape: n.shape });
  return {
    buffers,
    updates,
    kernels,
    dispatches,
    inputs: g.nodes.filter((n) => n.op === "input").map((n) => tensor(n, n.attrs.name!)),
    params: g.nodes.filter((n) => n.op === "param").map((n) => tensor(n, n.attrs.name!)),
    outputs: g.outputs.map((o) => tensor(byId.get(o.id)!, o.name)),
    graph: g,
    memory,
    matmuls: matmuls.records,
    passes: log,
    fusion: { rowKernels: plan.rows.size, chains: plan.chains.size, chainMisses: plan.chainMisses ?? [] },
  };
}
