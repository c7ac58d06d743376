// train-model.ts: the graphs a model trains with, before any device sees them — the step (forward,
// backward, clipping and AdamW; train-step.ts) under the default weight-decay policy, and the evaluation
// graph, which reads only the loss and shares the step's parameters. runtime/trainer.ts compiles and
// runs them; `mira compile --step train` compiles the same step.
import { REMAT_KEY } from "../dsl/config.js";
import type { DType } from "./dtype.js";
import type { Graph } from "./ir.js";
import type { Elaborated } from "./lower.js";
import { masterWeights, precisionOf } from "./precision.js";
import { type RematRegion, rematRegions } from "./remat.js";
import { type AdamWConfig, type TrainStepGraph, buildTrainStep } from "./train-step.js";

export interface TrainableModel {
  /** forward graph for the training batch, with a scalar loss output */
  readonly forward: Graph;
  readonly loss: string;
  readonly params: readonly { readonly name: string; readonly dtype: DType; readonly shape: readonly number[] }[];
  /** regions of `forward` whose activations the backward pass recomputes (remat.ts); none when absent */
  readonly remat?: readonly RematRegion[];
  /** f16 values with f32 master weights: the step scales its loss dynamically (train-step.ts LOSS_SCALE) */
  readonly lossScale?: boolean;
}

/** Whether an elaborated model recomputes its blocks' activations in the backward pass: `on` where the
 *  caller says, else its config's `remat: bool` (`--set remat=true`; off when it declares none). */
export const rematOn = (el: Pick<Elaborated, "config">, on?: boolean): boolean => on ?? el.config[REMAT_KEY] === true;

/** An elaborated model as trained, on its loss; with rematerialisation (`rematOn`), every block — each
 *  outermost repeat iteration or scan step (remat.ts) — is recomputed in the backward pass. */
export function trainableModel(el: Elaborated, loss: string, remat?: boolean): TrainableModel {
  // A model stored in f16 trains with mixed precision: f32 master weights and moments, f16 forward and
  // backward passes, and a dynamic loss scale (compiler/precision.ts, train-step.ts).
  const mixed = precisionOf(el.config) === "f16";
  return {
    forward: mixed ? masterWeights(el.graph) : el.graph,
    loss,
    params: mixed ? el.params.map((p) => ({ ...p, dtype: p.dtype === "f16" ? "f32" : p.dtype })) : el.params,
    ...(rematOn(el, remat) ? { remat: rematRegions(el) } : {}),
    ...(mixed ? { lossScale: true } : {}),
  };
}

/** Matrices and embeddings decay; biases, norm scales and other vectors do not. */
export const decaysByDefault = (shape: readonly number[]): boolean => shape.length >= 2;

/** The training step, with weight decay on the parameters `decaysByDefault` picks. */
export function defaultTrainStep(model: TrainableModel, adamw: AdamWConfig): TrainStepGraph {
  const shapes = new Map(model.params.map((p) => [p.name, p.shape]));
  return buildTrainStep(model.forward, model.loss, adamw, (name) => decaysByDefault(shapes.get(name) ?? []), {
    remat: model.remat,
    lossScale: model.lossScale,
  });
}

/** The forward graph cut down to the loss: mean loss over validation batches, no gradients. */
export const lossGraph = (model: TrainableModel): Graph => ({
  nodes: model.forward.nodes,
  outputs: model.forward.outputs.filter((o) => o.name === model.loss),
});
