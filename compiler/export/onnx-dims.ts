// onnx-dims.ts: sizes that follow the batch dims (symbolic.ts) as ONNX int64 values computed from the
// inputs' shapes at run time — Shape, Gather, Mul, Add — so one ONNX file runs at any batch size the
// model allows. Constant sizes stay constants; each dim and each polynomial is computed once.
import type { OnnxGraph } from "./onnx-graph.js";
import { type Sym, isConstant, symText } from "./symbolic.js";
import { bug } from "../../base/errors.js";

/** Where a batch dim is read: an input value and one of its axes. */
export interface DimSource {
  readonly input: string;
  readonly axis: number;
}

export class OnnxDims {
  private readonly memo = new Map<string, string>();
  private readonly shapes = new Map<string, string>();

  constructor(
    private readonly g: OnnxGraph,
    private readonly sources: ReadonlyMap<string, DimSource>,
  ) {}

  /** A size as a rank-0 int64 value. */
  scalar(s: Sym): string {
    if (isConstant(s)) return this.g.scalar("i64", s);
    const key = `s:${symText(s)}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    let sum: string | undefined;
    for (const t of s) {
      let term: string | undefined = t.coef === 1 && t.dims.length ? undefined : this.g.scalar("i64", t.coef);
      for (const d of t.dims) term = term ? this.g.node("Mul", [term, this.dim(d)]) : this.dim(d);
      sum = sum ? this.g.node("Add", [sum, term!]) : term!;
    }
    const out = sum ?? this.g.scalar("i64", 0);
    this.memo.set(key, out);
    return out;
  }

  /** Sizes as a 1-D int64 value (a constant when none follows the batch dims). */
  vector(xs: readonly Sym[]): string {
    if (xs.every(isConstant)) return this.g.i64(xs as readonly number[]);
    const key = `v:${xs.map(symText).join(",")}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    const parts = xs.map((s) =>
      isConstant(s) ? this.g.i64([s]) : this.g.node("Reshape", [this.scalar(s), this.g.i64([1])]),
    );
    const out = this.g.node("Concat", parts, { axis: { kind: "int", v: 0 } });
    this.memo.set(key, out);
    return out;
  }

  private dim(d: string): string {
    const key = `d:${d}`;
    const hit = this.memo.get(key);
    if (hit) return hit;
    const src = this.sources.get(d);
    if (!src) bug(`batch dim ${d} has no input axis to read it from`);
    let shape = this.shapes.get(src.input);
    if (!shape) this.shapes.set(src.input, (shape = this.g.node("Shape", [src.input])));
    const out = this.g.node("Gather", [shape, this.g.scalar("i64", src.axis)], { axis: { kind: "int", v: 0 } });
    this.memo.set(key, out);
    return out;
  }
}
