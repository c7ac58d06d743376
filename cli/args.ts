// args.ts: command-line parsing on node:util's parseArgs, with errors that say what to type.
import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "./errors.js";

export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
}

export const COMMON_OPTIONS: Options = {
  debug: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

export function parse(argv: readonly string[], options: Options, usage: string): Parsed {
  try {
    const r = parseArgs({
      args: [...argv],
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: r.values, positionals: r.positionals };
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify a positional.*$/, "")}; usage: ${usage}`);
  }
}

export const str = (p: Parsed, name: string): string | undefined => {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
};

export const strs = (p: Parsed, name: string): string[] => {
  const v = p.values[name];
  return Array.isArray(v) ? v.map(String) : typeof v === "string" ? [v] : [];
};

export const flag = (p: Parsed, name: string): boolean => p.values[name] === true;

export function int(p: Parsed, name: string, fallback: number): number {
  const v = str(p, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} needs an integer, got '${v}'`);
  return n;
}

export function num(p: Parsed, name: string, fallback: number): number {
  const v = str(p, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} needs a number, got '${v}'`);
  return n;
}

export function onePositional(p: Parsed, what: string, usage: string): string {
  if (p.positionals.length !== 1) throw new UsageError(`expected one ${what}; usage: ${usage}`);
  return p.positionals[0];
}
