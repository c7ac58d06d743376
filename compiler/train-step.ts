// train-step.ts: one training step as one graph — forward, backward (grad.ts), global-norm gradient
// clipping and AdamW with decoupled weight decay — so a step is one program and one submit.
// Values that change every step (the scheduled, bias-corrected step size) are scalar inputs, so the
// program is compiled once. Parameters and optimizer moments are `param`s; their new values are
// outputs that the runtime copies back into them after the step (`updates`) — or, for the adamw ops of
// the default multi-tensor form, that the kernels write in place (passes/optimizer.ts). A step whose
// gradient norm is not finite leaves every parameter and moment unchanged.
import { GraphBuilder } from "./builder.js";
import { type GradOptions, differentiate } from "./grad.js";
import type { Graph, Node } from "./ir.js";
import { binary, reduce, scalar, unary } from "./ops/helpers.js";
import { adamwPrimitives, adamwState, clipScale } from "./ops/optim.js";

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

export const STEP_OUTPUTS = { loss: "step.loss", gradNorm: "step.grad_norm", lossScale: "step.loss_scale" } as const;

/**
 * Dynamic loss scaling, for a model whose values are f16 (compiler/precision.ts): the backward pass
 * starts from S = 2^(start + e) instead of 1, so that small gradients do not underflow f16, and each
 * gradient is multiplied by 1/S before clipping and AdamW (exact: S is a power of 2). e and the count c of
 * finite steps in a row are optimizer state, zero at the start (as a new buffer is), updated on the
 * device: a step whose gradient norm is not finite — an f16 overflow, which AdamW's guard skips — lowers
 * e by one, and `every` finite steps in a row raise it by one; S stays within [1, 2^15], below f16's
 * largest value.
 */
export const LOSS_SCALE = {
  start: 10,
  every: 200,
  lowest: -10,
  highest: 5,
  exponent: "opt.loss_scale.exponent",
  finiteSteps: "opt.loss_scale.finite_steps",
} as const;

export const momentName = (which: "m" | "v", param: string): string => `opt.${which}.${param}`;
const newName = (name: string): string => `new:${name}`;

export interface TrainStepGraph {
  readonly graph: Graph;
  /** output name → the param it overwrites after each step */
  readonly updates: Readonly<Record<string, string>>;
  readonly params: readonly string[];
}

/** How the optimizer is emitted: "multi-tensor" (default) as one sum_squares and one adamw node per
 *  parameter, which compile to a few dispatches for all parameters (ops/optim.ts); "per-parameter" as
 *  elementwise primitives per parameter, fused per parameter — the earlier path, kept as the baseline
 *  the multi-tensor one is tested against. */
export type OptimizerForm = "multi-tensor" | "per-parameter";

/**
 * @param model forward graph with a scalar loss output `loss`
 * @param decays whether a param gets weight decay (conventionally matrices yes, biases and norms no)
 * @param grad how attention is differentiated (passes/choose-attention.ts; by score size by default) and
 *   which regions' activations the backward pass recomputes (remat.ts; none by default)
 */
export function buildTrainStep(
  model: Graph,
  loss: string,
  cfg: AdamWConfig,
  decays: (param: string) => boolean,
  grad: Pick<GradOptions, "attention" | "maxBindingBytes" | "remat"> & { readonly lossScale?: boolean } = {},
  form: OptimizerForm = "multi-tensor",
): TrainStepGraph {
  const b = new GraphBuilder();
  const scaling = grad.lossScale ? lossScaleOf(b) : undefined;
  const d = differentiate(b, model, loss, {
    ...grad,
    ...(scaling ? { seed: scaling.scale, gradScale: scaling.inverse } : {}),
  });
  const stepSize = b.input(STEP_INPUTS.stepSize, "f32", []);
  const epsHat = b.input(STEP_INPUTS.epsHat, "f32", []);
  const decay = b.input(STEP_INPUTS.decay, "f32", []);
  const params = [...d.forward.values()].filter((n) => n.op === "param");
  const gradOf = (p: Node): Node => d.grads.get(p.attrs.name!)!;

  // Global norm over all gradients; each update scales its gradient by min(1, clip / (norm + 1e-6)).
  const norm = unary(
    b,
    "sqrt",
    form === "multi-tensor" ? globalSquares(b, params.map(gradOf)) : perParameterSquares(b, params.map(gradOf)),
  );
  const shared = form === "per-parameter" ? clipScale(b, norm, cfg.clipNorm) : undefined;

  const updates: Record<string, string> = {};
  for (const p of params) {
    const name = p.attrs.name!;
    const m = b.param(momentName("m", name), p.dtype, p.shape);
    const v = b.param(momentName("v", name), p.dtype, p.shape);
    const attrs = {
      beta1: cfg.beta1,
      beta2: cfg.beta2,
      clipNorm: cfg.clipNorm,
      decays: cfg.weightDecay > 0 && decays(name),
    };
    let next: { p: Node; m: Node; v: Node };
    if (shared) next = adamwPrimitives(b, { p, m, v, g: gradOf(p), ...shared, stepSize, epsHat, decay }, attrs);
    else {
      const stacked = b.add("adamw", [p, m, v, gradOf(p), norm, stepSize, epsHat, decay], { adamw: attrs });
      next = { p: adamwState(b, stacked, 0), m: adamwState(b, stacked, 1), v: adamwState(b, stacked, 2) };
    }
    for (const [target, value] of [
      [name, next.p],
      [momentName("m", name), next.m],
      [momentName("v", name), next.v],
    ] as const) {
      b.output(newName(target), value);
      updates[newName(target)] = target;
    }
  }
  if (scaling) {
    for (const [target, value] of nextLossScale(b, scaling, norm)) {
      b.output(newName(target), value);
      updates[newName(target)] = target;
    }
    b.output(STEP_OUTPUTS.lossScale, scaling.scale);
  }
  b.output(STEP_OUTPUTS.loss, d.loss);
  b.output(STEP_OUTPUTS.gradNorm, norm);
  return { graph: b.build(), updates, params: params.map((p) => p.attrs.name!) };
}

interface LossScale {
  readonly exponent: Node;
  readonly finiteSteps: Node;
  /** S and 1/S, f32 scalars */
  readonly scale: Node;
  readonly inverse: Node;
}

function lossScaleOf(b: GraphBuilder): LossScale {
  const exponent = b.param(LOSS_SCALE.exponent, "f32", []);
  const finiteSteps = b.param(LOSS_SCALE.finiteSteps, "f32", []);
  const power = binary(b, "add", exponent, scalar(b, LOSS_SCALE.start));
  const two = scalar(b, 2);
  const scale = binary(b, "pow", two, power);
  const inverse = binary(b, "pow", two, unary(b, "neg", power));
  return { exponent, finiteSteps, scale, inverse };
}

/** The loss-scale state after a step whose global gradient norm is `norm` (LOSS_SCALE). */
function nextLossScale(b: GraphBuilder, s: LossScale, norm: Node): [string, Node][] {
  const finite = b.add("is_finite", [norm]);
  const count = binary(b, "add", s.finiteSteps, scalar(b, 1));
  const grow = binary(b, "ge", count, scalar(b, LOSS_SCALE.every));
  const pick = (c: Node, yes: Node, no: Node): Node => b.add("select", [c, yes, no]);
  const up = binary(b, "min", binary(b, "add", s.exponent, scalar(b, 1)), scalar(b, LOSS_SCALE.highest));
  const down = binary(b, "max", binary(b, "sub", s.exponent, scalar(b, 1)), scalar(b, LOSS_SCALE.lowest));
  const zero = scalar(b, 0);
  return [
    [LOSS_SCALE.exponent, pick(finite, pick(grow, up, s.exponent), down)],
    [LOSS_SCALE.finiteSteps, pick(finite, pick(grow, zero, count), zero)],
  ];
}

/** Σ of every gradient's squares: one sum_squares over all of them, then one sum. */
function globalSquares(b: GraphBuilder, grads: readonly Node[]): Node {
  return grads.length ? reduce(b, "reduce_sum", b.add("sum_squares", grads), [0]) : scalar(b, 0);
}

/** The same sum as a reduction per gradient and a chain of adds (the per-parameter form). */
function perParameterSquares(b: GraphBuilder, grads: readonly Node[]): Node {
  let sq: Node | undefined;
  for (const g of grads) {
    const s = reduce(
      b,
      "reduce_sum",
      unary(b, "square", g),
      g.shape.map((_, i) => i),
    );
    sq = sq ? binary(b, "add", sq, s) : s;
  }
  return sq ?? scalar(b, 0);
}

/** Host-side values of the step inputs for step t (1-based) at scheduled learning rate lr. */
export function stepScalars(cfg: AdamWConfig, t: number, lr: number): Record<string, number> {
  const c1 = 1 - cfg.beta1 ** t;
  const c2 = Math.sqrt(1 - cfg.beta2 ** t);
  return {
    [STEP_INPUTS.stepSize]: (lr * c2) / c1,
    [STEP_INPUTS.epsHat]: cfg.eps * c2,
    [STEP_INPUTS.decay]: lr * cfg.weightDecay,
  };
}
