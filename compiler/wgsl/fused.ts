// fused.ts: code for fused elementwise groups (fuse.ts). `GroupEmitter` writes the WGSL that computes a
// group's value at any flat index: materialized inputs are loaded once each, through the index
// arithmetic of any views between them and the group; constants are literals; every group node is a
// `let` in registers. An elementwise kernel stores the value at its own index (one read per distinct
// input, one write, whatever the number of ops); a reduction reads its input through one (its prologue).
import type { FusedGroup } from "../fuse.js";
import { VIEW_OPS } from "../fuse.js";
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { opSpec } from "../ops/index.js";
import { affineReads } from "../ops/movement.js";
import type { WgslContext } from "../ops/spec.js";
import { prod, stridesOf } from "../shape.js";
import { storageType } from "../dtype.js";
import {
  type Binding,
  type KernelSource,
  affineIndex,
  elementLoop,
  header,
  load,
  store,
  unravelCode,
} from "./common.js";
import { helperSource, literal } from "./helpers.js";
import { bug } from "../../base/errors.js";

/** A deliberate fault for mutation checks (docs/testing.md): one elementwise op's WGSL expression wrapped, so
 *  the tests that should notice a broken op can be shown to fail. Never set outside tests. */
let mutation: { readonly op: string; readonly wrap: (expr: string) => string } | undefined;
export function setWgslMutation(m: typeof mutation): void {
  mutation = m;
}

/** Shared by the emitters of one kernel that computes several groups (wgsl/row-group.ts): one binding
 *  per read across them all, and a name prefix per emitter so their WGSL names never meet. */
export interface EmitScope {
  readonly bindings: Map<number, Binding>;
  readonly prefix: string;
}

/** A value of one element (a scalar, or every dim 1): the same at every index of a kernel, so read at 0. */
const single = (n: Node): boolean => prod(n.shape) === 1;

export class GroupEmitter {
  readonly bindings: Binding[];
  private readonly bindingOf: Map<number, Binding>;
  readonly helpers = new Set<string>();
  private fresh = 0;

  /** `provided`: reads whose values the enclosing kernel supplies (a matmul's accumulator), unbound.
   *  `aliased`: a read loaded through another binding (an in-place kernel's output), unbound here. */
  constructor(
    readonly group: FusedGroup,
    private readonly byId: ReadonlyMap<number, Node>,
    private readonly inlined: ReadonlySet<number>,
    readonly provided: ReadonlySet<number> = new Set(),
    aliased?: { readonly id: number; readonly binding: Binding },
    private readonly scope?: EmitScope,
  ) {
    const bound = group.reads.filter((r) => !provided.has(r.id) && r.id !== aliased?.id);
    const shared = scope?.bindings;
    const bind = (r: Node, k: number): Binding => {
      if (!shared) return { name: `in${k}`, dtype: r.dtype, access: "read" };
      if (!shared.has(r.id)) shared.set(r.id, { name: `in${shared.size}`, dtype: r.dtype, access: "read" });
      return shared.get(r.id)!;
    };
    this.bindings = bound.map(bind);
    this.bindingOf = new Map(bound.map((r, k) => [r.id, this.bindings[k]]));
    if (aliased) this.bindingOf.set(aliased.id, aliased.binding);
  }

  /** The binding a read is loaded through. */
  bindingFor(id: number): Binding {
    return this.bindingOf.get(id) ?? bug(`%${id} is not a read of this group`);
  }

  /** Nodes whose buffers the kernel binds, in binding order. */
  get boundReads(): Node[] {
    return this.group.reads.filter(
      (r) => !this.provided.has(r.id) && this.bindings.includes(this.bindingOf.get(r.id)!),
    );
  }

  /** Statements computing the group's root at flat index `idx` (an i32 expression), and its value;
   *  `supplied` gives the expressions of provided values at this index. */
  emit(
    idx: string,
    supplied: ReadonlyMap<number, string> = new Map(),
  ): { lines: string[]; value: string; valueOf: (id: number) => string } {
    const lines: string[] = [];
    const memo = new Map<string, string>();
    const tag = this.fresh++;
    // Values are named by their position in the group, not by node id, so that identical groups at
    // different places in a graph give identical code (one pipeline, deduplicated by program.ts).
    const position = new Map(this.group.nodes.map((n, k) => [n.id, k]));
    const pre = this.scope?.prefix ?? "";
    const name = (id: number): string => `${pre}v${position.get(id)}_${tag}`;
    const inGroup = new Set(this.group.nodes.map((n) => n.id));
    const valueAt = (id: number, at: string): string => {
      const key = `${id}@${at}`;
      const hit = memo.get(key);
      if (hit) return hit;
      const node = this.byId.get(id)!;
      let value: string;
      const given = supplied.get(id);
      if (given !== undefined) return given;
      if (inGroup.has(id)) {
        // reached through a view: only a one-element member, whose value is the same at every index
        if (!single(node)) bug(`a fused kernel reads member %${id} of its group through a view`);
        return name(id);
      }
      if (!this.inlined.has(id)) {
        value = `${pre}r${this.fresh++}`;
        lines.push(`let ${value} = ${load(this.bindingOf.get(id)!, single(node) ? "0" : at)};`);
      } else if (node.op === "full") {
        return literal(node.attrs.value ?? 0, node.dtype);
      } else if (VIEW_OPS.has(node.op)) {
        value = throughView(node, at);
      } else bug(`a fused kernel reads inlined ${node.op} %${id} outside its group`);
      memo.set(key, value);
      return value;
    };
    // the value of view `node` at `at`: its input's at the index the view maps `at` to
    const throughView = (node: Node, at: string): string => {
      const input = this.byId.get(node.inputs[0])!;
      let inner = at;
      if (node.op !== "reshape" && input.shape.length > 0) {
        const [r] = affineReads(node.op, node.attrs, [input], node);
        const p = `${pre}w${this.fresh++}_`;
        lines.push(unravelCode(at, node.shape, p));
        inner = `(${affineIndex(r.offset, r.strides, p)})`;
      }
      return valueAt(input.id, single(input) ? "0" : inner);
    };
    for (const node of this.group.nodes) {
      if (VIEW_OPS.has(node.op) && node === this.group.root) {
        // a view alone, as a reduction's prologue (fuse.ts): the reduction reads through its indices
        lines.push(`let ${name(node.id)} = ${throughView(node, idx)};`);
        continue;
      }
      const spec = opSpec(node.op);
      if (spec.kind !== "elementwise") bug(`${node.op} in a fused elementwise group`);
      const scalar = single(node);
      const at = scalar ? "0" : idx;
      const strides = stridesOf(node.shape);
      const args = node.inputs.map((i) => {
        const input = this.byId.get(i)!;
        return inGroup.has(i) ? name(i) : valueAt(i, single(input) || scalar ? "0" : idx);
      });
      const ctx: WgslContext = {
        index: `u32(${at})`,
        // `at` may be a sum (a reduction's j-th input)
        coord: (axis) => `u32(((${at}) / ${strides[axis]}) % ${node.shape[axis]})`,
        attrs: node.attrs,
        inputs: node.inputs.map((i) => this.byId.get(i)!),
        out: node,
        use: (h) => this.helpers.add(h),
      };
      // f16 is a storage type computed in f32: a fused f16 value is rounded as storing it would round it.
      const expr = mutation?.op === node.op ? mutation.wrap(spec.wgsl(args, ctx)) : spec.wgsl(args, ctx);
      if (node.dtype === "f16") this.helpers.add("round_f16");
      lines.push(`let ${name(node.id)} = ${node.dtype === "f16" ? `round_f16(${expr})` : expr};`);
    }
    return { lines, value: name(this.group.root.id), valueOf: name };
  }

  /** Short name after the group's ops, for kernel names. */
  label(): string {
    const ops = this.group.nodes.map((x) => x.op);
    return ops.length > 4 ? `${ops.slice(-4).join("_")}_and_${ops.length - 4}_more` : ops.join("_");
  }
}

/**
 * The kernel of an elementwise group. With `inPlace` (a read of the group's single store, read at the
 * kernel's own index only), that read is loaded from the output binding, which then holds it: WebGPU
 * forbids binding one buffer twice when one binding is writable. Its bindings: the other reads, then out.
 */
export function fusedKernel(
  group: FusedGroup,
  byId: ReadonlyMap<number, Node>,
  inlined: ReadonlySet<number>,
  limits: DeviceLimits,
  inPlace?: number,
): KernelSource {
  const root = group.root;
  const outs: Binding[] = group.stores.map((n, k) => ({
    name: group.stores.length === 1 ? "out" : `out${k}`,
    dtype: n.dtype,
    access: "read_write",
  }));
  if (inPlace !== undefined && (group.stores.length !== 1 || !group.reads.some((r) => r.id === inPlace)))
    bug(`in-place read %${inPlace} of a kernel that does not read it or stores several values`);
  const em = new GroupEmitter(
    group,
    byId,
    inlined,
    new Set(),
    inPlace === undefined ? undefined : { id: inPlace, binding: outs[0] },
  );
  const n = prod(root.shape);
  const wide = byFour(group, byId, inlined, n);
  let bindings = [...em.bindings, ...outs];
  let body: string;
  if (wide) {
    // an in-place read is loaded through the output binding: bindingFor gives that
    const wideReads = [
      ...em.boundReads.filter((r) => !single(r)),
      ...(inPlace === undefined ? [] : [byId.get(inPlace)!]),
    ];
    if (wideReads.length <= 1) {
      const vec = new Set([...wideReads.map((r) => em.bindingFor(r.id)), ...outs]);
      bindings = bindings.map((b) => (vec.has(b) ? { ...b, vec: 4 } : b));
      body = consecutiveFour(em, wideReads, outs);
    } else body = quarterFour(em, wideReads, outs, n);
  } else {
    const { lines, valueOf } = em.emit("i");
    group.stores.forEach((s, k) => lines.push(store(outs[k], "i", valueOf(s.id))));
    body = lines.join("\n");
  }
  const { main, workgroups } = elementLoop(wide ? n / 4 : n, limits, body);
  const code = `${header(bindings)}
${helperSource(em.helpers)}

${main}`;
  return {
    name: `${em.label()}_${root.shape.join("x") || "scalar"}${inPlace === undefined ? "" : "_inplace"}`,
    code,
    workgroups,
    bindings,
  };
}

const FOUR = [0, 1, 2, 3] as const;

/**
 * The body of an elementwise kernel that takes four consecutive elements per index `i`: each full-size
 * binding is read and written as vec4 (the caller marks them), and the group's statements run once per
 * component at element j (one-element reads stay scalar, at 0).
 */
function consecutiveFour(em: GroupEmitter, wideReads: readonly Node[], outs: readonly Binding[]): string {
  const supplied = new Map<number, string>();
  const pre: string[] = [];
  wideReads.forEach((r, k) => {
    pre.push(`let x${k} = ${em.bindingFor(r.id).name}[i];`);
    supplied.set(r.id, load({ name: `x${k}`, dtype: r.dtype, access: "read" }, "e"));
  });
  const { lines, valueOf } = em.emit("j", supplied);
  const acc = outs.map((b, k) => ({ ...b, name: `o${k}` }));
  return [
    ...pre,
    ...acc.map((b) => `var ${b.name}: vec4<${storageType(b.dtype)}>;`),
    // a u32 bound, which wgsl/opaque-loops.ts leaves as it is: unrolled, each component is a constant
    // lane (with an opaque bound, x0[e] and o0[e] went through memory and the kernel gained 15 %, not 2×)
    "for (var e = 0u; e < 4u; e++) {",
    "  let j = i * 4 + i32(e);",
    ...lines.map((l) => `  ${l}`),
    ...em.group.stores.map((s, k) => `  ${store(acc[k], "e", valueOf(s.id))}`),
    "}",
    ...outs.map((b, k) => `${b.name}[i] = ${acc[k].name};`),
  ].join("\n");
}

/**
 * The body of an elementwise kernel of `n` elements that takes four per index `i`, a quarter of the kernel
 * apart (i, i + n/4, …), so that neighbouring invocations still touch neighbouring elements: every
 * full-size read is loaded first, the group's statements run once per element, and the stores come last.
 */
function quarterFour(em: GroupEmitter, wideReads: readonly Node[], outs: readonly Binding[], n: number): string {
  const at = (e: number) => `j${e}`;
  const lines: string[] = FOUR.map((e) => `let ${at(e)} = i${e ? ` + ${(e * n) / 4}` : ""};`);
  for (const e of FOUR)
    wideReads.forEach((r, k) => lines.push(`let x${k}_${e} = ${load(em.bindingFor(r.id), at(e))};`));
  // each emit names its values afresh, so the four copies of the group's statements do not collide
  const stored = FOUR.map((e) => {
    const { lines: stmts, valueOf } = em.emit(at(e), new Map(wideReads.map((r, k) => [r.id, `x${k}_${e}`])));
    lines.push(...stmts);
    return em.group.stores.map((s) => valueOf(s.id));
  });
  for (const e of FOUR) outs.forEach((b, k) => lines.push(store(b, at(e), stored[e][k])));
  return lines.join("\n");
}

/**
 * Whether an elementwise kernel of `n` elements can take them four at a time: n a multiple of 4, and every
 * value it reads either loaded at the kernel's own flat index (the same size as its output) or at 0 (one
 * element), or a literal — no view, whose index would not run along with the kernel's.
 *
 * Which four: consecutive ones (vec4 loads and stores) when the kernel reads at most one full-size value,
 * else four a quarter of the kernel apart. Measured on llvmpipe over 4M f32 through the Executor,
 * alternating, GB/s of reads + writes, consecutive / a quarter apart: one read x·a 4.0 / 3.0, exp(x)
 * 3.3 / 2.8, gelu(x·a+b)·c 3.4 / 3.0; two or three x + z 1.8 / 2.8, exp(x + z) 1.7 / 2.7, x + z + w
 * 1.6 / 2.8, but gelu(x + z) 4.6 / 3.6. (A vec4 read per invocation is a gather across llvmpipe's
 * lanes; four a quarter apart keep each load contiguous across invocations, as a GPU's coalescing
 * wants too.)
 */
function byFour(group: FusedGroup, byId: ReadonlyMap<number, Node>, inlined: ReadonlySet<number>, n: number): boolean {
  if (n % 4 !== 0 || n < 4) return false;
  const inGroup = new Set(group.nodes.map((x) => x.id));
  return group.nodes.every((node) =>
    node.inputs.every((i) => {
      if (inGroup.has(i)) return true;
      const input = byId.get(i)!;
      if (inlined.has(i)) return input.op === "full";
      return single(input) || prod(input.shape) === n;
    }),
  );
}
