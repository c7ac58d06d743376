// onnx-graph.ts: an ONNX graph under construction — nodes, constant initializers, typed inputs and
// outputs — and its encoding as an ONNX ModelProto (onnx.proto field numbers, IR version 8, opset 17:
// the first with LayerNormalization).
import type { DType } from "../dtype.js";
import { ProtoWriter } from "./protobuf.js";

export const OPSET = 17;
const IR_VERSION = 8;

/** ONNX TensorProto.DataType codes. */
export const ONNX_TYPE = { f32: 1, u8: 2, i32: 6, i64: 7, bool: 9, f16: 10, u32: 12 } as const;
export type OnnxType = keyof typeof ONNX_TYPE;

export const onnxTypeOf = (t: DType): OnnxType => t;

export type AttrValue =
  | { readonly kind: "int"; readonly v: number }
  | { readonly kind: "float"; readonly v: number }
  | { readonly kind: "ints"; readonly v: readonly number[] }
  | { readonly kind: "tensor"; readonly v: ConstTensor };

export interface ConstTensor {
  readonly type: OnnxType;
  readonly dims: readonly number[];
  readonly raw: Uint8Array;
}

interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly output: string;
  readonly attrs: Readonly<Record<string, AttrValue>>;
  readonly name: string;
  readonly doc?: string;
}

interface ValueSpec {
  readonly name: string;
  readonly type: OnnxType;
  /** sizes; a string is a symbolic size (dim_param), e.g. "B" or "T - 1" */
  readonly dims: readonly (number | string)[];
}

const WIDTH: Record<OnnxType, number> = { f32: 4, u8: 1, i32: 4, i64: 8, bool: 1, f16: 2, u32: 4 };

/** Little-endian bytes of values in an ONNX element type (f16 by rounding through a Float16-less path). */
export function encodeValues(type: OnnxType, values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * WIDTH[type]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (type === "f32") view.setFloat32(i * 4, v, true);
    else if (type === "i32") view.setInt32(i * 4, v, true);
    else if (type === "u32") view.setUint32(i * 4, v, true);
    else if (type === "i64") view.setBigInt64(i * 8, BigInt(Math.trunc(v)), true);
    else if (type === "bool" || type === "u8") out[i] = v ? (type === "bool" ? 1 : v) : 0;
    else view.setUint16(i * 2, f16Bits(v), true);
  }
  return out;
}

/** IEEE half bits of x (round to nearest even), for f16 constants. */
function f16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  let mant = u & 0x7fffff;
  if (((u >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    if ((mant & (2 * half - 1)) > half || ((mant & (2 * half - 1)) === half && r & 1)) r++;
    return sign | r;
  }
  let r = (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) r++;
  return sign | r;
}

export class OnnxGraph {
  private readonly nodes: NodeSpec[] = [];
  private readonly initializers = new Map<string, ConstTensor>();
  private readonly inputs: ValueSpec[] = [];
  private readonly outputs: ValueSpec[] = [];
  private counter = 0;
  /** doc string and name stem of the nodes being emitted (the IR node they implement) */
  doc?: string;
  stem = "n";

  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  /** Adds a node with one output; returns the output's name (`output` when given). */
  node(
    op: string,
    inputs: readonly string[],
    attrs: Readonly<Record<string, AttrValue>> = {},
    output?: string,
  ): string {
    const out = output ?? this.fresh(`${this.stem}_${op}`);
    this.nodes.push({ op, inputs, output: out, attrs, name: this.fresh(`${this.stem}:${op}`), doc: this.doc });
    return out;
  }

  /** A constant tensor as an initializer; returns its name. */
  constant(type: OnnxType, dims: readonly number[], values: ArrayLike<number>, name?: string): string {
    const n = name ?? this.fresh(`${this.stem}_const`);
    this.initializers.set(n, { type, dims, raw: encodeValues(type, values) });
    return n;
  }

  /** A named initializer from raw little-endian bytes (parameters). */
  raw(name: string, type: OnnxType, dims: readonly number[], raw: Uint8Array): string {
    this.initializers.set(name, { type, dims, raw });
    return name;
  }

  /** 1-D int64 constant (shapes, axes, starts …). */
  i64(values: readonly number[]): string {
    return this.constant("i64", [values.length], values);
  }

  /** Rank-0 constant of a type. */
  scalar(type: OnnxType, v: number): string {
    return this.constant(type, [], [v]);
  }

  input(name: string, type: OnnxType, dims: readonly (number | string)[]): void {
    this.inputs.push({ name, type, dims });
  }

  output(name: string, type: OnnxType, dims: readonly (number | string)[]): void {
    this.outputs.push({ name, type, dims });
  }

  encode(graphName: string, doc: string): Uint8Array {
    const g = new ProtoWriter();
    for (const n of this.nodes) g.message(1, encodeNode(n));
    g.string(2, graphName);
    for (const [name, t] of this.initializers) g.message(5, encodeTensor(name, t));
    g.string(10, doc);
    for (const v of this.inputs) g.message(11, encodeValueInfo(v));
    for (const v of this.outputs) g.message(12, encodeValueInfo(v));
    const opset = new ProtoWriter().string(1, "").int(2, OPSET);
    return new ProtoWriter()
      .int(1, IR_VERSION)
      .string(2, "mira")
      .string(3, "0.1.0")
      .string(6, doc)
      .message(7, g)
      .message(8, opset)
      .finish();
  }
}

function encodeTensor(name: string, t: ConstTensor): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  return w.int(2, ONNX_TYPE[t.type]).string(8, name).bytes(9, t.raw);
}

function encodeNode(n: NodeSpec): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  w.string(2, n.output).string(3, n.name).string(4, n.op);
  for (const [name, a] of Object.entries(n.attrs)) {
    const aw = new ProtoWriter().string(1, name);
    if (a.kind === "int") aw.int(3, a.v).int(20, 2);
    else if (a.kind === "float") aw.float(2, a.v).int(20, 1);
    else if (a.kind === "ints") {
      for (const v of a.v) aw.int(8, v);
      aw.int(20, 7);
    } else aw.message(5, encodeTensor("", a.v)).int(20, 4);
    w.message(5, aw);
  }
  if (n.doc) w.string(6, n.doc);
  return w;
}

function encodeValueInfo(v: ValueSpec): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims)
    shape.message(1, typeof d === "number" ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensor = new ProtoWriter().int(1, ONNX_TYPE[v.type]).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensor));
}
