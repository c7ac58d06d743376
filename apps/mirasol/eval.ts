// eval.ts (mirasol): `evaluate(...)` — exact-match accuracy per question type of a checkpoint trained on an
// audio-video QA set, each beside chance; optionally with the audio or the video zeroed, to show which
// modalities the model uses; optionally at other sizes (`set: ["chunks=8"]`, resize.ts): longer clips
// than it was trained on.
import { loadAvDataset } from "../../datasets/av-format.js";
import type { Split } from "../../datasets/chance.js";
import { type TypeAccuracy, avBatchDims, checkAvModel, evaluateAv, logitsRunner } from "./av.js";
import { ModelError } from "../../api/model.js";
import { checkSameParams, withSizes } from "./resize.js";
import { openTrained, weightedExecutor } from "../../api/trained.js";

export interface EvalOptions {
  readonly checkpoint: string;
  /** data directory (default: the one the checkpoint was trained on) */
  readonly data?: string;
  readonly split?: Split;
  readonly batch?: number;
  readonly ablate?: "audio" | "video";
  /** integer config overrides that keep every parameter's shape, e.g. ["chunks=8"] */
  readonly set?: readonly string[];
}

export async function evaluate(o: EvalOptions): Promise<{ split: Split; accuracy: TypeAccuracy[] }> {
  const trained = withSizes(openTrained(o.checkpoint, "av-qa", "'mira eval'"), o.set ?? []);
  const { meta, model } = trained;
  const ds = loadAvDataset(o.data ?? meta.data);
  const batch = o.batch ?? Number(meta.batch);
  const el = model.elaborate(avBatchDims(ds, batch));
  if (o.set?.length) checkSameParams(trained, el.params, o.set);
  checkAvModel(el, ds);
  const logitsOut = el.graph.outputs.find((x) => x.name === (el.generate?.from ?? "logits"));
  if (!logitsOut) throw new ModelError("the model has no logits output to evaluate");
  const ex = await weightedExecutor(trained, el.graph, logitsOut);
  try {
    const split = o.split ?? "test";
    const accuracy = await evaluateAv(ds, split, batch, logitsRunner(ex, logitsOut.name), o.ablate);
    return { split, accuracy };
  } finally {
    ex.destroy();
  }
}
