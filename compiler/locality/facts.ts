// facts.ts: each op's locality along an axis its values are laid out on (a generated sequence, a clip's
// chunks): whether element j of its result reads elements other than j of its inputs along that axis.
// One fact per op, keyed by op name, so a new op without one is a type error; compiler/locality/
// analyze.ts reads them for both the incremental decoder and the streaming encoder.
import type { Node } from "../ir.js";
import { type OpName, isOpName } from "../ops/index.js";
import { reduceAxes } from "../ops/reduce.js";
import { normAxis } from "../shape.js";
import { bug } from "../../base/errors.js";

/** How an op that combines elements along some input axes does it (it names the op's mixing in errors). */
export type Combining = "reduces" | "sums" | "picks" | "normalises";

export type Locality =
  /** input, param: the caller feeds them */
  | { readonly kind: "fed" }
  /** element j of the result reads element j of each input (rank-0 inputs broadcast) */
  | { readonly kind: "pointwise" }
  /** full: the same value everywhere */
  | { readonly kind: "constant" }
  /** iota: element j is its own coordinate along `attrs.axis` */
  | { readonly kind: "coordinate" }
  /** random_*: a fresh draw per element, so it changes with the axis's length */
  | { readonly kind: "random" }
  /** combines the elements of input i along the axes `along(n, ins)[i]`, and keeps the others apart */
  | {
      readonly kind: "combines";
      readonly how: Combining;
      along(n: Node, ins: readonly Node[]): readonly (readonly number[])[];
    }
  /** permute, broadcast: moves or repeats whole axes, so an axis keeps its elements in order */
  | { readonly kind: "relabels" }
  /** reshape: regroups the flat order; whether rows stay whole depends on the sizes */
  | { readonly kind: "reshapes" }
  /** slice: keeps a window of each axis */
  | { readonly kind: "slices" }
  /** pad: adds elements before and after each axis */
  | { readonly kind: "pads" }
  /** concat: joins its inputs along `attrs.axis` */
  | { readonly kind: "joins" }
  /** attention: each query row reads the key/value rows its mask lets it see */
  | { readonly kind: "attends" }
  /** not analysed: gradients, scatters and optimizer steps never sit between a model's input and output */
  | { readonly kind: "opaque" };

const fed: Locality = { kind: "fed" };
const pointwise: Locality = { kind: "pointwise" };
const random: Locality = { kind: "random" };
const opaque: Locality = { kind: "opaque" };
const relabels: Locality = { kind: "relabels" };

const reduces: Locality = {
  kind: "combines",
  how: "reduces",
  along: (n, [x]) => [reduceAxes(n.attrs, x.shape.length)],
};
/** the contraction axis of each operand */
const sums: Locality = {
  kind: "combines",
  how: "sums",
  along: (n, [a, b]) => [
    [n.attrs.transA ? a.shape.length - 2 : a.shape.length - 1],
    [n.attrs.transB ? b.shape.length - 1 : b.shape.length - 2],
  ],
};
/** the table's gathered axis (the indices are read pointwise) */
const picks: Locality = {
  kind: "combines",
  how: "picks",
  along: (n, [t]) => [[normAxis(n.attrs.axis ?? 0, t.shape.length)]],
};
const normalisesAxis: Locality = {
  kind: "combines",
  how: "normalises",
  along: (n) => [[normAxis(n.attrs.axis ?? 0, n.shape.length)]],
};
const normalisesLast: Locality = { kind: "combines", how: "normalises", along: (n) => [[n.shape.length - 1]] };

/** The same fact for each op of `names`. */
const each = <K extends OpName>(fact: Locality, ...names: K[]): Record<K, Locality> =>
  Object.fromEntries(names.map((name) => [name, fact])) as Record<K, Locality>;

export const LOCALITY: { readonly [K in OpName]: Locality } = {
  ...each(fed, "input", "param"),
  ...each(pointwise, "neg", "abs", "exp", "log", "sqrt", "rsqrt", "recip", "square", "tanh", "sigmoid", "relu"),
  ...each(pointwise, "gelu", "gelu_tanh", "erf", "sin", "cos", "floor", "ceil", "sign", "stop_gradient"),
  ...each(pointwise, "add", "sub", "mul", "div", "max", "min", "pow", "eq", "ne", "lt", "le", "gt", "ge"),
  ...each(pointwise, "is_finite", "and", "or", "not", "select", "cast"),
  full: { kind: "constant" },
  iota: { kind: "coordinate" },
  ...each(random, "random_uniform", "random_normal"),
  ...each(reduces, "reduce_sum", "reduce_max", "reduce_min", "reduce_mean"),
  reshape: { kind: "reshapes" },
  ...each(relabels, "permute", "broadcast"),
  slice: { kind: "slices" },
  pad: { kind: "pads" },
  concat: { kind: "joins" },
  matmul: sums,
  gather: picks,
  ...each(normalisesAxis, "softmax", "log_softmax"),
  layer_norm: normalisesLast,
  attention: { kind: "attends" },
  ...each(opaque, "scatter_add", "write_rows", "flash_attention", "attention_lse", "attention_dq", "attention_dkv"),
  ...each(opaque, "sum_squares", "adamw"),
};

export function localityOf(name: string): Locality {
  if (!isOpName(name)) bug(`unknown op '${name}' has no locality`);
  return LOCALITY[name];
}
