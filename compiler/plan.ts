// plan.ts: memory planning over the dispatch schedule. Each value lives from the step that first writes
// it to the last step that reads it; values whose lifetimes do not overlap share a buffer (best fit,
// growing a free buffer rather than adding one). Inputs, parameters and outputs keep buffers of their
// own, since the caller reads and writes them between runs. An elementwise step may write in place: its
// value takes the buffer of a value it reads at the same index and that dies at that step.
// `validateMemoryPlan` checks the result.

export interface PlanValue {
  readonly id: number;
  readonly bytes: number;
  /** fed or read by the caller: never shares its buffer */
  readonly persistent: boolean;
}

export interface PlanStep {
  readonly reads: readonly number[];
  /** values the step writes (several for a merged elementwise kernel) */
  readonly writes: readonly number[];
  /** a read the step's single write may overwrite, index by index (an elementwise kernel reading it at
   *  its own index only): the write then takes that read's buffer if the read dies at this step */
  readonly inPlace?: number;
}

export interface MemoryPlan {
  /** steps whose write took the buffer of their `inPlace` read */
  readonly inPlaceSteps: ReadonlySet<number>;
  /** value id → slot index */
  readonly slotOf: ReadonlyMap<number, number>;
  /** bytes of each slot */
  readonly slots: readonly number[];
  /** values of each slot, in the order they were placed */
  readonly residents: readonly (readonly number[])[];
  readonly totalBytes: number;
}

/** A value takes a free buffer at most this many times its size. */
const WASTE = 2;

interface Life {
  first: number;
  last: number;
}

export function lifetimes(values: readonly PlanValue[], steps: readonly PlanStep[]): Map<number, Life> {
  const life = new Map<number, Life>();
  const touch = (id: number, s: number): void => {
    const l = life.get(id);
    if (l) l.last = Math.max(l.last, s);
    else life.set(id, { first: s, last: s });
  };
  steps.forEach((st, s) => {
    st.reads.forEach((r) => touch(r, s));
    st.writes.forEach((w) => touch(w, s));
  });
  for (const v of values) if (!life.has(v.id)) life.set(v.id, { first: -1, last: -1 });
  return life;
}

/**
 * `gap`: a freed buffer is taken again only this many steps after its last read (0: at the next step). A
 * gap lets later passes run nearby dispatches side by side (parallel.ts): a buffer reused at once makes
 * neighbours that never share a value touch one buffer, which orders them.
 */
export function planMemory(
  values: readonly PlanValue[],
  steps: readonly PlanStep[],
  reuse = true,
  gap = 0,
  windows: (bytes: number) => number = () => 1,
): MemoryPlan {
  // a buffer past one binding is bound as windows (compiler/windows.ts): values share a buffer only with
  // values bound as as many windows, so that a kernel binds each as the fusion counted it
  const fits = (slot: number, bytes: number): boolean => windows(slots[slot]) === windows(bytes);
  const slotOf = new Map<number, number>();
  const slots: number[] = [];
  const residents: number[][] = [];
  const place = (id: number, bytes: number, slot?: number): void => {
    if (slot === undefined) {
      slot = slots.length;
      slots.push(0);
      residents.push([]);
    }
    slots[slot] = Math.max(slots[slot], bytes);
    residents[slot].push(id);
    slotOf.set(id, slot);
  };
  const byId = new Map(values.map((v) => [v.id, v]));
  for (const v of values) if (v.persistent || !reuse) place(v.id, v.bytes);
  const life = lifetimes(values, steps);
  const free = new Set<number>();
  const cooling = new Map<number, number[]>(); // step at which slots become free → those slots
  const endingAt = new Map<number, number[]>();
  for (const [id, l] of life)
    if (!byId.get(id)?.persistent && reuse) endingAt.set(l.last, [...(endingAt.get(l.last) ?? []), id]);
  const occupant = new Map<number, number>(); // slot → the value placed in it last
  const inPlaceSteps = new Set<number>();
  steps.forEach((st, s) => {
    for (const slot of cooling.get(s) ?? []) free.add(slot);
    for (const w of st.writes) {
      const v = byId.get(w);
      if (!v || slotOf.has(v.id)) continue;
      const r = st.inPlace;
      const rSlot = r === undefined ? undefined : slotOf.get(r);
      if (
        reuse &&
        st.writes.length === 1 &&
        r !== undefined &&
        rSlot !== undefined &&
        !byId.get(r)?.persistent &&
        life.get(r)?.last === s &&
        occupant.get(rSlot) === r &&
        slots[rSlot] >= v.bytes &&
        fits(rSlot, v.bytes)
      ) {
        place(v.id, v.bytes, rSlot);
        occupant.set(rSlot, v.id);
        inPlaceSteps.add(s);
        continue;
      }
      // best fit among free slots at most WASTE times its size; otherwise grow the largest free one smaller
      // than it; otherwise a new slot (a small value in a far larger buffer would hold the difference idle
      // for as long as it lives: a step's gradients, alive together at its end, in its activations' buffers)
      let best: number | undefined;
      for (const f of free)
        if (
          slots[f] >= v.bytes &&
          slots[f] <= WASTE * v.bytes &&
          fits(f, v.bytes) &&
          (best === undefined || slots[f] < slots[best])
        )
          best = f;
      if (best === undefined)
        for (const f of free)
          if (slots[f] < v.bytes && fits(f, v.bytes) && (best === undefined || slots[f] > slots[best])) best = f;
      if (best !== undefined) free.delete(best);
      place(v.id, v.bytes, best);
      occupant.set(slotOf.get(v.id)!, v.id);
    }
    for (const id of endingAt.get(s) ?? []) {
      const slot = slotOf.get(id);
      if (slot === undefined || occupant.get(slot) !== id) continue; // a write took it in place
      if (gap === 0) free.add(slot);
      else cooling.set(s + 1 + gap, [...(cooling.get(s + 1 + gap) ?? []), slot]);
    }
  });
  for (const v of values) if (!slotOf.has(v.id)) place(v.id, v.bytes); // written by no step
  return { inPlaceSteps, slotOf, slots, residents, totalBytes: slots.reduce((a, b) => a + b, 0) };
}

/** Violations of the plan: a value in a buffer too small for it, two live values in one buffer. */
export function validateMemoryPlan(
  plan: MemoryPlan,
  values: readonly PlanValue[],
  steps: readonly PlanStep[],
): string[] {
  const problems: string[] = [];
  const life = lifetimes(values, steps);
  // An in-place step hands its read's buffer to its write: they meet at that step only, by design.
  const handover = new Set<string>();
  for (const s of plan.inPlaceSteps) {
    const st = steps[s];
    const r = st.inPlace;
    if (r === undefined || st.writes.length !== 1 || life.get(r)?.last !== s || life.get(st.writes[0])?.first !== s)
      problems.push(`step ${s} is marked in place but does not end its read where its write begins`);
    else handover.add(`${r}>${st.writes[0]}`);
  }
  for (const v of values) {
    const slot = plan.slotOf.get(v.id);
    if (slot === undefined) problems.push(`value %${v.id} has no buffer`);
    else if (plan.slots[slot] < v.bytes)
      problems.push(`value %${v.id} (${v.bytes} B) in buffer ${slot} of ${plan.slots[slot]} B`);
  }
  plan.residents.forEach((ids, slot) => {
    for (let i = 0; i < ids.length; i++)
      for (let j = i + 1; j < ids.length; j++) {
        const a = life.get(ids[i])!;
        const b = life.get(ids[j])!;
        const persistent =
          values.find((v) => v.id === ids[i])?.persistent || values.find((v) => v.id === ids[j])?.persistent;
        if (handover.has(`${ids[i]}>${ids[j]}`) || handover.has(`${ids[j]}>${ids[i]}`)) continue;
        if (persistent || (a.first <= b.last && b.first <= a.last))
          problems.push(
            `buffer ${slot}: %${ids[i]} [${a.first}, ${a.last}] and %${ids[j]} [${b.first}, ${b.last}] ` +
              "are live together",
          );
      }
  });
  return problems;
}
