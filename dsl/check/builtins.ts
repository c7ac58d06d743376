// builtins.ts: the built-in functions and values of .mira as the checker sees them — argument slots
// and a type rule each. This is the language's list of builtins: compiler/lower/builtins.ts gives each
// an IR lowering in a table typed by `BuiltinName` and `BuiltinValueName`, so a builtin added here
// without a lowering fails tsc (dsl/ may not import compiler/, so the list lives on this side). The rules
// themselves sit in builtin-families.ts, builtin-nn.ts and builtin-layout.ts.
import type { Ty } from "../types.js";
import { type BuiltinRule, type CheckedArg, constInt, intArg, tensorArg } from "./builtin-args.js";
import { binaryRule, each, elementwise, fill, init, mask, reduction, softmaxRule } from "./builtin-families.js";
import { LAYOUT_RULES } from "./builtin-layout.js";
import { NN_RULES } from "./builtin-nn.js";

export { type BuiltinRule, type CheckedArg, constInt, intArg, tensorArg };

/** Unary elementwise builtins, each named as the IR op it lowers to. */
export const UNARY_FLOAT = [
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "tanh",
  "sigmoid",
  "relu",
  "gelu",
  "gelu_tanh",
  "sin",
  "cos",
  "square",
  "recip",
  "floor",
  "ceil",
] as const;
export const UNARY_ANY = ["abs", "sign", "stop_gradient"] as const;
export const INIT_NAMES = ["zeros", "ones", "xavier", "glorot"] as const;
export const INIT_FUNCS = ["normal", "uniform", "constant"] as const;
export const MASK_VALUES = ["none", "causal", "cross"] as const;

const BUILTIN_TABLE = {
  ...each(UNARY_FLOAT, (n) => elementwise(n, false)),
  ...each(UNARY_ANY, (n) => elementwise(n, true)),
  maximum: binaryRule("maximum"),
  minimum: binaryRule("minimum"),
  pow: binaryRule("pow"),
  where: NN_RULES.where,
  sum: reduction("sum"),
  mean: reduction("mean"),
  amax: reduction("amax"),
  amin: reduction("amin"),
  softmax: softmaxRule("softmax"),
  log_softmax: softmaxRule("log_softmax"),
  layer_norm: NN_RULES.layer_norm,
  attention: NN_RULES.attention,
  reshape: LAYOUT_RULES.reshape,
  permute: LAYOUT_RULES.permute,
  concat: LAYOUT_RULES.concat,
  broadcast: LAYOUT_RULES.broadcast,
  gather: LAYOUT_RULES.gather,
  one_hot: LAYOUT_RULES.one_hot,
  cast: LAYOUT_RULES.cast,
  zeros: fill("zeros", false),
  ones: fill("ones", false),
  full: fill("full", true),
  iota: LAYOUT_RULES.iota,
  dim: LAYOUT_RULES.dim,
  cross_entropy: NN_RULES.cross_entropy,
  mse: NN_RULES.mse,
  normal: init([{ name: "std" }], "normal(std): N(0, std²) initialiser"),
  uniform: init([{ name: "lo" }, { name: "hi" }], "uniform(lo, hi) initialiser"),
  constant: init([{ name: "value" }], "constant(v) initialiser"),
  block_causal: mask([{ name: "block" }], "block_causal(m): token i sees tokens of blocks ≤ its own (blocks of m)"),
  padding: mask([{ name: "lengths" }], "padding(lengths): keys at positions ≥ lengths[b] are hidden"),
} satisfies Record<string, BuiltinRule>;

export type BuiltinName = keyof typeof BUILTIN_TABLE;
export const BUILTINS: Readonly<Record<string, BuiltinRule>> = BUILTIN_TABLE;

const VALUE_TABLE = {
  none: { k: "mask" },
  causal: { k: "mask" },
  cross: { k: "mask" },
  xavier: { k: "init" },
  glorot: { k: "init" },
  true: { k: "bool" },
  false: { k: "bool" },
  f32: { k: "dtype", dtype: "f32" },
  f16: { k: "dtype", dtype: "f16" },
  i32: { k: "dtype", dtype: "i32" },
  u32: { k: "dtype", dtype: "u32" },
  bool: { k: "dtype", dtype: "bool" },
} satisfies Record<string, Ty>;

export type BuiltinValueName = keyof typeof VALUE_TABLE;
/** Names that are values, not functions. */
export const BUILTIN_VALUES: Readonly<Record<string, Ty>> = VALUE_TABLE;
