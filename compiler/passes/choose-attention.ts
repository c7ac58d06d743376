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
 * Scores (f32) above this many bytes take the flash kernels under "auto". A cost rule, measured on
 * llvmpipe (2 cores; bench/attention.ts, B·H 32, D 32; forward / backward ms):
 *            T 128 (2 MiB)   T 256 (8 MiB)   T 512 (32 MiB)   T 1024 (128 MiB)
 *   lowered  21 / 46          91 / 213        324 / 701        1043 / 2531      (no mask)
 *   flash    27 / 79 (r 1)    49 / 132        187 / 426         643 / 1607      (r 4 from T 256)
 * (causal: flash 1.3× faster at T 128, 3–4× from T 256). Flash kernels with 4 rows per invocation
 * beat the lowered path even at T 128 (12 / ≈ 28 ms), but llvmpipe takes 2–15 s to compile each of the
 * four (about 25 s per attention shape, once: the driver caches them on disk), against well under a
 * second for r = 1, which is slower than the lowered path. So small attention — most layers of the
 * models here, at their test and demo sizes — stays lowered, and above 4 MiB of scores (2^20 pairs)
 * the run time saved pays for the compile; wgsl/attention.ts uses r = 4 exactly there.
 */
export const FLASH_MIN_SCORE_BYTES = 4 * 2 ** 20;

/** Bytes of the f32 scores an attention over q [..., Tq, D] and k [..., Tk, D] would store. */
export function scoreBytes(q: Node, k: Node): number {
  return prod(q.shape.slice(0, -1)) * k.shape[k.shape.length - 2] * 4;
}

/** The path of one attention node: its `impl` when set, else the policy, else the size rule. */
export function chooseAttention(
  inputs: readonly Node[],
  attrs: Attrs,
  opts: AttentionChoice = {},
): "flash" | "lowered" {
  if (attrs.impl) return attrs.impl;
  const policy = opts.attention ?? "auto";
  if (policy !== "auto") return policy;
  const bytes = scoreBytes(inputs[0], inputs[1]);
  return bytes > FLASH_MIN_SCORE_BYTES || bytes > (opts.maxBindingBytes ?? DEFAULT_LIMITS.maxStorageBufferBindingSize)
    ? "flash"
    : "lowered";
}

/** `attrs` of an op with the attention path fixed (only attention nodes carry one). */
export function fixAttentionImpl(op: string, inputs: readonly Node[], attrs: Attrs, opts: AttentionChoice = {}): Attrs {
  return op === "attention" && !attrs.impl ? { ...attrs, impl: chooseAttention(inputs, attrs, opts) } : attrs;
}
