// scalar-math.ts: float64 reference math that JavaScript lacks (erf), WGSL's integer rules, and (from
// base/random.ts) the counter-based hash shared bit-for-bit by the CPU reference and the WGSL random kernels.
export { bitsToUnit, pcgHash, randomBits, randomNormal } from "../../base/random.js";

/** erf to ~1e-15: Taylor series near 0, Lentz continued fraction for erfc beyond. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (Number.isNaN(x)) return NaN;
  if (a > 6) return Math.sign(x);
  if (a < 2.5) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * (2 / Math.sqrt(Math.PI));
  }
  // erfc(a) = exp(-a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + 2/(a + …)))))
  const tiny = 1e-300;
  let f = a;
  let c = a;
  let d = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    d = a + an * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = a + an / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** Integer division as WGSL defines it: x / 0 = x, and i32 MIN / -1 = MIN. */
export function wgslIntDiv(a: number, b: number, signed: boolean): number {
  if (b === 0) return a;
  if (signed && a === -2147483648 && b === -1) return a;
  return Math.trunc(a / b);
}

/** Float → int conversion as WGSL defines it: truncate, then clamp to the target's range — to the
 *  part of it an f32 can hold, so the top is 2^31 − 128 (i32) and 2^32 − 256 (u32), not 2^31 − 1. */
export function floatToInt(x: number, signed: boolean): number {
  if (Number.isNaN(x)) return 0;
  const t = Math.trunc(x);
  return signed ? Math.min(2147483520, Math.max(-2147483648, t)) : Math.min(4294967040, Math.max(0, t));
}
