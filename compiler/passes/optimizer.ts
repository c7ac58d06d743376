// optimizer.ts: where the adamw ops of a training step (ops/optim.ts) may write their parameters in
// place. An adamw node's result is the stacked new p, m and v; a step takes them apart into outputs
// that the runtime copies into the params after the run (Program.updates). When that is all that
// happens to them, the kernel can write the three params directly — no stacked buffer, no copies, and
// 4 bindings per parameter instead of 8, so several parameters fit one dispatch. That is safe when
// nothing reads the old values afterwards: the adamw nodes and the slices taking them apart end the
// graph (the tail), m and v are read by their adamw node only, and p by nothing in the tail.
// It is all or nothing: otherwise every adamw node is lowered to elementwise primitives, as it is when
// compiling without fusion (the baseline).
import { GraphBuilder } from "../builder.js";
import { type Graph, type Node, isFed, nodeById } from "../ir.js";
import { adamwAttrs, adamwPrimitives, clipScale, stackStates } from "../ops/optim.js";
import { sameShape } from "../shape.js";

export interface InPlaceOptimizer {
  /** adamw node → its p, m and v param nodes, in graph order */
  readonly nodes: ReadonlyMap<number, readonly [number, number, number]>;
  /** slices and reshapes that take an in-place adamw node apart → the param whose buffer holds them */
  readonly aliases: ReadonlyMap<number, number>;
}

const NONE: InPlaceOptimizer = { nodes: new Map(), aliases: new Map() };

/** The in-place plan for every adamw node of `g`, or undefined when some cannot be (see above).
 *  `updates`: output name → the param it overwrites after a run. */
export function inPlaceOptimizer(g: Graph, updates: Readonly<Record<string, string>>): InPlaceOptimizer | undefined {
  const adamws = g.nodes.filter((n) => n.op === "adamw");
  if (adamws.length === 0) return NONE;
  const byId = nodeById(g);
  const pos = new Map(g.nodes.map((n, k) => [n.id, k]));
  const users = new Map<number, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) users.set(i, [...(users.get(i) ?? []), n]);
  const outputsOf = new Map<number, string[]>();
  for (const o of g.outputs) outputsOf.set(o.id, [...(outputsOf.get(o.id) ?? []), o.name]);
  const tail = pos.get(adamws[0].id)!;
  const nodes = new Map<number, readonly [number, number, number]>();
  const aliases = new Map<number, number>();
  const seenParams = new Set<number>();
  for (const a of adamws) {
    const state = a.inputs.slice(0, 3).map((i) => byId.get(i)!) as [Node, Node, Node];
    if (state.some((s) => s.op !== "param" || seenParams.has(s.id) || outputsOf.has(s.id))) return undefined;
    state.forEach((s) => seenParams.add(s.id));
    const [p, m, v] = state;
    if ((users.get(m.id) ?? []).length !== 1 || (users.get(v.id) ?? []).length !== 1) return undefined;
    if ((users.get(p.id) ?? []).some((u) => u !== a && pos.get(u.id)! >= tail)) return undefined;
    // exactly one slice per state, each reshaped to the param's shape and copied into that param
    const parts = users.get(a.id) ?? [];
    if (parts.length !== 3 || outputsOf.has(a.id)) return undefined;
    const taken = new Set<number>();
    for (const s of parts) {
      const k = s.op === "slice" ? stateIndex(s, a) : undefined;
      if (k === undefined || taken.has(k) || outputsOf.has(s.id)) return undefined;
      taken.add(k);
      const rs = users.get(s.id) ?? [];
      const r = rs[0];
      if (rs.length !== 1 || r.op !== "reshape" || !sameShape(r.shape, p.shape) || (users.get(r.id) ?? []).length)
        return undefined;
      const names = outputsOf.get(r.id) ?? [];
      if (names.length === 0 || names.some((o) => updates[o] !== state[k].attrs.name)) return undefined;
      aliases.set(s.id, state[k].id);
      aliases.set(r.id, state[k].id);
    }
    nodes.set(a.id, [p.id, m.id, v.id]);
  }
  // the tail holds the adamw nodes, their parts and fed values (moments declared on the way) only
  for (const n of g.nodes.slice(tail)) if (!nodes.has(n.id) && !aliases.has(n.id) && !isFed(n)) return undefined;
  return { nodes, aliases };
}

/** 0, 1 or 2 when `s` takes exactly state k of `a` (a whole [1, …] slab along axis 0). */
function stateIndex(s: Node, a: Node): number | undefined {
  const { starts = [], ends = [], steps } = s.attrs;
  const k = starts[0];
  if (k === undefined || ends[0] !== k + 1 || (steps && steps.some((x) => x !== 1))) return undefined;
  if (a.shape.slice(1).some((d, i) => starts[i + 1] !== 0 || ends[i + 1] !== d)) return undefined;
  return k;
}

/** `g` unchanged when its adamw nodes can write in place, else with them lowered to primitives.
 *  `grouped: false` always lowers them: compiling without fusion (the A/B baseline — updating several
 *  parameters per dispatch is itself a fusion), or for a device that cannot bind one parameter's. */
export function placeOptimizer(g: Graph, updates: Readonly<Record<string, string>>, grouped = true): Graph {
  if (grouped && inPlaceOptimizer(g, updates)) return g;
  const b = new GraphBuilder();
  const map = new Map<number, Node>();
  const byId = nodeById(g);
  const states = new Map<number, { p: Node; m: Node; v: Node }>(); // lowered adamw → its new states
  const clips = new Map<string, ReturnType<typeof clipScale>>(); // one clip factor per norm
  const stacked = (id: number): Node => {
    let x = map.get(id);
    if (!x) map.set(id, (x = stackStates(b, states.get(id)!)));
    return x;
  };
  for (const n of g.nodes) {
    const from = byId.get(n.inputs[0]);
    // state k of a lowered adamw reshaped to its parameter is that state: no stacking, no copies
    if (
      n.op === "reshape" &&
      from?.op === "slice" &&
      states.has(from.inputs[0]) &&
      stateIndex(from, byId.get(from.inputs[0])!) !== undefined &&
      sameShape(n.shape, from.shape.slice(1))
    ) {
      map.set(
        n.id,
        states.get(from.inputs[0])![(["p", "m", "v"] as const)[stateIndex(from, byId.get(from.inputs[0])!)!]],
      );
      continue;
    }
    if (n.op === "slice" && states.has(n.inputs[0])) continue; // built on first use below
    const ins = n.inputs.map((i) => (states.has(i) ? stacked(i) : (map.get(i) ?? build(byId.get(i)!))));
    if (n.op !== "adamw") {
      map.set(n.id, b.add(n.op, ins, n.attrs));
      continue;
    }
    const [p, m, v, grad, norm, stepSize, epsHat, decay] = ins;
    const attrs = adamwAttrs(n);
    const key = `${norm.id}:${attrs.clipNorm}`;
    if (!clips.has(key)) clips.set(key, clipScale(b, norm, attrs.clipNorm));
    states.set(n.id, adamwPrimitives(b, { p, m, v, g: grad, ...clips.get(key)!, stepSize, epsHat, decay }, attrs));
  }
  /** a skipped slice some other node reads after all */
  function build(n: Node): Node {
    const x = b.add(n.op, [stacked(n.inputs[0])], n.attrs);
    map.set(n.id, x);
    return x;
  }
  for (const o of g.outputs)
    b.output(o.name, map.get(o.id) ?? (states.has(o.id) ? stacked(o.id) : build(byId.get(o.id)!)));
  return b.build();
}
