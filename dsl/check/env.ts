// env.ts: the checker's state — scopes of names, the module and interface tables, the known values of
// config dims, and the diagnostic sink.
import type * as A from "../ast.js";
import { type Diagnostic, type KnownCode, closest, diag } from "../diagnostics.js";
import type { InterfaceInfo, ModuleInfo, Ty } from "../types.js";

export type BindingKind = "let" | "param" | "hyper" | "dim" | "input" | "config" | "carry" | "index" | "builtin";

export interface Binding {
  ty: Ty;
  readonly kind: BindingKind;
  readonly span?: A.Span;
  used: boolean;
}

export class Scope {
  private readonly names = new Map<string, Binding>();
  constructor(readonly parent?: Scope) {}

  lookup(name: string): Binding | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const b = s.names.get(name);
      if (b) return b;
    }
    return undefined;
  }

  own(name: string): Binding | undefined {
    return this.names.get(name);
  }

  define(name: string, b: Binding): void {
    this.names.set(name, b);
  }

  *visible(): Iterable<string> {
    for (let s: Scope | undefined = this; s; s = s.parent) yield* s.names.keys();
  }

  *ownBindings(): Iterable<[string, Binding]> {
    yield* this.names.entries();
  }
}

/** Where statements sit decides which are allowed (M2006). */
export type Place = "module" | "model" | "repeat" | "scan";

export class Ctx {
  readonly diagnostics: Diagnostic[] = [];
  readonly modules = new Map<string, ModuleInfo>();
  readonly interfaces = new Map<string, InterfaceInfo>();
  /** Module name → the interface it implements, from the declarations before their signatures are
   *  built, so an untyped default (`mix = KeepAll()`) gives its hyperparameter the interface type. */
  readonly implementsOf = new Map<string, string>();
  /** Values of config ints while checking a model; empty inside generic module bodies. */
  known = new Map<string, number>();
  /** The type of every expression and binding name checked, by span, when a caller asks (an editor's
   *  hover); absent otherwise, so checks that only want diagnostics keep nothing. */
  types?: Map<A.Span, Ty>;

  report(code: KnownCode, span: A.Span, message: string, hint: string): void {
    this.diagnostics.push(diag(code, span, message, hint));
  }

  /** "unknown name 'x'" with the closest visible name as a hint. */
  unknownName(what: string, name: string, span: A.Span, candidates: Iterable<string>): void {
    const near = closest(name, candidates);
    this.report(
      what === "type" || what === "interface" ? "M2003" : "M2001",
      span,
      `unknown ${what} '${name}'`,
      near
        ? `did you mean '${near}'?`
        : what === "type" || what === "interface"
          ? `declare interface ${name}(...) -> ..., or import the file that declares it`
          : `define '${name}' with let, or import the file that declares it`,
    );
  }
}
