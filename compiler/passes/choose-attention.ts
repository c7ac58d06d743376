// choose-attention.ts: which kernels run an `attention` node — its lowering (matmul, mask, softmax,
// matmul: fast tuned kernels, but the scores [..., Tq, Tk] are stored, in the forward pass and several
// times over in the backward one) or the flash-attention ops (ops/attention.ts: memory linear in T).
// The choice is recorded on the node (`impl`) when the gradient is built (grad.ts), so that a forward
// pass and its backward always agree; nodes without it (inference graphs) are decided by the same rule
// when they are lowered (lower-composites.ts).
import type { Attrs, Node } from "../ir.js";
import { DEFAULT_LIMITS } from "../limits.js";
import { prod } from "../shape.js";

/** "auto" (the default) decides by the size of the scores; the others force a path (tests, A/B runs). */
export type AttentionPolicy = "flash" | "lowered" | "auto";

export interface AttentionChoice {
  readonly attention?: AttentionPolicy;
  /** Largest buffer the device binds: scores above it cannot be lowered at all (default: WebGPU's
   *  guaranteed minimum, 128 MiB, which every adapter meets). */
  readonly maxBindingBytes?: number;
}

/**
 * Scores (f32) above this many bytes take the flash kernels under "auto". Measured on llvmpipe (2 cores,
 * bench/attention.ts, forward + backward of B=8 H=4 D=32): the lowered path wins at T=128 (2 MiB of
 * scores) thanks to the tuned matmul kernels; flash wins from T=512 (32 MiB) up, and its memory stays
 * linear. 8 MiB (T=256 at B·H=32) sits between the two measured regimes.
 */
export const FLASH_MIN_SCORE_BYTES = 8 * 2 ** 20;

/** Bytes of the f32 scores an attention over q [..., Tq, D] and k [..., Tk, D] would store. */
export function scoreBytes(q: Node, k: Node): number {
  return prod(q.shape.slice(0, -1)) * k.shape[k.shape.length - 2] * 4;
}

/** The path of one attention node: its `impl` when set, else the policy, else the size rule. */
export function chooseAttention(inputs: readonly Node[], attrs: Attrs, opts: AttentionChoice = {}): "flash" | "lowered" {
  if (attrs.impl) return attrs.impl;
  const policy = opts.attention ?? "auto";
  if (policy !== "auto") return policy;
  const bytes = scoreBytes(inputs[0], inputs[1]);
  return bytes > FLASH_MIN_SCORE_BYTES || bytes > (opts.maxBindingBytes ?? DEFAULT_LIMITS.maxStorageBufferBindingSize) ? "flash" : "lowered";
}

/** `attrs` of an op with the attention path fixed (only attention nodes carry one). */
export function fixAttentionImpl(op: string, inputs: readonly Node[], attrs: Attrs, opts: AttentionChoice = {}): Attrs {
  return op === "attention" && !attrs.impl ? { ...attrs, impl: chooseAttention(inputs, attrs, opts) } : attrs;
}
