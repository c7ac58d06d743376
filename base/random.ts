// random.ts (base): the counter-based random numbers shared bit-for-bit by the CPU reference, the WGSL
// random kernels (compiler/wgsl/helpers.ts `pcg_hash`) and the data sets — a pure function of
// (seed, stream, index), so any element can be drawn without drawing the ones before it.

/** PCG-style 32-bit integer hash (the same constants as compiler/wgsl/helpers.ts `pcg_hash`). */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Counter-based random bits for element `index` of call site `stream` under `seed`. */
export function randomBits(seed: number, stream: number, index: number): number {
  return pcgHash((index ^ pcgHash((seed ^ pcgHash(stream >>> 0)) >>> 0)) >>> 0);
}

/** Uniform in [0, 1) from the top 24 bits (exact in f32). */
export const bitsToUnit = (bits: number): number => (bits >>> 8) * 2 ** -24;

/** Standard normal by Box–Muller from two independent counters (2·index and 2·index+1). */
export function randomNormal(seed: number, stream: number, index: number): number {
  const u1 = ((randomBits(seed, stream, 2 * index) >>> 8) + 1) * 2 ** -24; // (0, 1]
  const u2 = bitsToUnit(randomBits(seed, stream, 2 * index + 1));
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
