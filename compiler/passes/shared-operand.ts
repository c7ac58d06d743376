// shared-operand.ts: matmuls that read the same A — an attention layer's q, k and v projections of one
// input — as one matmul of their B operands joined along N: A·[B₁ B₂ …] = [A·B₁ A·B₂ …], each product a
// slice of the joined one's columns. A bias added to each product joins too, so the joined matmul keeps
// one epilogue. Inside an unrolled scan the B operands are the same weights at every step, so their
// concat is built once for all steps and each step saves n − 1 dispatches. A group joins only where that
// pays (sum-of-products.ts's rule, counting each shared concat once) and where every reader of a product
// takes the slice as strides — a matmul, concat or pad, through views — so that no slice needs a kernel
// of its own. (Elementwise work reading a product would have been that product's matmul epilogue; behind
// a slice it would take a kernel, so such a product stays apart.)
import { GraphBuilder } from "../builder.js";
import { type Graph, type Node, nodeById, pruneGraph } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { opSpec } from "../ops/index.js";
import { bytesOf } from "../schedule.js";
import { type Strided, applyView, contiguous, matmulLayouts } from "../strided.js";
import { joinPays } from "./sum-of-products.js";

const VIEWS: ReadonlySet<string> = new Set(["reshape", "permute", "slice", "broadcast"]);

/** B's axis that becomes the product's last (N) axis. */
const nAxis = (m: Node, b: Node): number => b.shape.length - ((m.attrs.transB ?? false) ? 2 : 1);

/** One product of a group: the matmul, the value its readers see (the matmul, or its bias add) and the
 *  bias vector, if any. */
interface Part {
  readonly m: Node;
  readonly seen: Node;
  readonly bias?: Node;
}

interface Group {
  readonly parts: readonly Part[];
  readonly keys: readonly [string, string | undefined];
}

/** `chains`: whether fuse-chains.ts runs after; a product read as it is as a matmul's A may then run in one
 *  kernel with that matmul (an MLP's two layers), which a join would prevent, so such a product stays apart. */
export function joinSharedOperands(g: Graph, limits: DeviceLimits, chains: boolean): Graph {
  const byId = nodeById(g);
  const order = new Map(g.nodes.map((n, k) => [n.id, k]));
  const users = new Map<number, Node[]>();
  for (const n of g.nodes) for (const i of new Set(n.inputs)) users.set(i, [...(users.get(i) ?? []), n]);
  const outputs = new Set(g.outputs.map((o) => o.id));
  const usersOf = (id: number): readonly Node[] => users.get(id) ?? [];

  /** The bias vector of `m`'s one reader, when that reader is m + broadcast(v) with v of shape [N]. */
  const biasOf = (m: Node): Part => {
    const only = usersOf(m.id);
    const add = only.length === 1 && !outputs.has(m.id) ? only[0] : undefined;
    if (!add || add.op !== "add" || add.dtype !== m.dtype || add.shape.join() !== m.shape.join()) return { m, seen: m };
    const other = byId.get(add.inputs[add.inputs[0] === m.id ? 1 : 0])!;
    const v = other.op === "broadcast" ? byId.get(other.inputs[0])! : undefined;
    if (!v || other.inputs[0] === m.id || v.shape.length !== 1 || v.shape[0] !== m.shape.at(-1)) return { m, seen: m };
    return { m, seen: add, bias: v };
  };

  /** Whether every reader of value `id`, seen through `view` of the joined result, reads it as strides. */
  const readsAsStrides = (id: number, view: Strided): boolean =>
    usersOf(id).every((u) => {
      if (VIEWS.has(u.op)) {
        const next = applyView(view, u);
        return next !== undefined && !outputs.has(u.id) && readsAsStrides(u.id, next);
      }
      if (u.op === "concat" || u.op === "pad") return true;
      if (u.op !== "matmul") return false;
      const [a, b] = u.inputs.map((i) => byId.get(i)!);
      return (
        matmulLayouts(
          u,
          a,
          b,
          u.inputs[0] === id ? view : contiguous(a.shape),
          u.inputs[1] === id ? view : contiguous(b.shape),
        ) !== undefined
      );
    });

  // candidate groups: products agreeing on A, flags, dtypes and every B axis but N; with a bias each or none
  const byKey = new Map<string, Part[]>();
  for (const m of g.nodes) {
    if (m.op !== "matmul") continue;
    const b = byId.get(m.inputs[1])!;
    const offN = b.shape.map((d, k) => (k === nAxis(m, b) ? "N" : d));
    const part = biasOf(m);
    const key = JSON.stringify([m.inputs[0], m.attrs, m.dtype, b.dtype, offN, part.bias?.dtype ?? null]);
    byKey.set(key, [...(byKey.get(key) ?? []), part]);
  }
  const maxBytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const concatKey = (xs: readonly Node[], axis: number) => `${axis}:${xs.map((x) => x.id).join(",")}`;
  let groups: Group[] = [];
  for (const parts of byKey.values()) {
    if (parts.length < 2) continue;
    const first = Math.min(...parts.map((p) => order.get(p.m.id)!));
    const n = parts.reduce((s, p) => s + p.m.shape.at(-1)!, 0);
    // every operand defined before the first product, where the joined one takes its place; a source (a
    // weight first declared in the scan's first step) moves up to it
    const early = (x: Node) => order.get(x.id)! < first || opSpec(x.op).kind === "source";
    const bs = parts.map((p) => byId.get(p.m.inputs[1])!);
    if (!bs.every(early) || !parts.every((p) => !p.bias || early(p.bias))) continue;
    if (bs.reduce((s, b) => s + bytesOf(b), 0) > maxBytes) continue;
    if (bytesOf(parts[0].m) * (n / parts[0].m.shape.at(-1)!) > maxBytes) continue;
    const shape = [...parts[0].m.shape.slice(0, -1), n];
    const whole = contiguous(shape);
    let at = 0;
    const readable = parts.every((p) => {
      const w = p.m.shape.at(-1)!;
      const starts = shape.map((_, k) => (k === shape.length - 1 ? at : 0));
      const ends = shape.map((d, k) => (k === shape.length - 1 ? at + w : d));
      at += w;
      const slice: Node = {
        id: -1,
        op: "slice",
        inputs: [],
        attrs: { starts, ends },
        dtype: p.m.dtype,
        shape: p.m.shape,
      };
      const view = applyView(whole, slice)!;
      const chainable = usersOf(p.seen.id).some(
        (u) => u.op === "matmul" && u.inputs[0] === p.seen.id && !u.attrs.transA,
      );
      return !outputs.has(p.seen.id) && !(chains && chainable) && readsAsStrides(p.seen.id, view);
    });
    if (!readable) continue;
    const biases = parts.map((p) => p.bias).filter((v) => v !== undefined);
    groups.push({
      parts,
      keys: [concatKey(bs, nAxis(parts[0].m, bs[0])), biases.length ? concatKey(biases, 0) : undefined],
    });
  }
  // each group's share of its concats, among the groups still chosen, until no more drop out
  for (;;) {
    const shares = new Map<string, number>();
    for (const c of groups) for (const k of c.keys) if (k) shares.set(k, (shares.get(k) ?? 0) + 1);
    const share = (k: string | undefined) => (k ? shares.get(k)! : Number.POSITIVE_INFINITY);
    const kept = groups.filter((c) => joinPays(c.parts.length, limits, [share(c.keys[0]), share(c.keys[1])]));
    if (kept.length === groups.length) break;
    groups = kept;
  }
  if (!groups.length) return g;

  const firstOf = new Map<number, Group>(); // the group's first product → the group
  const joined = new Set<number>(); // products and bias adds the joined matmuls replace
  for (const c of groups) {
    firstOf.set(c.parts.reduce((p, q) => (order.get(q.m.id)! < order.get(p.m.id)! ? q : p)).m.id, c);
    for (const p of c.parts) for (const x of [p.m, p.seen]) joined.add(x.id);
  }
  const b = new GraphBuilder();
  const map = new Map<number, Node>();
  const concats = new Map<string, Node>(); // one node per concat of the same inputs (shared across steps)
  const concat = (xs: readonly Node[], axis: number): Node => {
    const key = concatKey(xs, axis);
    const c = concats.get(key) ?? b.add("concat", xs, { axis });
    concats.set(key, c);
    return c;
  };
  const copy = (n: Node): Node => {
    const inputs = n.inputs.map((i) => map.get(i)!);
    return n.op === "concat" ? concat(inputs, n.attrs.axis ?? 0) : b.add(n.op, inputs, n.attrs);
  };
  for (const n of g.nodes) {
    const c = firstOf.get(n.id);
    if (!c) {
      if (!joined.has(n.id) && !map.has(n.id)) map.set(n.id, copy(n));
      continue;
    }
    for (const p of c.parts)
      for (const x of [byId.get(p.m.inputs[1])!, p.bias]) if (x && !map.has(x.id)) map.set(x.id, copy(x));
    const m0 = c.parts[0].m;
    const bs = c.parts.map((p) => map.get(p.m.inputs[1])!);
    let y = b.add("matmul", [map.get(m0.inputs[0])!, concat(bs, nAxis(m0, bs[0]))], m0.attrs);
    if (c.keys[1]) {
      const bias = concat(
        c.parts.map((p) => map.get(p.bias!.id)!),
        0,
      );
      y = b.add("add", [y, b.add("broadcast", [bias], { shape: y.shape })]);
    }
    let at = 0;
    for (const p of c.parts) {
      const w = p.m.shape.at(-1)!;
      const starts = y.shape.map((_, k) => (k === y.shape.length - 1 ? at : 0));
      const ends = y.shape.map((d, k) => (k === y.shape.length - 1 ? at + w : d));
      map.set(p.seen.id, b.add("slice", [y], { starts, ends }));
      at += w;
    }
  }
  for (const o of g.outputs) b.output(o.name, map.get(o.id)!);
  return pruneGraph(b.build());
}
