// plan.ts: memory planning over the dispatch schedule. Each value lives from the step that first writes
// it to the last step that reads it; values whose lifetimes do not overlap share a buffer (best fit,
// growing a free buffer rather than adding one). Inputs, parameters and outputs keep buffers of their
// own, since the caller reads and writes them between runs. `validateMemoryPlan` checks the result.

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
}

export interface MemoryPlan {
  /** value id → slot index */
  readonly slotOf: ReadonlyMap<number, number>;
  /** bytes of each slot */
  readonly slots: readonly number[];
  /** values of each slot, in the order they were placed */
  readonly residents: readonly (readonly number[])[];
  readonly totalBytes: number;
}

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

export function planMemory(values: readonly PlanValue[], steps: readonly PlanStep[], reuse = true): MemoryPlan {
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
  const endingAt = new Map<number, number[]>();
  for (const [id, l] of life) if (!byId.get(id)?.persistent && reuse) endingAt.set(l.last, [...(endingAt.get(l.last) ?? []), id]);
  steps.forEach((st, s) => {
    for (const w of st.writes) {
      const v = byId.get(w);
      if (!v || slotOf.has(v.id)) continue;
      // best fit among free slots; otherwise grow the largest free one; otherwise a new slot
      let best: number | undefined;
      for (const f of free) if (slots[f] >= v.bytes && (best === undefined || slots[f] < slots[best])) best = f;
      if (best === undefined) for (const f of free) if (best === undefined || slots[f] > slots[best]) best = f;
      if (best !== undefined) free.delete(best);
      place(v.id, v.bytes, best);
    }
    for (const id of endingAt.get(s) ?? []) {
      const slot = slotOf.get(id);
      if (slot !== undefined) free.add(slot);
    }
  });
  for (const v of values) if (!slotOf.has(v.id)) place(v.id, v.bytes); // written by no step
  return { slotOf, slots, residents, totalBytes: slots.reduce((a, b) => a + b, 0) };
}

/** Violations of the plan: a value in a buffer too small for it, two live values in one buffer. */
export function validateMemoryPlan(plan: MemoryPlan, values: readonly PlanValue[], steps: readonly PlanStep[]): string[] {
  const problems: string[] = [];
  const life = lifetimes(values, steps);
  for (const v of values) {
    const slot = plan.slotOf.get(v.id);
    if (slot === undefined) problems.push(`value %${v.id} has no buffer`);
    else if (plan.slots[slot] < v.bytes) problems.push(`value %${v.id} (${v.bytes} B) in buffer ${slot} of ${plan.slots[slot]} B`);
  }
  plan.residents.forEach((ids, slot) => {
    for (let i = 0; i < ids.length; i++)
      for (let j = i + 1; j < ids.length; j++) {
        const a = life.get(ids[i])!;
        const b = life.get(ids[j])!;
        const persistent = values.find((v) => v.id === ids[i])?.persistent || values.find((v) => v.id === ids[j])?.persistent;
        if (persistent || (a.first <= b.last && b.first <= a.last)) problems.push(`buffer ${slot}: %${ids[i]} [${a.first}, ${a.last}] and %${ids[j]} [${b.first}, ${b.last}] are live together`);
      }
  });
  return problems;
}
