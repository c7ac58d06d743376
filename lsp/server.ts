// server.ts: the language server (`mira lsp`): diagnostics as you type, hover, go to definition,
// completion, formatting and document symbols over JSON-RPC. Every request is answered: a bug in a
// handler becomes a logged message and an empty answer, never a dead server.
import * as P from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import { format, readFromDisk } from "../dsl/index.js";
import { type Analysis, analyse, fileOf, offsetIn, rangeIn, uriOf, wordAt } from "./analysis.js";
import { completionsAt } from "./completion.js";
import { definitionOf } from "./definition.js";
import { elaborationDiagnostics, toLspDiagnostics } from "./diagnostics.js";
import { hoverText } from "./hover.js";
import { documentSymbols } from "./symbols.js";

export function startServer(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): P.Connection {
  const connection = P.createConnection(P.ProposedFeatures.all, input, output);
  const documents = new P.TextDocuments(TextDocument);
  const cache = new Map<string, { version: number; analysis: Analysis }>();

  const log = (what: string, e: unknown) =>
    connection.console.error(`mira lsp: ${what} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  const safe = <T>(what: string, fallback: T, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      log(what, e);
      return fallback;
    }
  };

  // Open documents win over the disk, so an edit to std/nn.mira is seen by the model importing it.
  const read = (file: string): string | undefined => documents.get(uriOf(file))?.getText() ?? readFromDisk(file);

  const analysisOf = (uri: string): Analysis | undefined => {
    const doc = documents.get(uri);
    if (!doc) return undefined;
    const hit = cache.get(uri);
    if (hit && hit.version === doc.version) return hit.analysis;
    const analysis = analyse(fileOf(uri), doc.getText(), read);
    cache.set(uri, { version: doc.version, analysis });
    return analysis;
  };

  const publish = (uri: string): void => {
    const a = safe("checking", undefined, () => analysisOf(uri));
    const diagnostics = a ? safe("diagnostics", [], () => toLspDiagnostics(a)) : [];
    if (a) diagnostics.push(...safe("elaboration", [], () => toLspDiagnostics(a, elaborationDiagnostics(a))));
    void connection.sendDiagnostics({ uri, diagnostics });
  };

  connection.onInitialize(() => ({
    capabilities: {
      textDocumentSync: P.TextDocumentSyncKind.Incremental,
      hoverProvider: true,
      definitionProvider: true,
      completionProvider: { triggerCharacters: ["="] },
      documentFormattingProvider: true,
      documentSymbolProvider: true,
    },
    serverInfo: { name: "mira" },
  }));

  documents.onDidChangeContent((e) => publish(e.document.uri));
  documents.onDidClose((e) => {
    cache.delete(e.document.uri);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });

  /** The analysis, offset and word of a position request, or undefined when there is none. */
  const at = (p: P.TextDocumentPositionParams) => {
    const a = analysisOf(p.textDocument.uri);
    if (!a) return undefined;
    const offset = offsetIn(a.text, p.position);
    return { a, offset, word: wordAt(a.text, offset) };
  };

  connection.onHover((p) =>
    safe("hover", null, () => {
      const x = at(p);
      const value = x?.word && hoverText(x.a, x.offset, x.word);
      return value && x.word
        ? { contents: { kind: P.MarkupKind.Markdown, value }, range: rangeIn(x.a.text, x.word) }
        : null;
    }),
  );

  connection.onDefinition((p) =>
    safe("definition", null, () => {
      const x = at(p);
      const target = x?.word && definitionOf(x.a, x.offset, x.word);
      if (!target) return null;
      const zero = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
      const text = target.start === undefined ? undefined : (x.a.sources.get(target.file) ?? read(target.file));
      const range = target.start === undefined || text === undefined ? zero : rangeIn(text, target);
      return { uri: uriOf(target.file), range };
    }),
  );

  connection.onCompletion((p) =>
    safe("completion", [], () => {
      const x = at(p);
      return x ? completionsAt(x.a, x.offset) : [];
    }),
  );

  connection.onDocumentFormatting((p) =>
    safe("formatting", [], () => {
      const doc = documents.get(p.textDocument.uri);
      if (!doc) return [];
      const text = doc.getText();
      const r = format(text, fileOf(doc.uri));
      if (r.result === undefined || r.result === text) return []; // syntax errors: nothing to lay out
      return [P.TextEdit.replace(rangeIn(text, { start: 0, end: text.length }), r.result)];
    }),
  );

  connection.onDocumentSymbol((p) =>
    safe("document symbols", [], () => {
      const a = analysisOf(p.textDocument.uri);
      return a ? documentSymbols(a) : [];
    }),
  );

  documents.listen(connection);
  connection.listen();
  return connection;
}
