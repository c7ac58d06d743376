// workload.ts (bench/peers): what every engine of the peer benchmark computes, with the same inputs —
// a pre-norm transformer block (forward, and forward + backward of loss = mean(output)) and a fused
// elementwise kernel — and the interface an engine implements. Plain data and functions only: the tfjs
// engine is bundled with esbuild and imports this file too.

export const BLOCK = { B: 8, T: 128, D: 128, HEADS: 4, HIDDEN: 512, EPS: 1e-5 } as const;

/** The block's parameters in [in, out] layout (y = x·w + b), by the short names every engine uses. */
export const PARAMS: readonly (readonly [string, readonly number[]])[] = [
  ["ln1_g", [BLOCK.D]],
  ["ln1_b", [BLOCK.D]],
  ["wq", [BLOCK.D, BLOCK.D]],
  ["bq", [BLOCK.D]],
  ["wk", [BLOCK.D, BLOCK.D]],
  ["bk", [BLOCK.D]],
  ["wv", [BLOCK.D, BLOCK.D]],
  ["bv", [BLOCK.D]],
  ["wo", [BLOCK.D, BLOCK.D]],
  ["bo", [BLOCK.D]],
  ["ln2_g", [BLOCK.D]],
  ["ln2_b", [BLOCK.D]],
  ["w1", [BLOCK.D, BLOCK.HIDDEN]],
  ["b1", [BLOCK.HIDDEN]],
  ["w2", [BLOCK.HIDDEN, BLOCK.D]],
  ["b2", [BLOCK.D]],
];

export const X_SHAPE: readonly number[] = [BLOCK.B, BLOCK.T, BLOCK.D];

/** Names whose gradient the backward pass computes: every parameter and the input x. */
export const GRAD_NAMES: readonly string[] = [...PARAMS.map(([n]) => n), "x"];

/** y = gelu(x·a + b)·c on N f32 elements; a, b, c are runtime scalars (rank-0 tensors), gelu is exact (erf). */
export const ELEMENTWISE = { N: 4 * 1024 * 1024, a: 1.5, b: 0.25, c: 0.5 } as const;
/** bytes moved per run: x read, y written (the scalars are negligible) */
export const ELEMENTWISE_BYTES = 8 * ELEMENTWISE.N;

export type Values = Readonly<Record<string, Float32Array>>;

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Deterministic values in [−scale/2, scale/2) from a 32-bit LCG (as harness.ts pseudoValues). */
function lcg(n: number, seed: number, scale: number, offset = 0): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = offset + ((s >>> 8) / 2 ** 24 - 0.5) * scale;
  }
  return out;
}

/** Weights (Xavier-uniform matrices, small biases, γ near 1) and the input x ∈ [−1, 1). */
export function blockValues(): Values {
  const out: Record<string, Float32Array> = {};
  PARAMS.forEach(([name, shape], i) => {
    const seed = 1000 + i * 7919;
    if (shape.length === 2) out[name] = lcg(size(shape), seed, 2 * Math.sqrt(6 / (shape[0] + shape[1])));
    else if (name.endsWith("_g")) out[name] = lcg(size(shape), seed, 0.2, 1);
    else out[name] = lcg(size(shape), seed, 0.2);
  });
  out.x = lcg(size(X_SHAPE), 7, 2);
  return out;
}

export function elementwiseInput(): Float32Array {
  return lcg(ELEMENTWISE.N, 11, 6); // x ∈ [−3, 3): gelu's curved part
}

/** What one engine offers. Every timed call ends by reading one scalar back to the host. */
export interface PeerEngine {
  readonly name: string;
  /** block forward: y and loss = mean(y); resolves with the loss */
  forward(): Promise<number>;
  /** forward + gradients of the loss w.r.t. every parameter and x; resolves with the loss */
  forwardBackward(): Promise<number>;
  /** y = gelu(x·a + b)·c; resolves with y[0] */
  elementwise(): Promise<number>;
  /** full results, for the check against the reference (not timed) */
  blockResults(): Promise<{ y: Float32Array; loss: number; grads: Values }>;
  elementwiseResult(): Promise<Float32Array>;
  /** dispatches of one run when the engine knows them itself (mira); otherwise they are counted */
  readonly knownDispatches?: {
    readonly forward: number;
    readonly forwardBackward: number;
    readonly elementwise: number;
  };
  dispose(): void;
}

/** Largest |got − ref|, and that divided by the tensor's scale: its largest |ref|, or `floor` if larger. */
export function maxAbs(xs: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m = Math.max(m, Math.abs(xs[i]));
  return m;
}

export function maxDiff(got: ArrayLike<number>, ref: ArrayLike<number>, floor = 0): { abs: number; rel: number } {
  if (got.length !== ref.length) return { abs: Infinity, rel: Infinity };
  let abs = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    abs = Number.isNaN(d) ? Infinity : Math.max(abs, d);
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  scale = Math.max(scale, floor);
  return { abs, rel: scale > 0 ? abs / scale : abs };
}
