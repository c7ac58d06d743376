// stand-in.ts: input values for timing a program when no data is at hand (profiles, E1's step times).
// Token ids cycle through small ids, masks mark every fourth position, everything else is a smooth
// pattern in [−0.5, 0.5]; the work a program does does not depend on them.

export function standInValues(name: string, dtype: string, n: number): Float32Array | Int32Array {
  if (dtype === "i32") return Int32Array.from({ length: n }, (_, k) => 3 + (k % 20));
  if (name.includes("mask")) return Float32Array.from({ length: n }, (_, k) => (k % 4 === 3 ? 1 : 0));
  return Float32Array.from({ length: n }, (_, k) => 0.5 * Math.sin(0.7 * k + 0.3));
}
