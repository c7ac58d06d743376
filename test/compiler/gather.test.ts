// gather.test.ts: gather and scatter-add on the GPU against the reference — any axis, index tensors of
// rank 0–2 in i32 and u32 with out-of-range entries (gather reads 0, scatter-add drops them) and many
// duplicates (scatter-add sums them), in every dtype the op's rule accepts.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { DTYPES, type DType } from "../../compiler/dtype.js";
import { opsOfKind } from "../../compiler/ops/index.js";
import { prod } from "../../compiler/shape.js";
import {
  type Rand,
  accepts,
  expectGpuMatchesReference,
  gridValues,
  intIn,
  prng,
  runs,
  seedArb,
  shapeArb,
  singleOp,
  valuesOf,
} from "./gen.js";

const INDEX_DTYPES: DType[] = ["i32", "u32"];

/** Indices for an axis of `size`: mostly in range (with repeats), some past either end. */
function indices(r: Rand, dtype: DType, n: number, size: number): number[] {
  return Array.from({ length: n }, () => {
    const u = r();
    if (u < 0.8) return intIn(r, 0, size - 1);
    if (dtype === "u32") return u < 0.9 ? intIn(r, size, size + 3) : intIn(r, 2 ** 31, 2 ** 32 - 1);
    return u < 0.9 ? intIn(r, size, size + 3) : intIn(r, -(2 ** 31), -1);
  });
}

const caseArb = fc.record({
  table: shapeArb(1, 3, 5000),
  idx: fc.array(fc.constantFrom(1, 2, 3, 7, 13), { maxLength: 2 }),
  axisPick: fc.nat(),
  seed: seedArb,
});

test("gather and scatter kinds are the ops tested here", () => {
  // write_rows, a scatter too, has its own suite (rows.test.ts).
  expect([...opsOfKind("gather"), ...opsOfKind("scatter")].sort()).toEqual(["gather", "scatter_add", "write_rows"]);
});

describe("gather matches the reference", () => {
  const cases = DTYPES.filter((d) =>
    accepts(
      "gather",
      [
        { dtype: d, shape: [3] },
        { dtype: "i32", shape: [2] },
      ],
      { axis: 0 },
    ),
  ).flatMap((d) => INDEX_DTYPES.map((i) => [d, i] as [DType, DType]));
  test.each(cases)("table %s, indices %s", async (dtype, idxType) => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ table, idx, axisPick, seed }) => {
        const r = prng(seed);
        const axis = axisPick % table.length;
        const g = singleOp(
          "gather",
          [
            { dtype, shape: table },
            { dtype: idxType, shape: idx },
          ],
          { axis },
        );
        await expectGpuMatchesReference(g, {
          x0: valuesOf(r, dtype, prod(table)),
          x1: indices(r, idxType, prod(idx), table[axis]),
        });
      }),
      { numRuns: runs(dtype === "f32" ? 12 : 5) },
    );
  });
});

describe("scatter_add matches the reference", () => {
  const ok = (d: DType) =>
    accepts(
      "scatter_add",
      [
        { dtype: "i32", shape: [2] },
        { dtype: d, shape: [2, 3] },
      ],
      { axis: 0, size: 4 },
    );
  const cases = DTYPES.filter(ok).flatMap((d) => INDEX_DTYPES.map((i) => [d, i] as [DType, DType]));
  test.each(cases)("updates %s, indices %s", async (dtype, idxType) => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ table, idx, axisPick, seed }) => {
        // `table` is the output shape; its axis is the scattered one (of `size` rows).
        const r = prng(seed);
        const axis = axisPick % table.length;
        const size = table[axis];
        const upd = [...table.slice(0, axis), ...idx, ...table.slice(axis + 1)];
        const g = singleOp(
          "scatter_add",
          [
            { dtype: idxType, shape: idx },
            { dtype, shape: upd },
          ],
          { axis, size },
        );
        // Few rows and many indices make duplicates common; grid values keep their sums exact (gen.ts).
        await expectGpuMatchesReference(g, {
          x0: indices(r, idxType, prod(idx), size),
          x1: gridValues(r, dtype, prod(upd), 4, 2),
        });
      }),
      { numRuns: runs(dtype === "f32" ? 12 : 5) },
    );
  });
});
