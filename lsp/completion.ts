// completion.ts: what may be typed at a position — after `key: Interface =` (or a preset's `key =`
// for an interface-typed key) the implementations of that interface; elsewhere keywords, dtypes,
// modules and interfaces in scope, builtins and the model's config keys.
import * as P from "vscode-languageserver/node";
import { BUILTINS, BUILTIN_VALUES } from "../dsl/check/builtins.js";
import { KEYWORDS } from "../dsl/lexer.js";
import { type Analysis, headerText, interfaces, modelAt } from "./analysis.js";

const DTYPES = ["f32", "f16", "i32", "u32", "bool", "int", "float"];

export function completionsAt(a: Analysis, offset: number): P.CompletionItem[] {
  const line = a.text.slice(a.text.lastIndexOf("\n", offset - 1) + 1, offset);
  const iface = expectedInterface(a, offset, line);
  if (iface) {
    return [...a.checked.modules.values()]
      .filter((m) => m.implements === iface)
      .map((m) => ({
        label: m.name,
        kind: P.CompletionItemKind.Class,
        detail: headerText(a, m.decl),
        sortText: `0${m.name}`,
      }));
  }
  const items: P.CompletionItem[] = [];
  const add = (label: string, kind: P.CompletionItemKind, detail?: string) =>
    items.push({ label, kind, ...(detail ? { detail } : {}) });
  for (const k of KEYWORDS) add(k.name.toLowerCase(), P.CompletionItemKind.Keyword);
  for (const t of DTYPES) add(t, P.CompletionItemKind.TypeParameter);
  for (const m of a.checked.modules.values()) add(m.name, P.CompletionItemKind.Class, headerText(a, m.decl));
  for (const i of interfaces(a)) add(i.name.name, P.CompletionItemKind.Interface, headerText(a, i));
  for (const [name, rule] of Object.entries(BUILTINS)) add(name, P.CompletionItemKind.Function, rule.doc);
  for (const name of Object.keys(BUILTIN_VALUES)) if (!DTYPES.includes(name)) add(name, P.CompletionItemKind.Constant);
  const model = modelAt(a, offset);
  for (const s of model?.body.stmts ?? [])
    if (s.kind === "config") for (const f of s.fields) add(f.name.name, P.CompletionItemKind.Property, "config");
  const seen = new Set<string>();
  return items.filter((i) => !seen.has(i.label) && (seen.add(i.label), true));
}

/** The interface whose implementation is expected here: `name: Iface = |` anywhere, or `key = |` in
 *  a preset where the config declares `key: Iface`. */
function expectedInterface(a: Analysis, offset: number, line: string): string | undefined {
  const names = new Set(interfaces(a).map((i) => i.name.name));
  const typed = /(\w+)\s*:\s*([A-Za-z_]\w*)\s*=\s*\w*$/.exec(line);
  if (typed && names.has(typed[2])) return typed[2];
  const setting = /^\s*(\w+)\s*=\s*\w*$/.exec(line);
  const model = modelAt(a, offset);
  if (!setting || !model) return undefined;
  const field = model.body.stmts
    .flatMap((s) => (s.kind === "config" ? s.fields : []))
    .find((f) => f.name.name === setting[1]);
  const type = field?.type?.name.name;
  return type && names.has(type) ? type : undefined;
}
