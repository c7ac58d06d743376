// train-step.ts: one training step as one graph — forward, backward (grad.ts), global-norm gradient
// clipping and AdamW with decoupled weight decay — so a step is one program and one submit.
// Values that change every step (the scheduled, bias-corrected step size) are scalar inputs, so the
// program is compiled once. Parameters and optimizer moments are `param`s; their new values are
// outputs that the runtime copies back into them after the step (`updates`). A step whose gradient
// norm is not finite leaves every parameter and moment unchanged.
import { GraphBuilder } from "./builder.js";
import { type GradOptions, differentiate } from "./grad.js";
import type { Graph, Node } from "./ir.js";
import { binary, broadcastTo, reduce, scalar, unary } from "./ops/helpers.js";

export interface AdamWConfig {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Global gradient-norm clip; Infinity disables clipping. */
  readonly clipNorm: number;
}

export const DEFAULT_ADAMW: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clipNorm: 1.0 };

/** Scalar inputs of a step program, set by the host each step. */
export const STEP_INPUTS = {
  /** lr_t·√(1−β2^t)/(1−β1^t): the bias-corrected step size. */
  stepSize: "opt.step_size",
  /** ε·√(1−β2^t), so that step_size·m/(√v + eps_hat) equals lr_t·m̂/(√v̂ + ε) exactly. */
  epsHat: "opt.eps_hat",
  /** lr_t·weight_decay (decoupled decay follows the schedule but not the bias correction). */
  decay: "opt.decay",
} as const;

export const STEP_OUTPUTS = { loss: "step.loss", gradNorm: "step.grad_norm" } as const;

export const momentName = (which: "m" | "v", param: string): string => `opt.${which}.${param}`;
const newName = (name: string): string => `new:${name}`;

export interface TrainStepGraph {
  readonly graph: Graph;
  /** output name → the param it overwrites after each step */
  readonly updates: Readonly<Record<string, string>>;
  readonly params: readonly string[];
}

/**
 * @param model forward graph with a scalar loss output `loss`
 * @param decays whether a param gets weight decay (conventionally matrices yes, biases and norms no)
 * @param grad how attention is differentiated (passes/choose-attention.ts; by score size by default)
 */
export function buildTrainStep(model: Graph, loss: string, cfg: AdamWConfig, decays: (param: string) => boolean, grad: Pick<GradOptions, "attention" | "maxBindingBytes"> = {}): TrainStepGraph {
  const b = new GraphBuilder();
  const d = differentiate(b, model, loss, grad);
  const stepSize = b.input(STEP_INPUTS.stepSize, "f32", []);
  const epsHat = b.input(STEP_INPUTS.epsHat, "f32", []);
  const decay = b.input(STEP_INPUTS.decay, "f32", []);
  const params = [...d.forward.values()].filter((n) => n.op === "param");

  // Global norm over all gradients, then one scale for all: min(1, clip / (norm + 1e-6)).
  let sq: Node | undefined;
  for (const p of params) {
    const s = reduce(b, "reduce_sum", unary(b, "square", d.grads.get(p.attrs.name!)!), p.shape.map((_, i) => i));
    sq = sq ? binary(b, "add", sq, s) : s;
  }
  const norm = unary(b, "sqrt", sq ?? scalar(b, 0));
  const finite = b.add("is_finite", [norm]);
  const scale = Number.isFinite(cfg.clipNorm) ? binary(b, "min", scalar(b, 1), binary(b, "div", scalar(b, cfg.clipNorm), binary(b, "add", norm, scalar(b, 1e-6)))) : scalar(b, 1);

  const updates: Record<string, string> = {};
  const keep = (next: Node, prev: Node): Node => b.add("select", [broadcastTo(b, finite, prev.shape), next, prev]);
  for (const p of params) {
    const name = p.attrs.name!;
    const g = binary(b, "mul", d.grads.get(name)!, scale);
    const m = b.param(momentName("m", name), p.dtype, p.shape);
    const v = b.param(momentName("v", name), p.dtype, p.shape);
    const m2 = binary(b, "add", binary(b, "mul", m, scalar(b, cfg.beta1)), binary(b, "mul", g, scalar(b, 1 - cfg.beta1)));
    const v2 = binary(b, "add", binary(b, "mul", v, scalar(b, cfg.beta2)), binary(b, "mul", unary(b, "square", g), scalar(b, 1 - cfg.beta2)));
    const adam = binary(b, "div", binary(b, "mul", m2, stepSize), binary(b, "add", unary(b, "sqrt", v2), epsHat));
    let p2 = binary(b, "sub", p, adam);
    if (cfg.weightDecay > 0 && decays(name)) p2 = binary(b, "sub", p2, binary(b, "mul", p, decay));
    for (const [target, next, prev] of [[name, p2, p], [momentName("m", name), m2, m], [momentName("v", name), v2, v]] as const) {
      b.output(newName(target), keep(next, prev));
      updates[newName(target)] = target;
    }
  }
  b.output(STEP_OUTPUTS.loss, d.loss);
  b.output(STEP_OUTPUTS.gradNorm, norm);
  return { graph: b.build(), updates, params: params.map((p) => p.attrs.name!) };
}

/** Host-side values of the step inputs for step t (1-based) at scheduled learning rate lr. */
export function stepScalars(cfg: AdamWConfig, t: number, lr: number): Record<string, number> {
  const c1 = 1 - cfg.beta1 ** t;
  const c2 = Math.sqrt(1 - cfg.beta2 ** t);
  return { [STEP_INPUTS.stepSize]: (lr * c2) / c1, [STEP_INPUTS.epsHat]: cfg.eps * c2, [STEP_INPUTS.decay]: lr * cfg.weightDecay };
}
