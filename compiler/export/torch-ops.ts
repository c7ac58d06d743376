// torch-ops.ts: each IR op as one PyTorch expression — the per-op table of the torch exporter, keyed by
// every op name so that tsc rejects an op the table forgets. An op marked `noMapping` (with the reason)
// has no torch mapping: exporting a graph that uses it fails naming the op and its line.
// Helpers named `mira_ops.*` live in compiler/export/python/mira_ops.py (copied beside the module):
// they keep the IR's semantics where torch differs (gather reading 0 out of range, masks as the
// reference defines them).
import type { DType } from "../dtype.js";
import type { Node } from "../ir.js";
import type { OpName } from "../ops/index.js";
import { type NoMapping, unmappedOps } from "./source.js";
import { type Sym, symEqual } from "./symbolic.js";
import { bug } from "../../base/errors.js";

/** What a rule sees: its node, its inputs as Python expressions, and sizes as Python text. */
export interface TorchContext {
  readonly node: Node;
  readonly inputs: readonly Node[];
  readonly args: readonly string[];
  /** a numeric attribute, element by element, as Python expressions of the batch dims */
  attr(key: string): readonly string[];
  /** the same, symbolic, for comparisons */
  symAttr(key: string): readonly Sym[];
  symShape(n: Node): readonly Sym[];
}

export type TorchRule = (c: TorchContext) => string;

export const TORCH_DTYPE: Record<DType, string> = {
  f32: "torch.float32",
  f16: "torch.float16",
  i32: "torch.int32",
  // torch has no uint32 arithmetic (1.13); u32 values (seeds, offsets) are carried as int64.
  u32: "torch.int64",
  bool: "torch.bool",
};

/** A number as a Python literal of the node's dtype. */
export function pyNumber(v: number, dtype: DType): string {
  if (dtype === "bool") return v ? "True" : "False";
  if (dtype === "i32" || dtype === "u32") return String(Math.trunc(v));
  if (Number.isNaN(v)) return 'float("nan")';
  if (!Number.isFinite(v)) return v > 0 ? 'float("inf")' : '-float("inf")';
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

const tuple = (xs: readonly string[]): string => (xs.length === 1 ? `(${xs[0]},)` : `(${xs.join(", ")})`);

const call =
  (fn: string): TorchRule =>
  (c) =>
    `${fn}(${c.args.join(", ")})`;
const infix =
  (op: string): TorchRule =>
  (c) =>
    `${c.args[0]} ${op} ${c.args[1]}`;
const req = (c: TorchContext, key: string): number => {
  const v = (c.node.attrs as Record<string, unknown>)[key];
  if (typeof v !== "number") bug(`${c.node.op} %${c.node.id} has no numeric '${key}'`);
  return v;
};

function reduction(fn: string): TorchRule {
  return (c) => {
    const axes = c.node.attrs.axes ?? [];
    if (axes.length === 0) return c.args[0]; // the IR reduces over no axis: identity (torch would reduce all)
    return `${fn}(${c.args[0]}, dim=${tuple(axes.map(String))}, keepdim=${c.node.attrs.keepDims ? "True" : "False"})`;
  };
}

function sliceRule(c: TorchContext): string {
  const inShape = c.symShape(c.inputs[0]);
  const starts = c.symAttr("starts");
  const ends = c.symAttr("ends");
  const steps = c.node.attrs.steps ?? starts.map(() => 1);
  const startText = c.attr("starts");
  const endText = c.attr("ends");
  const parts = starts.map((s, k) => {
    const whole = symEqual(s, 0) && symEqual(ends[k], inShape[k]);
    const step = steps[k] === 1 ? "" : `:${steps[k]}`;
    if (whole && !step) return ":";
    return `${symEqual(s, 0) ? "" : startText[k]}:${symEqual(ends[k], inShape[k]) ? "" : endText[k]}${step}`;
  });
  while (parts.length > 1 && parts[parts.length - 1] === ":") parts.pop();
  return `${c.args[0]}[${parts.join(", ")}]`;
}

function castRule(c: TorchContext): string {
  const to = c.node.dtype;
  const from = c.inputs[0].dtype;
  if (to === "bool") return `${c.args[0]} != 0`;
  if (from === to) return c.args[0];
  return `${c.args[0]}.to(${TORCH_DTYPE[to]})`;
}

function matmulRule(c: TorchContext): string {
  const t = (x: string, yes: boolean | undefined): string => (yes ? `${x}.transpose(-1, -2)` : x);
  return `torch.matmul(${t(c.args[0], c.node.attrs.transA)}, ${t(c.args[1], c.node.attrs.transB)})`;
}

function attentionRule(c: TorchContext): string {
  const mask = c.node.attrs.mask ?? { kind: "none" };
  const lengths = mask.kind === "padding" ? c.args[3] : "None";
  const block = mask.kind === "block_causal" ? `, block=${mask.block}` : "";
  const scale = c.node.attrs.scale !== undefined ? `, scale=${pyNumber(c.node.attrs.scale, "f32")}` : "";
  return (
    `mira_ops.attention(${c.args[0]}, ${c.args[1]}, ${c.args[2]}, ` + `${lengths}, mask="${mask.kind}"${block}${scale})`
  );
}

export const TORCH_OPS = {
  ...unmappedOps({
    fed: "a graph input: the module takes it as an argument or holds it as a parameter",
    random: "mira's counter-based random stream, which torch's generators do not reproduce",
    gradient: "a gradient op of attention: the exported module is differentiated by torch itself",
    step: "an optimizer step: a torch training script uses torch.optim",
  }),
  // elementwise
  neg: (c) => `-${c.args[0]}`,
  abs: call("torch.abs"),
  exp: call("torch.exp"),
  log: call("torch.log"),
  sqrt: call("torch.sqrt"),
  rsqrt: call("torch.rsqrt"),
  recip: call("torch.reciprocal"),
  square: call("torch.square"),
  tanh: call("torch.tanh"),
  sigmoid: call("torch.sigmoid"),
  relu: call("torch.relu"),
  gelu: call("F.gelu"),
  gelu_tanh: (c) => `F.gelu(${c.args[0]}, approximate="tanh")`,
  erf: call("torch.erf"),
  sin: call("torch.sin"),
  cos: call("torch.cos"),
  floor: call("torch.floor"),
  ceil: call("torch.ceil"),
  sign: call("torch.sign"),
  stop_gradient: (c) => `${c.args[0]}.detach()`,
  add: infix("+"),
  sub: infix("-"),
  mul: infix("*"),
  // The IR divides integers truncating (as WGSL does); torch's `/` would give floats.
  div: (c) =>
    c.node.dtype === "f32" || c.node.dtype === "f16"
      ? `${c.args[0]} / ${c.args[1]}`
      : `torch.div(${c.args[0]}, ${c.args[1]}, rounding_mode="trunc")`,
  max: call("torch.maximum"),
  min: call("torch.minimum"),
  pow: call("torch.pow"),
  eq: infix("=="),
  ne: infix("!="),
  lt: infix("<"),
  le: infix("<="),
  gt: infix(">"),
  ge: infix(">="),
  is_finite: call("torch.isfinite"),
  and: call("torch.logical_and"),
  or: call("torch.logical_or"),
  not: call("torch.logical_not"),
  select: call("torch.where"),
  cast: castRule,
  full: (c) =>
    `torch.full(${tuple(c.attr("shape"))}, ${pyNumber(req(c, "value"), c.node.dtype)}, ` +
    `dtype=${TORCH_DTYPE[c.node.dtype]}, device=dev)`,
  iota: (c) => `mira_ops.iota(${tuple(c.attr("shape"))}, ${req(c, "axis")}, ${TORCH_DTYPE[c.node.dtype]}, dev)`,
  // reductions
  reduce_sum: reduction("torch.sum"),
  reduce_max: reduction("torch.amax"),
  reduce_min: reduction("torch.amin"),
  reduce_mean: reduction("torch.mean"),
  // movement
  reshape: (c) => `${c.args[0]}.reshape(${c.attr("shape").join(", ")})`,
  permute: (c) => `${c.args[0]}.permute(${(c.node.attrs.perm ?? []).join(", ")})`,
  broadcast: (c) => `${c.args[0]}.expand(${c.attr("shape").join(", ")})`,
  slice: sliceRule,
  pad: (c) => {
    // F.pad lists (before, after) pairs from the last axis backwards.
    const lo = c.attr("lo");
    const hi = c.attr("hi");
    const pairs = lo
      .map((l, k) => [l, hi[k]])
      .reverse()
      .flat();
    return `F.pad(${c.args[0]}, ${tuple(pairs)}, value=${pyNumber(c.node.attrs.value ?? 0, c.node.dtype)})`;
  },
  concat: (c) => `torch.cat(${tuple(c.args)}, dim=${req(c, "axis")})`,
  // linear algebra, indexing
  matmul: matmulRule,
  gather: (c) => `mira_ops.gather(${c.args[0]}, ${c.args[1]}, ${req(c, "axis")})`,
  scatter_add: (c) => `mira_ops.scatter_add(${c.args[0]}, ${c.args[1]}, ${req(c, "axis")}, ${c.attr("size")[0]})`,
  write_rows: (c) => `mira_ops.write_rows(${c.args[0]}, ${c.args[1]}, ${c.args[2]}, ${req(c, "axis")})`,
  // composites
  softmax: (c) => `torch.softmax(${c.args[0]}, dim=${req(c, "axis")})`,
  log_softmax: (c) => `torch.log_softmax(${c.args[0]}, dim=${req(c, "axis")})`,
  layer_norm: (c) =>
    `F.layer_norm(${c.args[0]}, (${c.args[0]}.shape[-1],), ${c.args[1]}, ${c.args[2]}, ` +
    `eps=${pyNumber(c.node.attrs.eps ?? 1e-5, "f32")})`,
  attention: attentionRule,
  flash_attention: attentionRule,
} satisfies { readonly [K in OpName]: TorchRule | NoMapping };
