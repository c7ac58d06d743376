// shape.ts: static shapes — sizes, row-major strides and broadcasting.

export type Shape = readonly number[];

export const prod = (s: Shape): number => s.reduce((a, b) => a * b, 1);

export function stridesOf(s: Shape): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

export const sameShape = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

export const fmtShape = (s: Shape): string => `[${s.join(", ")}]`;

/** numpy-style broadcast of two shapes, or undefined when they do not broadcast. */
export function broadcastShapes(a: Shape, b: Shape): number[] | undefined {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Normalise a possibly negative axis against a rank. */
export const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** Multi-index of flat index `i` in a row-major shape. */
export function unravel(i: number, s: Shape): number[] {
  const out = new Array<number>(s.length);
  for (let k = s.length - 1; k >= 0; k--) {
    out[k] = i % s[k];
    i = Math.floor(i / s[k]);
  }
  return out;
}
