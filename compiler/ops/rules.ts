// rules.ts: dtype/shape rules shared by many op entries.
import { type DType, isFloat } from "../dtype.js";
import { type Attrs, IrError, type TensorType, describe } from "../ir.js";
import { type Shape, sameShape } from "../shape.js";

export const fail = (msg: string): never => {
  throw new IrError(msg);
};

/** Elementwise inputs share one shape; rank-0 inputs broadcast to it. */
export function elementwiseShape(op: string, inputs: readonly TensorType[]): Shape {
  let shape: Shape = [];
  for (const t of inputs) {
    if (t.shape.length === 0) continue;
    if (shape.length === 0) shape = t.shape;
    else if (!sameShape(shape, t.shape))
      fail(`${op}: shapes differ: ${inputs.map(describe).join(", ")} (insert a broadcast)`);
  }
  return shape;
}

export function sameDtype(op: string, inputs: readonly TensorType[]): DType {
  const t = inputs[0].dtype;
  if (inputs.some((x) => x.dtype !== t))
    fail(`${op}: dtypes differ: ${inputs.map(describe).join(", ")} (insert a cast)`);
  return t;
}

export const floatUnary =
  (op: string) =>
  (inputs: readonly TensorType[]): TensorType => {
    if (!isFloat(inputs[0].dtype)) fail(`${op} needs a float tensor, got ${describe(inputs[0])}`);
    return inputs[0];
  };

export const numericUnary =
  (op: string) =>
  (inputs: readonly TensorType[]): TensorType => {
    if (inputs[0].dtype === "bool") fail(`${op} needs a numeric tensor, got ${describe(inputs[0])}`);
    return inputs[0];
  };

export const numericBinary =
  (op: string, floatOnly = false) =>
  (inputs: readonly TensorType[]): TensorType => {
    const dtype = sameDtype(op, inputs);
    if (dtype === "bool" || (floatOnly && !isFloat(dtype)))
      fail(`${op} needs ${floatOnly ? "float" : "numeric"} tensors, got ${inputs.map(describe).join(", ")}`);
    return { dtype, shape: elementwiseShape(op, inputs) };
  };

export const comparison =
  (op: string) =>
  (inputs: readonly TensorType[]): TensorType => {
    sameDtype(op, inputs);
    return { dtype: "bool", shape: elementwiseShape(op, inputs) };
  };

export const logical =
  (op: string) =>
  (inputs: readonly TensorType[]): TensorType => {
    if (inputs.some((t) => t.dtype !== "bool"))
      fail(`${op} needs bool tensors, got ${inputs.map(describe).join(", ")}`);
    return { dtype: "bool", shape: elementwiseShape(op, inputs) };
  };

export function checkAxes(op: string, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  for (const a of out)
    if (!Number.isInteger(a) || a < 0 || a >= rank) fail(`${op}: axis ${a} out of range for rank ${rank}`);
  if (new Set(out).size !== out.length) fail(`${op}: repeated axis in [${axes.join(", ")}]`);
  return out;
}

export function checkShape(op: string, shape: Shape | undefined): Shape {
  if (!shape) return fail(`${op}: missing 'shape' attribute`);
  for (const d of shape) if (!Number.isInteger(d) || d < 0) fail(`${op}: bad dimension ${d} in [${shape.join(", ")}]`);
  return shape;
}

export function req<K extends keyof Attrs>(op: string, attrs: Attrs, key: K): NonNullable<Attrs[K]> {
  const v = attrs[key];
  if (v === undefined || v === null) fail(`${op}: missing '${String(key)}' attribute`);
  return v as NonNullable<Attrs[K]>;
}
