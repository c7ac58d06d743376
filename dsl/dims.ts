// dims.ts: symbolic dimensions (`T * m`, `d / heads`) — build, print, substitute, evaluate, compare.
// Equality is decided by evaluating both sides at a few fixed pseudo-random points (symbols with
// known values use them): two rational expressions that agree at random points are equal with
// overwhelming probability, and this needs no normal form for `/`. Divisibility is checked when a
// config binds real numbers, at elaboration.

export type Dim =
  | { readonly k: "num"; readonly v: number }
  | { readonly k: "sym"; readonly name: string }
  | { readonly k: "op"; readonly op: "+" | "-" | "*" | "/" | "%"; readonly a: Dim; readonly b: Dim };

/** `%` is floor-mod everywhere in .mira (the sign of the divisor), as on tensors. */
export const floorMod = (a: number, b: number): number => a - Math.floor(a / b) * b;

export const num = (v: number): Dim => ({ k: "num", v });
export const sym = (name: string): Dim => ({ k: "sym", name });

export function dimOp(op: "+" | "-" | "*" | "/" | "%", a: Dim, b: Dim): Dim {
  if (a.k === "num" && b.k === "num") {
    const v =
      op === "+"
        ? a.v + b.v
        : op === "-"
          ? a.v - b.v
          : op === "*"
            ? a.v * b.v
            : op === "/"
              ? a.v / b.v
              : floorMod(a.v, b.v);
    if (Number.isFinite(v) && Number.isInteger(v)) return num(v);
  }
  if ((op === "+" || op === "-") && b.k === "num" && b.v === 0) return a;
  if (op === "+" && a.k === "num" && a.v === 0) return b;
  if ((op === "*" || op === "/") && b.k === "num" && b.v === 1) return a;
  if (op === "*" && a.k === "num" && a.v === 1) return b;
  return { k: "op", op, a, b };
}

const PREC = { "+": 1, "-": 1, "*": 2, "/": 2, "%": 2 } as const;

export function printDim(d: Dim): string {
  switch (d.k) {
    case "num":
      return String(d.v);
    case "sym":
      return d.name;
    case "op": {
      const p = PREC[d.op];
      const l = d.a.k === "op" && PREC[d.a.op] < p ? `(${printDim(d.a)})` : printDim(d.a);
      const r = d.b.k === "op" && PREC[d.b.op] <= p ? `(${printDim(d.b)})` : printDim(d.b);
      return `${l} ${d.op} ${r}`;
    }
  }
}

export function symbolsOf(d: Dim, out: Set<string> = new Set()): Set<string> {
  if (d.k === "sym") out.add(d.name);
  else if (d.k === "op") {
    symbolsOf(d.a, out);
    symbolsOf(d.b, out);
  }
  return out;
}

export function substDim(d: Dim, map: ReadonlyMap<string, Dim>): Dim {
  switch (d.k) {
    case "num":
      return d;
    case "sym":
      return map.get(d.name) ?? d;
    case "op":
      return dimOp(d.op, substDim(d.a, map), substDim(d.b, map));
  }
}

/** Value with every symbol known, else undefined. */
export function evalDim(d: Dim, known: ReadonlyMap<string, number>): number | undefined {
  switch (d.k) {
    case "num":
      return d.v;
    case "sym":
      return known.get(d.name);
    case "op": {
      const a = evalDim(d.a, known);
      const b = evalDim(d.b, known);
      if (a === undefined || b === undefined) return undefined;
      return d.op === "+" ? a + b : d.op === "-" ? a - b : d.op === "*" ? a * b : d.op === "/" ? a / b : floorMod(a, b);
    }
  }
}

function sampleValue(name: string, trial: number): number {
  let h = 2166136261 ^ trial;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return 1000 + ((h >>> 0) % 9_000_000) / 7; // non-integral on purpose: `%` and `/` stay distinct
}

function sampleDim(d: Dim, known: ReadonlyMap<string, number>, trial: number): number {
  switch (d.k) {
    case "num":
      return d.v;
    case "sym":
      return known.get(d.name) ?? sampleValue(d.name, trial);
    case "op": {
      const a = sampleDim(d.a, known, trial);
      const b = sampleDim(d.b, known, trial);
      return d.op === "+" ? a + b : d.op === "-" ? a - b : d.op === "*" ? a * b : d.op === "/" ? a / b : floorMod(a, b);
    }
  }
}

export function dimEq(a: Dim, b: Dim, known: ReadonlyMap<string, number> = new Map()): boolean {
  for (let trial = 0; trial < 3; trial++) {
    const x = sampleDim(a, known, trial);
    const y = sampleDim(b, known, trial);
    if (!(Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y)))) return false;
  }
  return true;
}

/** Depth of a dim expression; kept small by the AST depth limit, checked again here for arithmetic
 *  built by substitution. */
export function dimSize(d: Dim): number {
  return d.k === "op" ? 1 + dimSize(d.a) + dimSize(d.b) : 1;
}
