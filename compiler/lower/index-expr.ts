// index-expr.ts: `x[i, a:b:s, ..., -m:]` → one slice (+ a reshape dropping indexed axes).
// Negative bounds count from the end, as in Python; bounds are clamped never, checked always.
import type * as A from "../../dsl/ast.js";
import type { Node } from "../ir.js";
import type { Elaborator } from "./eval.js";
import type { Env } from "./values.js";

export function evalIndex(el: Elaborator, e: A.IndexExpr, x: Node, env: Env): Node {
  const rank = x.shape.length;
  const items = e.items.filter((it) => it.kind !== "ellipsis");
  const ell = e.items.findIndex((it) => it.kind === "ellipsis");
  if (items.length > rank) el.fail("M2109", `${items.length} indices for a tensor of rank ${rank}`);
  const first = ell < 0 ? 0 : rank - items.length;
  const starts = x.shape.map(() => 0);
  const ends = [...x.shape];
  const steps = x.shape.map(() => 1);
  const dropped = new Set<number>();
  const int = (ex: A.Expr) => el.lower.int(el.expr(ex, env), "an index");
  items.forEach((it, j) => {
    const axis = first + j;
    const size = x.shape[axis];
    const norm = (v: number) => (v < 0 ? v + size : v);
    el.span = it.span;
    if (it.kind === "at") {
      const i = norm(int(it.index));
      if (i < 0 || i >= size) el.fail("M2109", `index ${i} is out of range for axis ${axis} of size ${size}`);
      starts[axis] = i;
      ends[axis] = i + 1;
      dropped.add(axis);
    } else if (it.kind === "range") {
      const lo = it.start ? norm(int(it.start)) : 0;
      const hi = it.end ? norm(int(it.end)) : size;
      const st = it.step ? int(it.step) : 1;
      if (!(0 <= lo && lo <= hi && hi <= size && st >= 1))
        el.fail(
          "M2109",
          `slice ${lo}:${hi}:${st} is out of range for axis ${axis} of size ${size}`,
          "bounds must satisfy 0 ≤ start ≤ end ≤ size and step ≥ 1",
        );
      starts[axis] = lo;
      ends[axis] = hi;
      steps[axis] = st;
    }
  });
  el.span = e.span;
  const sliced = starts.every((s, i) => s === 0 && ends[i] === x.shape[i] && steps[i] === 1)
    ? x
    : el.b.add("slice", [x], { starts, ends, steps });
  if (dropped.size === 0) return sliced;
  return el.b.add("reshape", [sliced], { shape: sliced.shape.filter((_, i) => !dropped.has(i)) });
}
