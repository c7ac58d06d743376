// elementwise-four.test.ts: elementwise kernels that take four elements per index (compiler/wgsl/fused.ts):
// when they do (a multiple of 4 elements, reads at the kernel's own index or one-element, no view) and that
// they compute what the reference does — every dtype, one-element operands, index-dependent ops (iota),
// a group with two stores, and sizes of one index up to past a workgroup's 256 indices, beside sizes that
// are not multiples of 4 (one element per index).
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import { DTYPES, type DType, isFloat } from "../../compiler/dtype.js";
import type { Graph } from "../../compiler/ir.js";
import { compileGraph } from "../../compiler/program.js";
import { binary } from "../../compiler/ops/helpers.js";
import { testGpu } from "../helpers/gpu.js";
import { expectGpuMatchesReference, feedsFor, prng, runs, seedArb, valuesOf } from "./gen.js";

/** Element counts: multiples of 4 (1, 2, 3, 13, 64 and 257 indices) and others (1, 2, 3, 5, 13 and 1027). */
const WIDE = [4, 8, 12, 52, 256, 1028];
const NARROW = [1, 2, 3, 5, 13, 1027];

/** y = cast(cast(x, f32) · s + cast(z, f32), dtype), and w = x (or ¬x) stored too: a group of two stores,
 *  a one-element read s, and every dtype's load and store. */
function chain(dtype: DType, n: number): Graph {
  const b = new GraphBuilder();
  const x = b.input("x", dtype, [n]);
  const z = b.input("z", dtype, [n]);
  const s = b.input("s", "f32", []);
  const f = (v: ReturnType<typeof b.input>) => (dtype === "f32" ? v : b.add("cast", [v], { dtype: "f32" }));
  const sum = binary(b, "add", binary(b, "mul", f(x), s), f(z));
  b.output("y", dtype === "f32" ? sum : b.add("cast", [sum], { dtype }));
  b.output("w", dtype === "bool" ? b.add("not", [x]) : isFloat(dtype) ? b.add("neg", [x]) : x);
  return b.build();
}

const kernelsOf = async (g: Graph) => compileGraph(g, (await testGpu()).limits).kernels;
// four consecutive elements as one vec4 (one full-size read at most), or four a quarter of the kernel apart
const consecutive = (code: string) => /array<vec4</.test(code);
const quarters = (code: string) => /let j3 = i \+ \d+;/.test(code);
const wide = (code: string) => consecutive(code) || quarters(code);

describe("four elements per index", () => {
  test.each(DTYPES)("%s: a chain with a one-element read and two stores", async (dtype) => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...WIDE, ...NARROW), seedArb, async (n, seed) => {
        const g = chain(dtype, n);
        const kernels = await kernelsOf(g);
        // every kernel that computes is wide exactly when n is a multiple of 4 (a lone copy of x may be
        // a kernel of its own, and is elementwise too)
        for (const k of kernels) expect(wide(k.code), `${k.name}, n ${n}`).toBe(n % 4 === 0);
        // y reads x and z: a quarter apart
        if (n % 4 === 0) expect(kernels.some((k) => quarters(k.code) && !consecutive(k.code))).toBe(true);
        const r = prng(seed);
        await expectGpuMatchesReference(
          g,
          feedsFor(g, (node) => valuesOf(r, node.dtype, node.shape.length ? n : 1, "unit")),
        );
      }),
      { numRuns: runs(6) },
    );
  });

  test("iota along either axis: each component computes its own index", async () => {
    for (const [rows, cols] of [
      [3, 4],
      [5, 12],
      [2, 260],
      [7, 3],
    ])
      for (const axis of [0, 1]) {
        const b = new GraphBuilder();
        const io = b.add("iota", [], { shape: [rows, cols], axis, dtype: "f32" });
        b.output("y", binary(b, "mul", io, b.input("x", "f32", [rows, cols])));
        const g = b.build();
        // one full-size read: consecutive
        for (const k of await kernelsOf(g)) expect(consecutive(k.code), k.name).toBe((rows * cols) % 4 === 0);
        const r = prng(rows * 100 + cols + axis);
        await expectGpuMatchesReference(g, { x: valuesOf(r, "f32", rows * cols, "unit") });
      }
  });

  test("a value read through a view keeps one element per index", async () => {
    const b = new GraphBuilder();
    const x = b.input("x", "f32", [8, 4]);
    b.output("y", binary(b, "add", b.add("permute", [x], { perm: [1, 0] }), b.input("z", "f32", [4, 8])));
    const g = b.build();
    const kernels = await kernelsOf(g);
    expect(kernels.some((k) => !wide(k.code))).toBe(true);
    const r = prng(3);
    await expectGpuMatchesReference(g, { x: valuesOf(r, "f32", 32, "unit"), z: valuesOf(r, "f32", 32, "unit") });
  });
});
