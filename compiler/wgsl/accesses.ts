// accesses.ts: a kernel's accesses to one storage binding, rewritten for a pass that binds it otherwise —
// a sequence kernel's per-element view of a vec4 binding (wgsl/stage.ts), windows of a binding past the
// device's binding size (wgsl/windows.ts). Every kernel family indexes a binding only as `name[i]` or
// `name[i] = v;`, so reads and stores are the whole of it; anything else refuses the rewrite.

/**
 * `code` with every `name[i]` read as `load(T(i))` and every `name[i] = v;` stored as `store(T(i), v);`,
 * T the index type the helpers take; undefined where an access is anything else (a pointer to the
 * binding, a compound assignment, a component store, an increment).
 */
export function rewriteAccesses(
  code: string,
  name: string,
  load: string,
  store: string,
  index: "i32" | "u32",
): string | undefined {
  if (new RegExp(`&\\s*${name}(?!\\w)`).test(code)) return undefined;
  const re = new RegExp(`(?<![\\w.])${name}\\s*\\[`, "g");
  let out = "";
  let at = 0;
  for (;;) {
    re.lastIndex = at;
    const m = re.exec(code);
    if (!m) return out + code.slice(at);
    const open = m.index + m[0].length - 1;
    const close = closing(code, open);
    if (close < 0) return undefined;
    const inner = rewriteAccesses(code.slice(open + 1, close), name, load, store, index);
    if (inner === undefined) return undefined;
    out += code.slice(at, m.index);
    const rest = code.slice(close + 1);
    const assign = /^\s*([-+*/%&|^]?=)(?!=)/.exec(rest);
    if (/^\s*\.\s*\w+\s*[-+*/%&|^]?=(?!=)/.test(rest) || /^\s*(\+\+|--)/.test(rest)) return undefined;
    if (!assign) {
      out += `${load}(${index}(${inner}))`;
      at = close + 1;
      continue;
    }
    if (assign[1] !== "=") return undefined;
    const from = close + 1 + assign[0].length;
    const end = statementEnd(code, from);
    if (end < 0) return undefined;
    const value = rewriteAccesses(code.slice(from, end), name, load, store, index);
    if (value === undefined) return undefined;
    out += `${store}(${index}(${inner}), ${value.trim()})`;
    at = end;
  }
}

/** The end of the bracket, parenthesis or brace that opens at `open` (others nested inside balance), or -1. */
export function closing(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    const c = code[i];
    if (c === "[" || c === "(" || c === "{") depth++;
    else if (c === "]" || c === ")" || c === "}") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** The `;` ending the statement that continues at `from` (outside brackets), or -1. */
export function statementEnd(code: string, from: number): number {
  let depth = 0;
  for (let i = from; i < code.length; i++) {
    const c = code[i];
    if (c === "[" || c === "(") depth++;
    else if (c === "]" || c === ")") depth--;
    else if (c === ";" && depth === 0) return i;
  }
  return -1;
}

/**
 * `code` with a constant K taken out of every index of `name` — each `name[K + i]` becomes `name[i]` —
 * and K, where every access of `name` starts with the same positive literal K; undefined otherwise. An
 * index is a sum at its top level (WGSL does not mix bitwise or shift operators with `+` unbracketed), so
 * `K + i - j` is `(i - j) + K`. Lets a caller move K into where the binding starts: the slices of a scan's
 * steps, each at its own offset, become one kernel (sequence-ops.ts).
 */
export function peelOffset(code: string, name: string): { code: string; offset: number } | undefined {
  const re = new RegExp(`(?<![\\w.])${name}\\s*\\[`, "g");
  let out = "";
  let at = 0;
  let offset: number | undefined;
  for (const m of code.matchAll(re)) {
    const open = m.index + m[0].length - 1;
    const close = closing(code, open);
    // an access inside another's index comes after that one's K, so it is peeled too: a[K + a[K + i]]
    // reads a[K + ·] twice, and both take the moved start
    if (close < 0) return undefined;
    const k = /^\s*(\d+)u?\s*\+\s*/.exec(code.slice(open + 1, close));
    if (!k || Number(k[1]) === 0 || (offset !== undefined && Number(k[1]) !== offset)) return undefined;
    offset = Number(k[1]);
    out += code.slice(at, open + 1);
    at = open + 1 + k[0].length;
  }
  return offset === undefined ? undefined : { code: out + code.slice(at), offset };
}
