// helpers.ts: WGSL helper functions that kernel expressions call by name; a kernel includes only those
// it registered. The hash must stay bit-identical to ops/scalar-math.ts.

export const WGSL_HELPERS: Readonly<Record<string, string>> = {
  // Abramowitz & Stegun 7.1.26 refined: |error| < 1.5e-7, below f32 resolution of erf near 1.
  // Below |x| = 0.5, 1 − y cancels in f32 (measured |error| up to 5.9e-7 near 0), so the Maclaurin
  // series takes over there: truncated after x^13, it is within 1e-9 of erf, i.e. f32-exact.
  erf_f32:
    `fn erf_f32(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.5) {
    let z = x * x;
    return x * (1.1283791670955126 + z * (-0.3761263890318375 + z * (0.11283791670955126 + z * (-0.02686617064513125
      + z * (0.005223977625442188 + z * (-0.0008548327023450852 + z * 0.00012055332981789664))))));
  }
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592)` +
    ` * t * exp(-a * a);
  return select(y, -y, x < 0.0);
}`,
  // Rounds to the nearest f16 value (ties to even) with integer operations: llvmpipe folds
  // f32(f16(x)) and unpack2x16float(pack2x16float(x)) away, keeping full f32 precision.
  round_f16: `fn round_f16(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7f800000u) == 0x7f800000u) { return x; }
  let a = bitcast<f32>(b & 0x7fffffffu);
  if (a >= 65520.0) { return bitcast<f32>((b & 0x80000000u) | 0x7f800000u); }
  if (a < 6.103515625e-5) { return round(x * 16777216.0) / 16777216.0; }
  return bitcast<f32>((b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u);
}`,
  pcg_hash: `fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}`,
  random_bits: `fn random_bits(seed: u32, stream: u32, index: u32) -> u32 {
  return pcg_hash(index ^ pcg_hash(seed ^ pcg_hash(stream)));
}`,
  random_uniform: `fn random_uniform(seed: u32, stream: u32, index: u32) -> f32 {
  return f32(random_bits(seed, stream, index) >> 8u) * 5.9604644775390625e-8;
}`,
  // −log(u) for u in (0, 1]. Near 1 a WGSL log is only bounded in absolute error (2^-21; llvmpipe's
  // gives −log(1 − 2^-24) 30 % off), so there it is −log(1 − d) = 2·atanh(s), s = d / (2 − d), by its
  // odd series to s^9 (d = 1 − u is exact; s ≤ 1/7 keeps the truncation below 1e-8 relative).
  neg_log_unit: `fn neg_log_unit(u: f32) -> f32 {
  let d = 1.0 - u;
  let s = d / (2.0 - d);
  let s2 = s * s;
  let series = 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0)))));
  return select(-log(u), series, d < 0.25);
}`,
  random_normal: `fn random_normal(seed: u32, stream: u32, index: u32) -> f32 {
  let u1 = f32((random_bits(seed, stream, 2u * index) >> 8u) + 1u) * 5.9604644775390625e-8;
  let u2 = f32(random_bits(seed, stream, 2u * index + 1u) >> 8u) * 5.9604644775390625e-8;
  return sqrt(2.0 * neg_log_unit(u1)) * cos(6.283185307179586 * u2);
}`,
};

/** Helpers each helper itself calls, so that registering one pulls in its dependencies. */
export const HELPER_DEPS: Readonly<Record<string, readonly string[]>> = {
  random_bits: ["pcg_hash"],
  random_uniform: ["random_bits"],
  random_normal: ["random_bits", "neg_log_unit"],
};

/** WGSL text of the helpers named, dependencies first, each once. */
export function helperSource(names: Iterable<string>): string {
  const done = new Set<string>();
  const out: string[] = [];
  const visit = (n: string): void => {
    if (done.has(n)) return;
    done.add(n);
    for (const d of HELPER_DEPS[n] ?? []) visit(d);
    out.push(WGSL_HELPERS[n]);
  };
  for (const n of names) visit(n);
  return out.join("\n\n");
}

/** A WGSL literal of a JS number in the compute type of `dtype` (f16 computes in f32). */
export function literal(value: number, dtype: string): string {
  switch (dtype) {
    case "bool":
      return value ? "true" : "false";
    case "i32":
      return value === -2147483648 ? "i32(-2147483647 - 1)" : `${value | 0}i`;
    case "u32":
      return `${value >>> 0}u`;
    default: {
      if (Number.isNaN(value)) return "bitcast<f32>(0x7fc00000u)";
      if (value === Infinity) return "bitcast<f32>(0x7f800000u)";
      if (value === -Infinity) return "bitcast<f32>(0xff800000u)";
      const f = Math.fround(value);
      if (f === Infinity || f === -Infinity) return literal(f, dtype);
      const s = String(f);
      return `f32(${/[.eE]/.test(s) ? s : `${s}.0`})`;
    }
  }
}
