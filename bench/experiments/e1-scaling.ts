// e1-scaling.ts: experiment E1 — how the cost of a Mirasol training step grows with video length, for
// the joint baseline (Concat: every token of every chunk in the AR model) and Mirasol's Combiners
// (Transformer, TTM: m latents per chunk). FLOPs and planned buffer bytes come from the compiler (the
// training-step graph and its memory plan, for a device without binding limits, so every size gets a
// figure); step time is measured on this adapter for the sizes that fit it.
import { loadModel } from "../../api/model.js";
import { DEFAULT_LIMITS, LimitError } from "../../compiler/limits.js";
import { initParams } from "../../compiler/lower.js";
import { compileGraph } from "../../compiler/program.js";
import { graphFlops } from "../../compiler/report.js";
import { DEFAULT_ADAMW, buildTrainStep, stepScalars } from "../../compiler/train-step.js";
import type { Gpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";
import { decaysByDefault } from "../../compiler/train-model.js";
import { standInValues } from "../../runtime/stand-in.js";

export const E1_FRAMES = [16, 32, 64, 128, 256, 512] as const;
export const E1_COMBINERS = [
  { name: "Concat", set: "combiner=Concat" },
  { name: "Transformer (m 4)", set: "combiner=TransformerCombiner(depth: 1, heads: 2, m: 4)" },
  { name: "TTM (memory 8, read 4)", set: "combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)" },
] as const;
const FRAMES_PER_CHUNK = 4; // the tiny preset's
const BATCH = { B: 1, L: 16 };

export interface E1Row {
  readonly combiner: string;
  readonly frames: number;
  readonly chunks: number;
  readonly flops: number;
  readonly peakBytes: number;
  readonly largestBuffer: number;
  readonly fits: boolean;
  readonly dispatches: number;
  /** median ms per training step on this adapter, when measured */
  readonly stepMs?: number;
}

const UNLIMITED = { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: 2 ** 45, maxBufferSize: 2 ** 45 };

/** A training step ready to run on the adapter: one call is one step. */
export interface Stepper {
  readonly step: () => Promise<void>;
  readonly destroy: () => void;
}

/** One configuration: compiled for an unlimited device (figures), then for `gpu` and made ready to time
 *  if asked (`stepper`; timeAlternately times the cases of one length together). */
export async function e1Case(
  combiner: (typeof E1_COMBINERS)[number],
  frames: number,
  gpu: Gpu | undefined,
  timeIt: boolean,
): Promise<{ row: E1Row; stepper?: Stepper }> {
  const chunks = frames / FRAMES_PER_CHUNK;
  const model = loadModel("models/mirasol.mira", {
    preset: "tiny",
    set: [combiner.set, `chunks=${chunks}`, `max_chunks=${Math.max(16, chunks)}`],
  });
  const el = model.elaborate(BATCH);
  const shapes = new Map(el.params.map((p) => [p.name, p.shape]));
  const st = buildTrainStep(el.graph, el.objective ?? el.losses[0], DEFAULT_ADAMW, (n) =>
    decaysByDefault(shapes.get(n) ?? []),
  );
  const flops = graphFlops(st.graph);
  const planned = compileGraph(
    st.graph,
    { ...(gpu?.limits ?? DEFAULT_LIMITS), ...UNLIMITED, adapterKind: gpu?.limits.adapterKind ?? "cpu" },
    { updates: st.updates },
  );
  const peakBytes = planned.buffers.reduce((s, b) => s + b.bytes, 0);
  const largestBuffer = Math.max(...planned.buffers.map((b) => b.bytes));
  let fits = true;
  let stepper: Stepper | undefined;
  if (gpu) {
    try {
      const program = compileGraph(st.graph, gpu.limits, { updates: st.updates });
      if (timeIt) {
        const ex = await Executor.create(gpu, program);
        for (const [name, v] of initParams(el.params, 1)) ex.write(name, v);
        for (const i of el.inputs)
          ex.write(
            i.name,
            standInValues(
              i.name,
              i.dtype,
              i.shape.reduce((a, b) => a * b, 1),
            ),
          );
        let t = 0;
        const step = async (): Promise<void> => {
          t++;
          for (const [name, val] of Object.entries(stepScalars(DEFAULT_ADAMW, t, 1e-3))) ex.write(name, [val]);
          await ex.run(["step.loss"]);
        };
        stepper = { step, destroy: () => ex.destroy() };
      }
    } catch (e) {
      if (!(e instanceof LimitError)) throw e;
      fits = false;
    }
  }
  const row = {
    combiner: combiner.name,
    frames,
    chunks,
    flops,
    peakBytes,
    largestBuffer,
    fits,
    dispatches: planned.dispatches.length,
  };
  return { row, ...(stepper ? { stepper } : {}) };
}

/** Rounds of timeAlternately: each stepper runs once per round after one warm-up step. */
export const E1_ROUNDS = 5;

/** Median ms per step of each stepper, timed round by round in one process (the first to run rotates), so
 *  that load from other work falls on every Combiner alike and their ratio holds where the figures drift. */
export async function timeAlternately(steppers: readonly Stepper[], rounds = E1_ROUNDS): Promise<number[]> {
  for (const s of steppers) await s.step();
  const samples = steppers.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++)
    for (let k = 0; k < steppers.length; k++) {
      const i = (k + r) % steppers.length;
      const t0 = performance.now();
      await steppers[i].step();
      samples[i].push(performance.now() - t0);
    }
  return samples.map((xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
}
