// row-group.ts: the kernel of a row group (fuse-rows.ts). One invocation per row o of S (the reduced
// axes A removed), no barriers: on a CPU adapter a barrier switches every invocation of the workgroup,
// and one loop per row is what the reduction kernel runs there too. The row's stages in schedule order:
//   a reduction  — a loop over the row's elements (the same order as reduce.ts: first element, then
//                  the rest), computing its input and whatever per-element members that input needs;
//   a per-row group — once, from the reductions' results (registers);
//   per-element groups — computed inside the loops that need them, and stored by one last loop.
// Cost: one read of each input per stage that needs it, one write of each stored value, no launches.
import type { Node } from "../ir.js";
import type { DeviceLimits } from "../limits.js";
import { prod, stridesOf } from "../shape.js";
import type { Binding, KernelSource } from "./common.js";
import { affineIndex, computeType, grid, header, load, store, unravelCode } from "./common.js";
import { GroupEmitter } from "./fused.js";
import type { FusedGroup, RowGroup } from "../fuse.js";
import { helperSource } from "./helpers.js";
import { COMBINE } from "./reduce.js";

const WG = 64;

/** What a row group's code needs from the kernel it is part of. */
export interface RowScope {
  /** bindings of the values it reads, shared with the rest of the kernel (added to as it goes) */
  readonly bindings: Map<number, Binding>;
  /** bindings of its stored values, by node */
  readonly outs: ReadonlyMap<number, Binding>;
  readonly helpers: Set<string>;
  /** a name prefix for its emitters' values */
  readonly prefix: string;
  /** lines a per-element member's value is also handed to (workgroup memory), with the row's element j */
  readonly also?: { readonly id: number; readonly lines: (value: string) => string[] };
  /** a condition its stores are guarded by (a workgroup's rows past the tensor's end) */
  readonly storeIf?: string;
}

/** The row group's stages for the row at `o` (an i32 let, with `base` its first element's flat index):
 *  each reduction a loop, each per-row group once, then one loop storing the per-element values. */
export function rowGroupStages(
  rg: RowGroup,
  byId: ReadonlyMap<number, Node>,
  inlined: ReadonlySet<number>,
  scope: RowScope,
): string[] {
  const { shape, axes } = rg;
  const st = stridesOf(shape);
  const redShape = axes.map((i) => shape[i]);
  const r = prod(redShape);
  const { bindings, outs, helpers } = scope;
  const guarded = (line: string): string => (scope.storeIf ? `if (${scope.storeIf}) { ${line} }` : line);
  const members = new Set(
    rg.units.flatMap((u) => (u.kind === "reduce" ? [u.node.id] : u.group.stores.map((s) => s.id))),
  );
  const elementUnit = new Map<number, FusedGroup>(); // a per-element member value → its group
  for (const u of rg.units) if (u.kind === "element") for (const s of u.group.stores) elementUnit.set(s.id, u.group);
  const perRow = new Map<number, string>(); // member value → its register (reductions, per-row groups)
  let fresh = 0;
  const emitter = (group: FusedGroup): GroupEmitter => {
    const provided = new Set(group.reads.filter((x) => members.has(x.id)).map((x) => x.id));
    const prefix = `${scope.prefix}g${fresh++}_`;
    return new GroupEmitter(group, byId, inlined, provided, undefined, { bindings, prefix });
  };
  const external = (id: number): Binding => {
    if (!bindings.has(id)) bindings.set(id, { name: `in${bindings.size}`, dtype: byId.get(id)!.dtype, access: "read" });
    return bindings.get(id)!;
  };

  /** Statements computing per-element member `id` at `idx` (and the members it reads), memoized in `got`. */
  const elementValue = (id: number, lines: string[], got: Map<number, string>): string => {
    const hit = got.get(id);
    if (hit) return hit;
    const group = elementUnit.get(id)!;
    for (const x of group.reads) if (elementUnit.has(x.id)) elementValue(x.id, lines, got);
    const em = emitter(group);
    const e = em.emit("idx", new Map([...perRow, ...got]));
    for (const h of em.helpers) helpers.add(h);
    lines.push(...e.lines);
    for (const s of group.stores) got.set(s.id, e.valueOf(s.id));
    return got.get(id)!;
  };
  /** A loop over the row's elements: `idx` is the element's flat index in S. */
  const rowLoop = (from: number, body: string[]): string =>
    `for (var j = ${from}; j < ${r}; j++) {
    ${unravelCode("j", redShape, "q")}
    let idx = base + ${affineIndex(
      0,
      axes.map((a) => st[a]),
      "q",
    )};
    ${body.join("\n    ")}
  }`;

  const stages: string[] = [];
  rg.units.forEach((u, m) => {
    if (u.kind === "reduce") {
      const t = computeType(u.node.dtype);
      const combine = COMBINE[u.node.op];
      const input = (): { lines: string[]; value: string } => {
        const lines: string[] = [];
        const got = new Map<number, string>();
        if (!u.prologue) {
          const x = u.node.inputs[0];
          if (elementUnit.has(x)) return { lines, value: elementValue(x, lines, got) };
          // a per-row member read as an element: rows of one element (the planner allows it only then)
          if (perRow.has(x)) return { lines, value: perRow.get(x)! };
          return { lines, value: load(external(x), "idx") };
        }
        for (const x of u.prologue.reads) if (elementUnit.has(x.id)) elementValue(x.id, lines, got);
        const em = emitter(u.prologue);
        const e = em.emit("idx", new Map([...perRow, ...got]));
        for (const h of em.helpers) helpers.add(h);
        return { lines: [...lines, ...e.lines], value: e.value };
      };
      const first = input();
      const rest = input();
      const acc = `acc${m}`;
      let result = u.node.op === "reduce_mean" ? `${acc} / ${t}(${r})` : acc;
      if (u.node.dtype === "f16") {
        helpers.add("round_f16");
        result = `round_f16(${result})`;
      }
      stages.push(`var ${acc}: ${t};
  {
    let idx = base;
    ${first.lines.join("\n    ")}
    ${acc} = ${first.value};
  }
  ${rowLoop(1, [...rest.lines, `${acc} = ${combine(acc, rest.value)};`])}
  let red${m} = ${result};`);
      perRow.set(u.node.id, `red${m}`);
      if (outs.has(u.node.id)) stages.push(guarded(store(outs.get(u.node.id)!, "o", `red${m}`)));
    } else if (u.kind === "row") {
      const em = emitter(u.group);
      const e = em.emit("o", perRow);
      for (const h of em.helpers) helpers.add(h);
      stages.push(e.lines.join("\n  "));
      for (const s of u.group.stores) {
        perRow.set(s.id, e.valueOf(s.id));
        if (outs.has(s.id)) stages.push(guarded(store(outs.get(s.id)!, "o", e.valueOf(s.id))));
      }
    }
  });
  const stored = rg.stores.filter((s) => elementUnit.has(s.id) && outs.has(s.id));
  const also = scope.also;
  if (stored.length || also) {
    const lines: string[] = [];
    const got = new Map<number, string>();
    for (const s of stored) lines.push(guarded(store(outs.get(s.id)!, "idx", elementValue(s.id, lines, got))));
    if (also) lines.push(...also.lines(elementValue(also.id, lines, got)));
    stages.push(rowLoop(0, lines));
  }
  return stages;
}

/** The kernel, and the values it reads in binding order (its stores, `rg.stores`, bind after them). */
export function rowGroupKernel(
  rg: RowGroup,
  byId: ReadonlyMap<number, Node>,
  inlined: ReadonlySet<number>,
  limits: DeviceLimits,
): { kernel: KernelSource; inputs: number[] } {
  const { shape, axes } = rg;
  const bindings = new Map<number, Binding>();
  const helpers = new Set<string>();
  const outs = new Map(
    rg.stores.map((n, k) => [n.id, { name: `out${k}`, dtype: n.dtype, access: "read_write" } as Binding]),
  );
  const stages = rowGroupStages(rg, byId, inlined, { bindings, outs, helpers, prefix: "" });
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const nRows = prod(kept.map((i) => shape[i]));
  const g = grid(Math.ceil(nRows / WG), limits);
  const main = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = i32(${g.linear} * ${WG}u + lid);
  if (o >= ${nRows}) { return; }
  ${rowBase(rg)}
  ${stages.join("\n  ")}
}
`;
  const all = [...bindings.values(), ...outs.values()];
  const kernel = {
    name: `rows_${rowLabel(rg)}_${shape.join("x")}_axes${axes.join("")}`,
    code: `${header(all)}\n${helperSource(helpers)}\n${main}`,
    workgroups: g.workgroups,
    bindings: all,
  };
  return { kernel, inputs: [...bindings.keys()] };
}

/** `let base = …;`: the flat index of row `o`'s first element (after its coordinates' lets). */
export function rowBase(rg: RowGroup): string {
  const kept = rg.shape.map((_, i) => i).filter((i) => !rg.axes.includes(i));
  const st = stridesOf(rg.shape);
  return `${unravelCode(
    "o",
    kept.map((i) => rg.shape[i]),
    "k",
  )}
  let base = ${affineIndex(
    0,
    kept.map((i) => st[i]),
    "k",
  )};`;
}

/** The group's ops, for kernel names: the first five and how many more. */
export function rowLabel(rg: RowGroup): string {
  const ops = rg.units.flatMap((u) => (u.kind === "reduce" ? [u.node.op] : u.group.nodes.map((n) => n.op)));
  return ops.length > 5 ? `${ops.slice(0, 5).join("_")}_and_${ops.length - 5}_more` : ops.join("_");
}
