// grammar.test.ts: the TextMate grammar of editors/vscode, run by vscode-textmate on the Oniguruma wasm
// as VS Code runs it. Every non-whitespace token of every models/**/*.mira gets a scope beyond the
// root (no token class is left uncoloured), and spot checks pin the scope of each class.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import oniguruma from "vscode-oniguruma";
import textmate from "vscode-textmate";
import { beforeAll, describe, expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const GRAMMAR = join(ROOT, "editors", "vscode", "syntaxes", "mira.tmLanguage.json");

function miraFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? miraFiles(p) : name.endsWith(".mira") ? [p] : [];
  });
}

interface Token {
  readonly text: string;
  readonly scopes: readonly string[];
  readonly line: number;
}

let grammar: textmate.IGrammar;

beforeAll(async () => {
  const wasm = readFileSync(join(ROOT, "node_modules", "vscode-oniguruma", "release", "onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (s) => new oniguruma.OnigScanner(s),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) =>
      scope === "source.mira" ? textmate.parseRawGrammar(readFileSync(GRAMMAR, "utf8"), GRAMMAR) : null,
  });
  const g = await registry.loadGrammar("source.mira");
  if (!g) throw new Error("the grammar did not load");
  grammar = g;
});

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let stack = textmate.INITIAL;
  text.split("\n").forEach((line, i) => {
    const r = grammar.tokenizeLine(line, stack);
    for (const t of r.tokens) out.push({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes, line: i + 1 });
    stack = r.ruleStack;
  });
  return out;
}

/** The innermost scope of the first token spelt `text` at or after the first occurrence of `after`. */
function scopeOf(src: string, after: string, text: string): string {
  const line = src.slice(0, src.indexOf(after)).split("\n").length;
  const tokens = tokenize(src).filter((t) => t.line >= line);
  const t = tokens.find((x) => x.text.trim() === text);
  if (!t) throw new Error(`no token '${text}' after '${after}'`);
  return t.scopes.at(-1)!;
}

/** One test per row: in `src` (the model file `file`), after `after`, the token `text` has scope `scope`. */
function scopesIn(file: string, src: string, rows: [after: string, text: string, scope: string][]): void {
  test.each(rows)(`${file}: after %j, '%s' is %s`, (after, text, scope) => {
    expect(scopeOf(src, after, text)).toBe(scope);
  });
}

describe("the TextMate grammar", () => {
  const files = miraFiles(join(ROOT, "models"));

  test("finds the models", () => {
    expect(files.map((f) => relative(ROOT, f))).toEqual(
      expect.arrayContaining(["models/mirasol.mira", "models/std/nn.mira"]),
    );
  });

  test.each(files.map((f) => [relative(ROOT, f), f]))(
    "%s: every non-whitespace token has a scope beyond the root",
    (_, file) => {
      const bare = tokenize(readFileSync(file, "utf8")).filter((t) => /\S/.test(t.text) && t.scopes.length < 2);
      expect(bare.map((t) => `${t.line}: '${t.text}'`)).toEqual([]);
    },
  );

  const mirasol = readFileSync(join(ROOT, "models", "mirasol.mira"), "utf8");
  const combiners = readFileSync(join(ROOT, "models", "std", "combiners.mira"), "utf8");
  const chunks = readFileSync(join(ROOT, "models", "std", "chunks.mira"), "utf8");
  scopesIn("mirasol.mira", mirasol, [
    ["import std.nn", "import", "keyword.control.import.mira"],
    ["import std.nn", "std.nn", "entity.name.namespace.mira"],
    ["model Mirasol", "Mirasol", "entity.name.type.model.mira"],
    ["chunks: int = 4", "chunks", "variable.other.property.config.mira"],
    ["chunks: int = 4", "4", "constant.numeric.mira"],
    ["chunk_position_std: float = 0.02", "0.02", "constant.numeric.mira"],
    ["combiner: Combiner", "Combiner", "entity.name.type.mira"],
    ["preset tiny", "tiny", "entity.name.section.preset.mira"],
    ["preset tiny", "lambda_latent", "variable.other.property.config.mira"],
    ["preset 3b", "3b", "entity.name.section.preset.mira"],
    ["// mirasol.mira", "//", "punctuation.definition.comment.mira"],
    ["mask: causal", "causal", "constant.language.mira"],
    ["input video", "input", "storage.type.mira"],
    ["output latents", "latents", "variable.other.mira"],
    ["loss text_loss", "loss", "storage.type.mira"],
    ["objective =", "objective", "storage.type.mira"],
    ["generate text from logits until eos", "until", "keyword.control.mira"],
    ["MaskedCrossEntropy()(all_logits", "MaskedCrossEntropy", "entity.name.type.module.mira"],
  ]);

  scopesIn("chunks.mira", chunks, [
    ["module LearnedChunkAR", "module", "storage.type.module.mira"],
    ["module LearnedChunkAR", "LearnedChunkAR", "entity.name.type.module.mira"],
    ["(x: f32[B, T, M, d])", "f32", "support.type.dtype.mira"],
    ["module LearnedChunkAR(heads: int", "int", "support.type.primitive.mira"],
    ["let pos = broadcast", "let", "storage.type.mira"],
    ["let pos = broadcast", "broadcast", "entity.name.function.mira"],
    ["let pos = broadcast", "=", "keyword.operator.assignment.mira"],
    ["repeat depth as blocks", "repeat", "keyword.control.mira"],
    ["-> f32[B, T * M, d]", "->", "keyword.operator.arrow.mira"],
    ["-> f32[B, T * M, d]", "*", "keyword.operator.arithmetic.mira"],
    ["mask: block_causal(M)", "block_causal", "entity.name.function.mira"],
  ]);

  scopesIn("combiners.mira", combiners, [
    ["interface Combiner", "interface", "storage.type.interface.mira"],
    ["interface Combiner", "Combiner", "entity.name.type.interface.mira"],
    ["implements Combiner(out = m)", "implements", "storage.modifier.implements.mira"],
    ["implements Combiner(out = m)", "Combiner", "entity.other.inherited-class.mira"],
    ["scan t over T", "scan", "keyword.control.mira"],
    ["x: f32[N, P, d]", "x", "variable.parameter.mira"],
  ]);

  test("the matmul operator and comparison have their own scopes", () => {
    expect(scopeOf("let y = x @ w\n", "let", "@")).toBe("keyword.operator.matmul.mira");
    expect(scopeOf("let y = a == b\n", "let", "==")).toBe("keyword.operator.comparison.mira");
    expect(scopeOf("x: f32[..., d]\n", "x", "...")).toBe("keyword.operator.ellipsis.mira");
  });
});
