// cli-support.ts: `mira check` and `mira fmt` as functions from arguments to { output, exitCode },
// so the CLI stays a thin layer and tests need no subprocess. Exit codes: 0 clean (warnings allowed),
// 1 errors in the model or a file that `fmt --check` would change, 2 unreadable input.
import * as fs from "node:fs";
import { diagnosticJson, formatDiagnostics, hasErrors } from "./diagnostics.js";
import { format } from "./format.js";
import { check } from "./index.js";

export interface CliResult {
  readonly output: string;
  readonly exitCode: 0 | 1 | 2;
}

export interface CheckFileOptions {
  readonly preset?: string;
  readonly set?: readonly string[];
  readonly json?: boolean;
  readonly model?: string;
}

function readInput(path: string): string | CliResult {
  try {
    return fs.readFileSync(path, "utf8");
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : "cannot read it";
    return { output: `${path}: ${why}`, exitCode: 2 };
  }
}

export function checkFile(path: string, opts: CheckFileOptions = {}): CliResult {
  const source = readInput(path);
  if (typeof source !== "string") return source;
  const r = check(source, path, opts);
  const failed = hasErrors(r.diagnostics);
  if (opts.json) {
    const out = {
      ok: !failed,
      model: r.result.model?.name.name,
      diagnostics: r.diagnostics.map((d) => diagnosticJson(d, r.sources)),
    };
    return { output: JSON.stringify(out, null, 2), exitCode: failed ? 1 : 0 };
  }
  const errors = r.diagnostics.filter((d) => d.severity === "error").length;
  const warnings = r.diagnostics.length - errors;
  const summary = failed
    ? `${errors} error${errors === 1 ? "" : "s"}${warnings ? `, ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}`
    : `${path}: ok` +
      `${r.result.model ? ` (model ${r.result.model.name.name}${opts.preset ? `, preset ${opts.preset}` : ""})` : ""}` +
      `${warnings ? `, ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}`;
  const text = [formatDiagnostics(r.diagnostics, r.sources), summary].filter((s) => s.length > 0).join("\n");
  return { output: text, exitCode: failed ? 1 : 0 };
}

export interface FormatFileOptions {
  /** Rewrite the file in place. */
  readonly write?: boolean;
  /** Exit 1 when the file is not formatted; print nothing else. */
  readonly check?: boolean;
}

export function formatFile(path: string, opts: FormatFileOptions = {}): CliResult {
  const source = readInput(path);
  if (typeof source !== "string") return source;
  const r = format(source, path);
  if (r.result === undefined)
    return {
      output:
        formatDiagnostics(r.diagnostics, new Map([[path, source]])) + "\nnot formatted: fix the syntax errors first",
      exitCode: 1,
    };
  const changed = r.result !== source;
  if (opts.check)
    return { output: changed ? `${path}: would reformat` : `${path}: formatted`, exitCode: changed ? 1 : 0 };
  if (opts.write) {
    if (changed) fs.writeFileSync(path, r.result);
    return { output: changed ? `${path}: reformatted` : `${path}: unchanged`, exitCode: 0 };
  }
  return { output: r.result.replace(/\n$/, ""), exitCode: 0 };
}
