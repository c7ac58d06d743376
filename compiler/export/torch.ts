// torch.ts: an elaborated model as a readable PyTorch module (model.py) — one torch expression per IR
// op (torch-ops.ts), each line commented with the op and the .mira line it came from; parameters
// registered in nested modules under mira's dotted names, so state_dict() keys are mira's names;
// sizes written as expressions of the batch dims that the symbolic view (symbolic.ts) found, read
// from the inputs' shapes; the losses and the objective as functions of the module and its inputs.
import type { Node } from "../ir.js";
import { type ExportSource, ExportError, originText, requireMappings, ruleOf } from "./source.js";
import { type Sym, isConstant, symText } from "./symbolic.js";
import { TORCH_OPS, type TorchContext, type TorchRule } from "./torch-ops.js";

/** nn.Module's own attributes: a parameter path segment of one of these names gets a trailing "_". */
const MODULE_ATTRS = new Set([
  "T_destination",
  "add_module",
  "apply",
  "bfloat16",
  "buffers",
  "children",
  "cpu",
  "cuda",
  "double",
  "dump_patches",
  "eval",
  "extra_repr",
  "float",
  "forward",
  "get_buffer",
  "get_extra_state",
  "get_parameter",
  "get_submodule",
  "half",
  "ipu",
  "load_state_dict",
  "modules",
  "named_buffers",
  "named_children",
  "named_modules",
  "named_parameters",
  "parameters",
  "register_backward_hook",
  "register_buffer",
  "register_forward_hook",
  "register_forward_pre_hook",
  "register_full_backward_hook",
  "register_load_state_dict_post_hook",
  "register_module",
  "register_parameter",
  "requires_grad_",
  "set_extra_state",
  "share_memory",
  "state_dict",
  "to",
  "to_empty",
  "train",
  "training",
  "type",
  "xpu",
  "zero_grad",
  "compile",
  "smart_apply",
  "mtia",
]);

const PY_KEYWORDS = new Set(
  (
    "False None True and as assert async await break class continue def del elif else except finally for from " +
    "global if import in is lambda nonlocal not or pass raise return try while with yield"
  ).split(" "),
);

/** The module path of a parameter: mira's name, with segments that would shadow nn.Module's own
 *  attributes (or are not names) suffixed by "_". */
export function torchPath(name: string): string {
  return name
    .split(".")
    .map((s) => (MODULE_ATTRS.has(s) || s.startsWith("_") || !/^(\w+)$/.test(s) ? `${s}_` : s))
    .join(".");
}

const pyName = (s: string): string => {
  const clean = s.replace(/\W/g, "_");
  return PY_KEYWORDS.has(clean) ||
    /^\d/.test(clean) ||
    ["torch", "F", "nn", "mira_ops", "dev", "P", "self"].includes(clean)
    ? `${clean}_`
    : clean;
};

/** A JSON value as a Python literal (JSON strings are valid Python string literals). */
function pyLiteral(v: unknown, indent = ""): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : `float("${v}")`;
  if (typeof v === "string") return JSON.stringify(v);
  const inner = `${indent}    `;
  if (Array.isArray(v)) {
    const flat = `[${v.map((x) => pyLiteral(x, inner)).join(", ")}]`;
    return flat.length < 100 ? flat : `[\n${v.map((x) => `${inner}${pyLiteral(x, inner)},`).join("\n")}\n${indent}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  const flat = `{${entries.map(([k, x]) => `${JSON.stringify(k)}: ${pyLiteral(x, inner)}`).join(", ")}}`;
  return flat.length < 100
    ? flat
    : `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${pyLiteral(x, inner)},`).join("\n")}\n${indent}}`;
}

export interface TorchModule {
  /** model.py */
  readonly code: string;
  /** mira name → state_dict key */
  readonly paths: ReadonlyMap<string, string>;
  /** batch dims the module reads from its inputs; the others are fixed */
  readonly dynamic: readonly string[];
  readonly fixed: Readonly<Record<string, number>>;
}

/** The metadata the generated module carries (MODEL in model.py; train.py writes it into checkpoints). */
export function modelInfo(src: ExportSource, fixed: Readonly<Record<string, number>>): Record<string, unknown> {
  const g = src.sym.graph;
  const byName = new Map(g.nodes.filter((n) => n.op === "input").map((n) => [n.attrs.name!, n]));
  return {
    name: src.name,
    model: src.model.path,
    preset: src.model.preset ?? "",
    overrides: src.model.set,
    source_sha256: src.model.sourceHash,
    config: src.config,
    // arg: forward()'s parameter for the input (mira's name unless Python reserves it)
    inputs: src.inputs.map((i) => ({
      name: i.name,
      arg: pyName(i.name),
      dtype: i.dtype,
      shape: src.sym.shape(byName.get(i.name)!).map(symText),
    })),
    outputs: src.outputs,
    losses: src.losses,
    objective: src.objective ?? src.losses[0] ?? null,
    generate: src.generate ?? null,
    dynamic: src.sym.dynamic.filter((d) => !(d in fixed)),
    fixed,
  };
}

const torchRule = (op: string): TorchRule | undefined => ruleOf<TorchRule>(TORCH_OPS, op);

export function generateTorch(src: ExportSource): TorchModule {
  requireMappings(src, "torch", (op) => torchRule(op) !== undefined);
  const g = src.sym.graph;
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const paths = new Map(src.params.map((p) => [p.name, torchPath(p.name)]));
  const seen = new Map<string, string>();
  for (const [name, path] of paths) {
    const other = seen.get(path);
    if (other)
      throw new ExportError(
        `cannot export ${src.name} to torch: parameters '${other}' and '${name}' map to one module path '${path}'`,
      );
    seen.set(path, name);
  }

  // Batch dims come from the inputs' shapes: the first input axis whose size is exactly that dim.
  const bindings: string[] = [];
  const fixed: Record<string, number> = {};
  const inputNodes = g.nodes.filter((n) => n.op === "input");
  for (const d of src.sym.dynamic) {
    let found: string | undefined;
    for (const n of inputNodes) {
      const k = src.sym
        .shape(n)
        .findIndex(
          (s) => !isConstant(s) && s.length === 1 && s[0].coef === 1 && s[0].dims.length === 1 && s[0].dims[0] === d,
        );
      if (k >= 0) {
        found = `${pyName(n.attrs.name!)}.shape[${k}]`;
        break;
      }
    }
    if (found) bindings.push(`${d} = ${found}`);
    else {
      fixed[d] = src.sym.base[d];
      bindings.push(`${d} = ${src.sym.base[d]}  # no input has ${d} as a whole axis: fixed at export`);
    }
  }
  for (const [d, v] of Object.entries(src.sym.base)) if (!src.sym.dynamic.includes(d)) fixed[d] = v;

  const text = (s: Sym): string => symText(s);
  const ref = (n: Node): string =>
    n.op === "param" ? `P[${JSON.stringify(n.attrs.name)}]` : n.op === "input" ? pyName(n.attrs.name!) : `v${n.id}`;
  const body: string[] = [];
  for (const n of g.nodes) {
    if (n.op === "input" || n.op === "param") continue;
    const inputs = n.inputs.map((i) => byId.get(i)!);
    const ctx: TorchContext = {
      node: n,
      inputs,
      args: inputs.map(ref),
      attr: (key) => src.sym.attr(n, key).map(text),
      symAttr: (key) => src.sym.attr(n, key),
      symShape: (m) => src.sym.shape(m),
    };
    const at = originText(src, n);
    body.push(`v${n.id} = ${torchRule(n.op)!(ctx)}  # ${n.op}${at ? ` · ${at}` : ""}`);
  }
  const outputs = g.outputs.map((o) => `${JSON.stringify(o.name)}: ${ref(byId.get(o.id)!)}`);

  const cls = pyName(src.name);
  const args = src.inputs.map((i) => pyName(i.name));
  const info = modelInfo(src, fixed);
  const dynamic = src.sym.dynamic.filter((d) => !(d in fixed));
  const fixedNote = [
    ...(dynamic.length
      ? [`# Batch dims ${dynamic.join(", ")} are read from the inputs: any size the model allows runs.`]
      : []),
    ...(Object.keys(fixed).length
      ? [
          `# Batch dims fixed at export: ${Object.entries(fixed)
            .map(([k, v]) => `${k}=${v}`)
            .join(", ")}${src.sym.fixedReason ? ` (${src.sym.fixedReason})` : ""}.`,
        ]
      : []),
  ].join("\n");
  const lossFns = [...new Set([...src.losses, ...(src.objective ? [src.objective] : [])])].map((l) =>
    [
      "",
      "",
      `def ${pyName(l === src.objective ? "objective" : `loss_${l}`)}(model, ${args.join(", ")}):`,
      `    """${l === src.objective ? "The objective" : `Loss '${l}'`} of ${src.name}, ` +
        `as mira trains it (a scalar)."""`,
      `    return model(${args.join(", ")})[${JSON.stringify(l)}]`,
    ].join("\n"),
  );

  const code = [
    `# model.py: ${src.name} from ${src.model.path}${src.model.preset ? ` (preset ${src.model.preset})` : ""}` +
      `${src.model.set.map((s) => ` --set ${s}`).join("")}, generated by`,
    "# `mira export --format torch` from mira's elaborated IR: one torch expression per IR op, each line",
    "# commented with the op and the .mira line it came from. Re-export instead of editing.",
    fixedNote,
    "import torch",
    "import torch.nn.functional as F",
    "from torch import nn",
    "",
    "import mira_ops",
    "",
    `MODEL = ${pyLiteral(info)}`,
    "",
    "# (mira name, state_dict key, shape, dtype, initialiser): the keys are mira's names unless a segment",
    "# would shadow an attribute of nn.Module.",
    `PARAMS = ${pyLiteral(src.params.map((p) => [p.name, paths.get(p.name)!, p.shape, p.dtype, p.init ?? null]))}`,
    "",
    `DTYPES = {"f32": torch.float32, "f16": torch.float16, "i32": torch.int32, "u32": torch.int64, "bool": torch.bool}`,
    "",
    "",
    `class ${cls}(nn.Module):`,
    "    def __init__(self):",
    "        super().__init__()",
    "        for _, key, shape, dtype, _ in PARAMS:",
    "            mira_ops.register(self, key, shape, DTYPES[dtype])",
    "",
    `    def forward(self, ${args.join(", ")}):`,
    `        """Every output, loss and the objective of ${src.name}, by name."""`,
    "        P = {name: mira_ops.lookup(self, key) for name, key, *_ in PARAMS}",
    `        dev = ${args.length ? args[0] : "next(self.parameters())"}.device`,
    ...bindings.map((b) => `        ${b}`),
    ...body.map((l) => `        ${l}`),
    `        return {${outputs.join(", ")}}`,
    ...lossFns,
    "",
    "",
    `Model = ${cls}`,
    "",
  ].join("\n");
  return { code, paths, dynamic, fixed };
}
