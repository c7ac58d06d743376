// eval.ts (api): `evaluate(...)` — exact-match accuracy per question type of a checkpoint trained on an
// audio-video QA set, each beside chance; optionally with the audio or the video zeroed, to show which
// modalities the model uses.
import { compileGraph } from "../compiler/program.js";
import { CheckpointError, loadCheckpoint } from "../runtime/checkpoint.js";
import { loadAvDataset } from "../runtime/data/av-format.js";
import type { Split } from "../runtime/data/chance.js";
import { getGpu } from "../runtime/device.js";
import { Executor } from "../runtime/executor.js";
import { type TypeAccuracy, avBatchDims, checkAvModel, evaluateAv } from "./av.js";
import { ModelError, loadModel } from "./model.js";

export interface EvalOptions {
  readonly checkpoint: string;
  /** data directory (default: the one the checkpoint was trained on) */
  readonly data?: string;
  readonly split?: Split;
  readonly batch?: number;
  readonly ablate?: "audio" | "video";
}

export async function evaluate(o: EvalOptions): Promise<{ split: Split; accuracy: TypeAccuracy[] }> {
  const ckpt = loadCheckpoint(o.checkpoint);
  const meta = ckpt.metadata;
  if (meta.kind !== "av-qa") throw new CheckpointError(`${o.checkpoint} was not trained on an audio-video QA set; 'mira eval' scores those (text models report validation loss in 'mira train')`);
  const model = loadModel(meta.model, { preset: meta.preset || undefined, set: JSON.parse(meta.overrides) as string[] });
  if (meta.source_sha256 !== model.sourceHash) throw new CheckpointError(`${meta.model} (or a file it imports) changed since ${o.checkpoint} was saved`);
  const ds = loadAvDataset(o.data ?? meta.data);
  const batch = o.batch ?? Number(meta.batch);
  const el = model.elaborate(avBatchDims(ds, batch));
  checkAvModel(el, ds);
  const logitsOut = el.graph.outputs.find((x) => x.name === (el.generate?.from ?? "logits"));
  if (!logitsOut) throw new ModelError("the model has no logits output to evaluate");
  const gpu = await getGpu();
  const ex = await Executor.create(gpu, compileGraph({ nodes: el.graph.nodes, outputs: [logitsOut] }, gpu.limits));
  try {
    for (const p of ex.program.params) {
      const t = ckpt.tensors.get(p.name);
      if (!t) throw new CheckpointError(`${o.checkpoint} has no tensor '${p.name}'`);
      ex.writeBytes(p.name, t.bytes);
    }
    const split = o.split ?? "test";
    const accuracy = await evaluateAv(ds, split, batch, async (b) => {
      for (const [name, v] of Object.entries(b)) if (ex.program.inputs.some((i) => i.name === name)) ex.write(name, v);
      return (await ex.run([logitsOut.name]))[logitsOut.name];
    }, o.ablate);
    return { split, accuracy };
  } finally {
    ex.destroy();
  }
}
