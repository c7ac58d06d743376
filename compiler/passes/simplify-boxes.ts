// simplify-boxes.ts: rewrite rules over boxes — the region of a pad's result its input fills, the part
// of a concat a slice reads. A scan's backward pass builds a sequence's gradient as a sum of padded step
// gradients, each the whole sequence's size: add(pad(g₃₁), pad(g₃₀)) + … is 32 pads and 31 adds, and
// quadratic work, where one concat of the step gradients holds the same values. Its forward pass slices
// pieces back out of a concat it just built.
import type { Attrs, Node } from "../ir.js";
import { normAxis } from "../shape.js";
import type { Built, Rule } from "./simplify.js";

/** The box a zero pad's input fills in its result: per axis its start and length. */
function box(x: Node, built: Built): { readonly inner: Node; readonly lo: readonly number[] } | undefined {
  if (x.op !== "pad" || (x.attrs.value ?? 0) !== 0) return undefined;
  return { inner: built.node(x.inputs[0]), lo: x.attrs.lo ?? [] };
}

/** `x`'s parts along `axis`: a concat's inputs, or x itself. */
const parts = (x: Node, axis: number, built: Built): Node[] =>
  x.op === "concat" && normAxis(x.attrs.axis ?? 0, x.shape.length) === axis ? x.inputs.map((i) => built.node(i)) : [x];

export const BOX_RULES: readonly Rule[] = [
  {
    // Two zero pads whose boxes sit side by side along one axis and match along every other add up to
    // one pad of their inputs' concat — no pad at all when the boxes fill the result. Each element is one
    // input's value plus 0, the same as the concat's.
    name: "add-of-adjacent-pads",
    op: "add",
    apply: (n, [p, q], built) => {
      const bp = box(p, built);
      const bq = box(q, built);
      if (!bp || !bq || p.dtype !== q.dtype || n.shape.some((d, k) => d !== p.shape[k] || d !== q.shape[k]))
        return undefined;
      const rank = n.shape.length;
      const apart = [...Array(rank).keys()].filter(
        (k) => bp.lo[k] !== bq.lo[k] || bp.inner.shape[k] !== bq.inner.shape[k],
      );
      if (apart.length !== 1) return undefined;
      const ax = apart[0];
      const [first, second] = bp.lo[ax] < bq.lo[ax] ? [bp, bq] : [bq, bp];
      if (first.lo[ax] + first.inner.shape[ax] !== second.lo[ax]) return undefined;
      const joined = built.add("concat", [...parts(first.inner, ax, built), ...parts(second.inner, ax, built)], {
        axis: ax,
      });
      const lo = first.lo;
      const hi = n.shape.map((d, k) => d - lo[k] - joined.shape[k]);
      if ([...lo, ...hi].every((x) => x === 0))
        return { op: "reshape", attrs: { shape: n.shape }, inputs: [joined.id] };
      return { op: "pad", attrs: { lo, hi, value: 0 } as Attrs, inputs: [joined.id] };
    },
  },
  {
    // A unit-step slice that reads inside one part of a concat reads that part.
    name: "slice-of-concat",
    op: "slice",
    apply: (n, [c], built) => {
      if (c.op !== "concat" || (n.attrs.steps ?? []).some((s) => s !== 1)) return undefined;
      const ax = normAxis(c.attrs.axis ?? 0, c.shape.length);
      const starts = n.attrs.starts ?? [];
      let at = 0;
      for (const part of c.inputs.map((i) => built.node(i))) {
        const end = at + part.shape[ax];
        if (starts[ax] >= at && starts[ax] + n.shape[ax] <= end) {
          const inner = starts.map((s, k) => (k === ax ? s - at : s));
          const whole = inner.every((s) => s === 0) && n.shape.every((d, k) => d === part.shape[k]);
          if (whole) return { op: "reshape", attrs: { shape: n.shape }, inputs: [part.id] };
          const ends = inner.map((s, k) => s + n.shape[k]);
          return { op: "slice", attrs: { starts: inner, ends }, inputs: [part.id] };
        }
        at = end;
      }
      return undefined;
    },
  },
];
