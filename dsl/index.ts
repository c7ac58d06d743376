// index.ts: the front end's library API. Every function returns { result, diagnostics } and never
// throws on any input text; the CLI and the compiler call these and nothing deeper.
import * as fs from "node:fs";
import { type CheckOptions, type Checked, checkPrograms } from "./check.js";
import { type Diagnostic, type Sources, sortDiagnostics } from "./diagnostics.js";
import { type ReadFile, loadProgram } from "./modules.js";

export type { Program, Span } from "./ast.js";
export type { CheckOptions, Checked } from "./check.js";
export { type ConfigChoice, type ResolvedConfig, applyOverrides } from "./config.js";
export {
  CODES,
  type Diagnostic,
  diagnosticJson,
  formatDiagnostic,
  formatDiagnostics,
  hasErrors,
} from "./diagnostics.js";
export { format } from "./format.js";
export { parse, parseExpression } from "./parse.js";
export { loadProgram, type ReadFile } from "./modules.js";

/** Reads from disk; a missing or unreadable file is `undefined`, reported by the importer. */
export const readFromDisk: ReadFile = (file) => {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined; // ENOENT, EISDIR, EACCES: all mean "cannot import this", which M2004 says
  }
};

export interface CheckSourceOptions extends CheckOptions {
  readonly read?: ReadFile;
  /** Directory `import a.b` resolves under; by default the nearest `models/` above the file. */
  readonly root?: string;
}

/** Parse + imports + check of one file's text. `sources` holds every text a diagnostic may point into. */
export function check(
  source: string,
  file: string,
  opts: CheckSourceOptions = {},
): { result: Checked; diagnostics: Diagnostic[]; sources: Sources } {
  const loaded = loadProgram(file, source, opts.read ?? readFromDisk, opts.root);
  const checked = checkPrograms(loaded.result.programs, opts, loaded.result.sources);
  const sources = new Map([...loaded.result.sources, ...(checked.result.config?.sources ?? [])]);
  return {
    result: checked.result,
    diagnostics: sortDiagnostics([...loaded.diagnostics, ...checked.diagnostics]),
    sources,
  };
}
