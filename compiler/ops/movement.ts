// movement.ts: ops that only move elements — reshape, permute, broadcast, slice (with steps), pad and
// concat. Each is described by `sourceOf`: for an output coordinate, which input and which flat input
// index it reads (or none, for padding). The reference and the WGSL movement kernel share this map.
import type { Attrs, TensorType } from "../ir.js";
import { fmtShape, normAxis, prod, stridesOf } from "../shape.js";
import { checkAxes, checkShape, fail, req } from "./rules.js";
import type { TensorOp } from "./spec.js";

/** An affine read: input `input` at flat index offset + Σ coords[k]·strides[k], when every coordinate
 *  lies in [lo[k], hi[k]) (padding and concat), else the op's fill value. */
export interface AffineRead {
  readonly input: number;
  readonly offset: number;
  readonly strides: readonly number[]; // per output axis
  readonly lo?: readonly number[];
  readonly hi?: readonly number[];
}

/** Reads of a movement op as affine maps of the output coordinates (reshape is handled by flat index). */
export function affineReads(op: string, attrs: Attrs, ins: readonly TensorType[], out: TensorType): AffineRead[] {
  const rank = out.shape.length;
  const inStrides = ins.map((t) => stridesOf(t.shape));
  switch (op) {
    case "reshape":
      return [{ input: 0, offset: 0, strides: stridesOf(out.shape) }];
    case "permute": {
      const perm = req(op, attrs, "perm");
      return [{ input: 0, offset: 0, strides: perm.map((p) => inStrides[0][p]) }];
    }
    case "broadcast": {
      const inShape = ins[0].shape;
      const lead = rank - inShape.length;
      return [
        {
          input: 0,
          offset: 0,
          strides: out.shape.map((_, k) => (k < lead || inShape[k - lead] === 1 ? 0 : inStrides[0][k - lead])),
        },
      ];
    }
    case "slice": {
      const starts = req(op, attrs, "starts");
      const steps = attrs.steps ?? starts.map(() => 1);
      return [
        {
          input: 0,
          offset: starts.reduce((o, s, k) => o + s * inStrides[0][k], 0),
          strides: steps.map((st, k) => st * inStrides[0][k]),
        },
      ];
    }
    case "pad": {
      const lo = req(op, attrs, "lo");
      return [
        {
          input: 0,
          offset: -lo.reduce((o, l, k) => o + l * inStrides[0][k], 0),
          strides: inStrides[0],
          lo,
          hi: lo.map((l, k) => l + ins[0].shape[k]),
        },
      ];
    }
    case "concat": {
      const axis = normAxis(req(op, attrs, "axis"), rank);
      let start = 0;
      return ins.map((t, i) => {
        const read: AffineRead = {
          input: i,
          offset: -start * inStrides[i][axis],
          strides: inStrides[i],
          lo: out.shape.map((_, k) => (k === axis ? start : 0)),
          hi: out.shape.map((d, k) => (k === axis ? start + t.shape[axis] : d)),
        };
        start += t.shape[axis];
        return read;
      });
    }
    default:
      return fail(`affineReads: ${op} is not a movement op`);
  }
}

const movement = (
  doc: string,
  arity: number | "variadic",
  infer: (ins: readonly TensorType[], a: Attrs) => TensorType,
  name: string,
): TensorOp => ({
  kind: "movement",
  arity,
  doc,
  tol: { atol: 0, rtol: 0 },
  infer,
  ref: (ins, attrs, out) => {
    const reads = affineReads(name, attrs, ins, out);
    const n = prod(out.shape);
    const data = new Float64Array(n);
    const shape = out.shape;
    const coords = new Array<number>(shape.length).fill(0);
    const fill = attrs.value ?? 0;
    for (let i = 0; i < n; i++) {
      if (name === "reshape") {
        data[i] = ins[0].data[i];
      } else {
        data[i] = fill;
        for (const r of reads) {
          if (r.lo && !coords.every((c, k) => c >= r.lo![k] && c < r.hi![k])) continue;
          let idx = r.offset;
          for (let k = 0; k < coords.length; k++) idx += coords[k] * r.strides[k];
          data[i] = ins[r.input].data[idx];
          break;
        }
      }
      for (let k = shape.length - 1; k >= 0; k--) {
        if (++coords[k] < shape[k]) break;
        coords[k] = 0;
      }
    }
    return data;
  },
});

/** A movement op that reads one input element per output element: fusion may inline it as a view. */
const view = (op: TensorOp): TensorOp => ({ ...op, view: true });

export const MOVEMENT_OPS = {
  reshape: view(
    movement(
      "same elements, new shape",
      1,
      ([x], a) => {
        const shape = checkShape("reshape", a.shape);
        if (prod(shape) !== prod(x.shape))
          fail(`reshape: ${fmtShape(x.shape)} has ${prod(x.shape)} elements, ${fmtShape(shape)} has ${prod(shape)}`);
        return { dtype: x.dtype, shape };
      },
      "reshape",
    ),
  ),
  permute: view(
    movement(
      "reorder axes",
      1,
      ([x], a) => {
        const perm = req("permute", a, "perm");
        if (perm.length !== x.shape.length || checkAxes("permute", perm, x.shape.length).length !== perm.length)
          fail(`permute: [${perm.join(", ")}] is not a permutation of ${x.shape.length} axes`);
        return { dtype: x.dtype, shape: perm.map((p) => x.shape[p]) };
      },
      "permute",
    ),
  ),
  broadcast: view(
    movement(
      "repeat size-1 and new leading axes (numpy rules)",
      1,
      ([x], a) => {
        const shape = checkShape("broadcast", a.shape);
        const lead = shape.length - x.shape.length;
        if (lead < 0 || x.shape.some((d, k) => d !== 1 && d !== shape[k + lead]))
          fail(`broadcast: ${fmtShape(x.shape)} does not broadcast to ${fmtShape(shape)}`);
        return { dtype: x.dtype, shape };
      },
      "broadcast",
    ),
  ),
  slice: view(
    movement(
      "x[start:end:step] per axis (0 ≤ start ≤ end ≤ dim, step ≥ 1)",
      1,
      ([x], a) => {
        const starts = req("slice", a, "starts");
        const ends = req("slice", a, "ends");
        const steps = a.steps ?? starts.map(() => 1);
        const r = x.shape.length;
        if (starts.length !== r || ends.length !== r || steps.length !== r)
          fail(`slice: starts/ends/steps need ${r} entries`);
        const shape = x.shape.map((d, k) => {
          if (!(starts[k] >= 0 && starts[k] <= ends[k] && ends[k] <= d && steps[k] >= 1))
            fail(`slice: axis ${k}: ${starts[k]}:${ends[k]}:${steps[k]} is not within 0..${d}`);
          return Math.ceil((ends[k] - starts[k]) / steps[k]);
        });
        return { dtype: x.dtype, shape };
      },
      "slice",
    ),
  ),
  pad: movement(
    "pad with a constant before (lo) and after (hi) each axis",
    1,
    ([x], a) => {
      const lo = req("pad", a, "lo");
      const hi = req("pad", a, "hi");
      if (
        lo.length !== x.shape.length ||
        hi.length !== x.shape.length ||
        [...lo, ...hi].some((p) => !Number.isInteger(p) || p < 0)
      )
        fail("pad: lo/hi need one non-negative entry per axis");
      return { dtype: x.dtype, shape: x.shape.map((d, k) => d + lo[k] + hi[k]) };
    },
    "pad",
  ),
  concat: movement(
    "join along an axis",
    "variadic",
    (ins, a) => {
      if (ins.length === 0) fail("concat: needs at least one input");
      const rank = ins[0].shape.length;
      const axis = checkAxes("concat", [req("concat", a, "axis")], rank)[0];
      for (const t of ins) {
        if (
          t.dtype !== ins[0].dtype ||
          t.shape.length !== rank ||
          t.shape.some((d, k) => k !== axis && d !== ins[0].shape[k])
        ) {
          fail(`concat: ${ins.map((x) => `${x.dtype}${fmtShape(x.shape)}`).join(", ")} differ off axis ${axis}`);
        }
      }
      return {
        dtype: ins[0].dtype,
        shape: ins[0].shape.map((d, k) => (k === axis ? ins.reduce((s, t) => s + t.shape[axis], 0) : d)),
      };
    },
    "concat",
  ),
} satisfies Record<string, TensorOp>;
