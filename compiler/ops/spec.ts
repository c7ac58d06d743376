// spec.ts: what an op table entry declares: its dtype/shape rule, its CPU reference, its WGSL (an
// expression for elementwise ops; a kernel family otherwise), its tolerance against the reference. The
// op's other facts sit in companion tables keyed by the op name, typed `{ [K in OpName]: … }` so that
// tsc rejects an op missing from any of them: its gradient (vjp.ts), its FLOP count (flops.ts), and its
// torch and ONNX mappings (export/torch-ops.ts, export/onnx-ops.ts). They stay apart from the entry
// because they need what the entry's module may not import (rules build IR through helpers that read
// this table; export rules emit through the exporters' graph builders).
import type { DType } from "../dtype.js";
import type { Attrs, Node, TensorType } from "../ir.js";
import type { Shape } from "../shape.js";

/** A tensor on the CPU reference: values kept as float64, rounded to `dtype` after every op. */
export interface RefTensor {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly data: Float64Array;
}

/** |got − ref| ≤ atol + rtol·|ref|, for f32 results; f16 results use F16_TOLERANCE. */
export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

/** Where test inputs for an op are drawn from (the op's mathematical domain). */
export type Domain = "any" | "positive" | "nonzero" | "unit";

/** Builds IR nodes; the slice of GraphBuilder that gradient and lowering rules may use. */
export interface NodeBuilder {
  add(op: string, inputs: readonly Node[], attrs?: Attrs): Node;
}

/** Reverse-mode rule: the cotangent of each input, given the output's cotangent `g`.
 *  `undefined` for an input that is not differentiable (indices, masks). */
export type VjpRule = (b: NodeBuilder, g: Node, inputs: readonly Node[], out: Node) => readonly (Node | undefined)[];

interface Common {
  /** Number of inputs, or "variadic" (concat). */
  readonly arity: number | "variadic";
  /** dtype and shape of the output, or throws IrError naming what is wrong. */
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType;
  readonly tol: Tolerance;
  /** One line for docs/architecture.md and `mira compile --emit report`. */
  readonly doc: string;
}

/** Context an elementwise op sees on the CPU: the output element's flat index and coordinates. */
export interface ScalarContext {
  readonly index: number;
  readonly coords: readonly number[];
  readonly attrs: Attrs;
  readonly inputs: readonly TensorType[];
  readonly out: TensorType;
}

/** Context an elementwise op's WGSL sees: expressions for the same things. */
export interface WgslContext {
  readonly index: string; // u32 flat output index
  coord(axis: number): string; // u32 coordinate along an output axis
  readonly attrs: Attrs;
  readonly inputs: readonly TensorType[];
  readonly out: TensorType;
  /** Registers a WGSL helper function (from wgsl/helpers.ts) that the expression calls. */
  use(helper: string): void;
}

/** One output element from the same-index elements of its inputs (rank-0 inputs broadcast).
 *  Floats are computed in f32 in kernels (f16 is a storage type), so `wgsl` sees f32, i32, u32, bool. */
export interface ElementwiseOp extends Common {
  readonly kind: "elementwise";
  scalar(xs: readonly number[], ctx: ScalarContext): number;
  wgsl(args: readonly string[], ctx: WgslContext): string;
  readonly domain?: Domain;
}

/** Graph inputs and parameters: fed by the caller. */
export interface SourceOp extends Common {
  readonly kind: "source";
}

export type Family = "reduce" | "movement" | "matmul" | "gather" | "scatter" | "attention" | "optimizer";

/** Ops with a kernel family of their own in compiler/wgsl/. */
export interface TensorOp extends Common {
  readonly kind: Family;
  /** An index remap of its one input: fusion inlines it into elementwise consumers as index arithmetic
   *  on their loads (compiler/fuse.ts) instead of giving it a kernel. */
  readonly view?: true;
  ref(inputs: readonly RefTensor[], attrs: Attrs, out: TensorType): Float64Array;
}

/** Ops defined by a lowering to primitives, with an independent reference (the oracle). */
export interface CompositeOp extends Common {
  readonly kind: "composite";
  ref(inputs: readonly RefTensor[], attrs: Attrs, out: TensorType): Float64Array;
  lower(b: NodeBuilder, inputs: readonly Node[], attrs: Attrs): Node;
}

export type OpSpec = ElementwiseOp | SourceOp | TensorOp | CompositeOp;

export const F16_TOLERANCE: Tolerance = { atol: 2e-3, rtol: 2e-3 };
