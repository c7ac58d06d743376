// reference.test.ts: the CPU reference — the oracle of every GPU test — on small cases worked by hand
// for the ops with tricky semantics, and each composite's independent reference against the reference
// evaluation of its lowering to primitives, on random inputs. No GPU needed.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { GraphBuilder } from "../../compiler/builder.js";
import type { DType } from "../../compiler/dtype.js";
import { type Attrs, type Graph, IrError, type MaskSpec } from "../../compiler/ir.js";
import { opSpec, opsOfKind } from "../../compiler/ops/index.js";
import { lowerComposites } from "../../compiler/passes/lower-composites.js";
import { runReference } from "../../compiler/reference.js";
import { type Shape, prod } from "../../compiler/shape.js";
import { expectClose } from "../helpers/close.js";
import { intIn, prng, runs, seedArb, singleOp, valuesOf } from "./gen.js";

interface T {
  dtype: DType;
  shape: Shape;
  data: number[];
}
const f32 = (shape: Shape, data: number[]): T => ({ dtype: "f32", shape, data });
const i32 = (shape: Shape, data: number[]): T => ({ dtype: "i32", shape, data });
const u32 = (shape: Shape, data: number[]): T => ({ dtype: "u32", shape, data });

/** The reference's value of `op` on these inputs, as plain numbers. */
function ref(op: string, ins: readonly T[], attrs: Attrs = {}): { shape: Shape; data: number[] } {
  const y = runReference(singleOp(op, ins, attrs), Object.fromEntries(ins.map((t, i) => [`x${i}`, t.data]))).y;
  return { shape: y.shape, data: Array.from(y.data) };
}
const values = (op: string, ins: readonly T[], attrs: Attrs = {}) => ref(op, ins, attrs).data;
const iota = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("movement", () => {
  test("slice with steps", () => {
    expect(values("slice", [f32([10], iota(10))], { starts: [1], ends: [9], steps: [3] })).toEqual([1, 4, 7]);
    // [3, 4] = 0..11: rows 0 and 2, columns 1 and 3
    expect(ref("slice", [f32([3, 4], iota(12))], { starts: [0, 1], ends: [3, 4], steps: [2, 2] })).toEqual({
      shape: [2, 2],
      data: [1, 3, 9, 11],
    });
    expect(ref("slice", [f32([4], iota(4))], { starts: [2], ends: [2] })).toEqual({ shape: [0], data: [] });
  });

  test("pad with a value before and after each axis", () => {
    expect(values("pad", [f32([2], [1, 2])], { lo: [1], hi: [2], value: 9 })).toEqual([9, 1, 2, 9, 9]);
    expect(ref("pad", [f32([1, 2], [1, 2])], { lo: [1, 0], hi: [0, 1] })).toEqual({
      shape: [2, 3],
      data: [0, 0, 0, 1, 2, 0],
    });
  });

  test("concat along an inner axis", () => {
    expect(ref("concat", [f32([2, 1], [1, 2]), f32([2, 2], [3, 4, 5, 6])], { axis: 1 })).toEqual({
      shape: [2, 3],
      data: [1, 3, 4, 2, 5, 6],
    });
    expect(values("concat", [f32([1], [7]), f32([0], []), f32([2], [8, 9])], { axis: 0 })).toEqual([7, 8, 9]);
  });

  test("broadcast: new leading axes and size-1 axes", () => {
    expect(ref("broadcast", [f32([3], [1, 2, 3])], { shape: [2, 3] })).toEqual({
      shape: [2, 3],
      data: [1, 2, 3, 1, 2, 3],
    });
    expect(values("broadcast", [f32([2, 1], [1, 2])], { shape: [2, 3] })).toEqual([1, 1, 1, 2, 2, 2]);
    expect(values("broadcast", [f32([], [5])], { shape: [2, 2] })).toEqual([5, 5, 5, 5]);
  });

  test("permute", () => {
    expect(ref("permute", [f32([2, 3], iota(6))], { perm: [1, 0] })).toEqual({
      shape: [3, 2],
      data: [0, 3, 1, 4, 2, 5],
    });
    // [2, 1, 3] → perm [2, 0, 1] → [3, 2, 1]: out[c, a, b] = x[a, b, c]
    expect(values("permute", [f32([2, 1, 3], iota(6))], { perm: [2, 0, 1] })).toEqual([0, 3, 1, 4, 2, 5]);
  });

  test("rank-0 operands broadcast inside elementwise ops", () => {
    expect(values("sub", [f32([3], [1, 2, 3]), f32([], [10])])).toEqual([-9, -8, -7]);
  });
});

describe("indexing", () => {
  const table = f32([3, 2], [1, 2, 3, 4, 5, 6]);

  test("gather reads 0 for out-of-range indices, on any axis", () => {
    expect(ref("gather", [table, i32([4], [2, -1, 3, 0])], { axis: 0 })).toEqual({
      shape: [4, 2],
      data: [5, 6, 0, 0, 0, 0, 1, 2],
    });
    expect(ref("gather", [table, i32([2], [1, 5])], { axis: 1 })).toEqual({ shape: [3, 2], data: [2, 0, 4, 0, 6, 0] });
    expect(values("gather", [table, u32([2], [4294967295, 1])], { axis: 0 })).toEqual([0, 0, 3, 4]);
    expect(ref("gather", [table, i32([], [1])], { axis: 0 })).toEqual({ shape: [2], data: [3, 4] });
  });

  test("scatter_add sums duplicate indices and drops out-of-range ones", () => {
    expect(
      values("scatter_add", [i32([5], [0, 2, 0, 5, -1]), f32([5], [1, 2, 3, 4, 5])], { axis: 0, size: 3 }),
    ).toEqual([4, 0, 2]);
    // along axis 1 of [2, 3] updates: out[r, idx[c]] += upd[r, c]
    expect(ref("scatter_add", [i32([3], [1, 1, 0]), f32([2, 3], [1, 2, 3, 4, 5, 6])], { axis: 1, size: 2 })).toEqual({
      shape: [2, 2],
      data: [3, 3, 6, 9],
    });
  });

  test("scatter_add refuses bool updates (the kernel cannot sum bools)", () => {
    expect(() =>
      singleOp("scatter_add", [i32([2], [0, 1]), { dtype: "bool", shape: [2], data: [] }], { axis: 0, size: 2 }),
    ).toThrow(IrError);
  });

  test("iota counts along its axis", () => {
    expect(ref("iota", [], { shape: [2, 3], axis: 1, dtype: "i32" })).toEqual({
      shape: [2, 3],
      data: [0, 1, 2, 0, 1, 2],
    });
    expect(values("iota", [], { shape: [2, 3], axis: 0, dtype: "f32" })).toEqual([0, 0, 0, 1, 1, 1]);
  });
});

describe("integer and conversion semantics follow WGSL", () => {
  test("integer division truncates; x / 0 = x; i32 MIN / -1 = MIN", () => {
    expect(values("div", [i32([5], [7, -7, 7, -5, -2147483648]), i32([5], [2, 2, 0, 0, -1])])).toEqual([
      3, -3, 7, -5, -2147483648,
    ]);
    expect(values("div", [u32([2], [7, 4294967295]), u32([2], [0, 2])])).toEqual([7, 2147483647]);
  });

  test("integer arithmetic wraps", () => {
    expect(values("add", [i32([1], [2147483647]), i32([1], [1])])).toEqual([-2147483648]);
    expect(values("mul", [u32([1], [65536]), u32([1], [65536])])).toEqual([0]);
    expect(values("neg", [u32([2], [1, 0])])).toEqual([4294967295, 0]);
  });

  test("float → int truncates toward 0 and clamps to the f32-representable part of the range", () => {
    expect(values("cast", [f32([6], [1.9, -1.9, 3e9, -3e9, NaN, 2147483520])], { dtype: "i32" })).toEqual([
      1, -1, 2147483520, -2147483648, 0, 2147483520,
    ]);
    expect(values("cast", [f32([4], [-5, 5e9, 2.5, -0.5])], { dtype: "u32" })).toEqual([0, 4294967040, 2, 0]);
  });

  test("int ↔ int reinterprets; anything → bool is ≠ 0; f32 → f16 rounds to nearest even", () => {
    expect(values("cast", [i32([2], [-1, 5])], { dtype: "u32" })).toEqual([4294967295, 5]);
    expect(values("cast", [u32([1], [4294967295])], { dtype: "i32" })).toEqual([-1]);
    expect(values("cast", [f32([3], [0, -0.5, 2])], { dtype: "bool" })).toEqual([0, 1, 1]);
    expect(values("cast", [f32([3], [1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000])], { dtype: "f16" })).toEqual([
      1,
      1 + 2 ** -9,
      Infinity,
    ]);
  });

  test("ordered comparisons of bools compare 0 and 1", () => {
    const b = (data: number[]): T => ({ dtype: "bool", shape: [4], data });
    expect(values("lt", [b([0, 0, 1, 1]), b([0, 1, 0, 1])])).toEqual([0, 1, 0, 0]);
  });
});

describe("attention masks", () => {
  // With q = 0 every allowed key scores 0, so each output row is the mean of the allowed values:
  // v = 1, 10, 100 makes the allowed set readable from the mean.
  const v3 = [1, 10, 100];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const A = mean(v3);
  const B = mean([1, 10]);

  function attend(mask: MaskSpec, tq: number, tk: number, lengths?: number[]): number[] {
    const b = new GraphBuilder();
    const q = b.input("q", "f32", [1, tq, 2]);
    const k = b.input("k", "f32", [1, tk, 2]);
    const v = b.input("v", "f32", [1, tk, 1]);
    const len = lengths ? [b.input("len", "i32", [1])] : [];
    b.output("o", b.add("attention", [q, k, v, ...len], { mask }));
    const feeds: Record<string, number[]> = {
      q: Array(tq * 2).fill(0),
      k: iota(tk * 2).map((x) => x / 3),
      v: v3.slice(0, tk),
    };
    if (lengths) feeds.len = lengths;
    return Array.from(runReference(b.build(), feeds, { exact: true }).o.data);
  }
  const close = (got: number[], want: number[]) => expectClose(got, want, { atol: 1e-12, rtol: 1e-12 });

  test("none: every key", () => close(attend({ kind: "none" }, 3, 3), [A, A, A]));
  test("causal: keys up to the query's position", () => close(attend({ kind: "causal" }, 3, 3), [1, B, A]));
  test("causal with Tq < Tk aligns the ends (decoding)", () => close(attend({ kind: "causal" }, 2, 3), [B, A]));
  test("block_causal(2): whole blocks up to the query's block", () =>
    close(attend({ kind: "block_causal", block: 2 }, 3, 3), [B, B, A]));
  test("block_causal(1) is causal", () => close(attend({ kind: "block_causal", block: 1 }, 3, 3), [1, B, A]));
  test("padding by lengths; length 0 averages every value", () => {
    close(attend({ kind: "padding" }, 3, 3, [2]), [B, B, B]);
    close(attend({ kind: "padding" }, 3, 3, [0]), [A, A, A]);
  });
  test("cross with Tq ≠ Tk: every key", () => close(attend({ kind: "cross" }, 2, 3), [A, A]));

  test("scores are q·k·scale: weights 1 : 3 when the score gap is ln 3", () => {
    const b = new GraphBuilder();
    const q = b.input("q", "f32", [1, 1, 1]);
    const k = b.input("k", "f32", [1, 2, 1]);
    const v = b.input("v", "f32", [1, 2, 1]);
    b.output("o", b.add("attention", [q, k, v], { mask: { kind: "none" }, scale: 0.5 }));
    const o = runReference(b.build(), { q: [2], k: [0, Math.log(3)], v: [0, 4] }, { exact: true }).o.data;
    expect(o[0]).toBeCloseTo(3, 12);
  });
});

describe("normalisations", () => {
  test("layer_norm over the last axis, with γ and β", () => {
    const s = Math.sqrt(2 / 3);
    const got = runReference(
      singleOp("layer_norm", [f32([2, 3], []), f32([3], []), f32([3], [])], { eps: 0 }),
      { x0: [1, 2, 3, 5, 5, 5], x1: [2, 1, 1], x2: [0, 0, 1] },
      { exact: true },
    ).y.data;
    // The constant row has variance 0: with eps = 0 it is 0/0; with the default eps it is β.
    expectClose(got.slice(0, 3), [(-1 / s) * 2, 0, 1 / s + 1], { atol: 1e-12, rtol: 1e-12 });
    const eps = runReference(singleOp("layer_norm", [f32([1, 3], []), f32([3], []), f32([3], [])]), {
      x0: [5, 5, 5],
      x1: [2, 1, 1],
      x2: [0, 0, 1],
    }).y.data;
    expect(Array.from(eps)).toEqual([0, 0, 1]);
  });

  test("softmax and log_softmax along an axis", () => {
    const x = [0, Math.log(2), Math.log(3)];
    expectClose(
      runReference(singleOp("softmax", [f32([3], [])], { axis: 0 }), { x0: x }, { exact: true }).y.data,
      [1 / 6, 2 / 6, 3 / 6],
      { atol: 1e-15, rtol: 1e-12 },
    );
    expectClose(
      runReference(singleOp("log_softmax", [f32([3], [])], { axis: -1 }), { x0: x }, { exact: true }).y.data,
      [1 / 6, 2 / 6, 3 / 6].map(Math.log),
      { atol: 1e-15, rtol: 1e-12 },
    );
    // axis 0 of [2, 2]: columns are normalised; a large shift changes nothing
    const cols = runReference(
      singleOp("softmax", [f32([2, 2], [])], { axis: 0 }),
      { x0: [1000, 0, 1000 + Math.log(3), 0] },
      { exact: true },
    ).y.data;
    expectClose(cols, [0.25, 0.5, 0.75, 0.5], { atol: 1e-12, rtol: 1e-12 });
  });
});

describe("each composite's reference equals the reference evaluation of its lowering", () => {
  const MASKS = ["none", "causal", "block_causal", "padding", "cross"] as const;

  /** A random graph of one composite op (inputs f32 unless an op needs otherwise). */
  function composite(op: string, r: () => number): { graph: Graph; feeds: Record<string, number[]> } {
    const b = new GraphBuilder();
    const feeds: Record<string, number[]> = {};
    const input = (name: string, dtype: DType, shape: Shape, data?: number[]) => {
      feeds[name] = data ?? valuesOf(r, dtype, prod(shape));
      return b.input(name, dtype, shape);
    };
    const shape = Array.from({ length: intIn(r, 1, 3) }, () => intIn(r, 1, 7));
    if (op === "attention") {
      const kind = MASKS[intIn(r, 0, MASKS.length - 1)];
      const lead = [intIn(r, 1, 3), intIn(r, 1, 2)];
      const [tq, d, dv] = [intIn(r, 1, 6), intIn(r, 1, 5), intIn(r, 1, 4)];
      // Tq ≠ Tk for cross attention; causal masks also take Tq < Tk and Tq > Tk (ends aligned).
      const tk = kind === "cross" || kind === "causal" || kind === "block_causal" ? intIn(r, 1, 6) : tq;
      const mask: MaskSpec = kind === "block_causal" ? { kind, block: intIn(r, 1, 4) } : { kind };
      const ins = [
        input("q", "f32", [...lead, tq, d]),
        input("k", "f32", [...lead, tk, d]),
        input("v", "f32", [...lead, tk, dv]),
      ];
      if (kind === "padding")
        ins.push(
          input(
            "len",
            "i32",
            [lead[0]],
            Array.from({ length: lead[0] }, () => intIn(r, 0, tk)),
          ),
        );
      b.output("y", b.add("attention", ins, { mask }));
    } else if (op === "layer_norm") {
      const d = shape[shape.length - 1];
      b.output(
        "y",
        b.add(op, [input("x", "f32", shape), input("g", "f32", [d]), input("b", "f32", [d])], { eps: 1e-5 }),
      );
    } else {
      b.output("y", b.add(op, [input("x", "f32", shape)], { axis: intIn(r, -shape.length, shape.length - 1) }));
    }
    return { graph: b.build(), feeds };
  }

  test.each(opsOfKind("composite"))("%s", (op) => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const { graph, feeds } = composite(op, prng(seed));
        const lowered = lowerComposites(graph);
        expect(lowered.nodes.some((n) => opSpec(n.op).kind === "composite")).toBe(false);
        // In float64 the two agree to rounding; with f32 rounding after every op, within the op's tolerance.
        expectClose(
          runReference(lowered, feeds, { exact: true }).y.data,
          runReference(graph, feeds, { exact: true }).y.data,
          { atol: 1e-12, rtol: 1e-10 },
          "exact",
        );
        expectClose(runReference(lowered, feeds).y.data, runReference(graph, feeds).y.data, opSpec(op).tol, "f32");
      }),
      { numRuns: runs(200) },
    );
  });
});
