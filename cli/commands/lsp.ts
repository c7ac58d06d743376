// lsp.ts: `mira lsp` — the language server on stdin/stdout for editors (editors/vscode, docs/editors.md).
// Runs until the client closes the connection; stdout carries the protocol, so nothing else may print.
import type { Parsed } from "../args.js";

export async function lspCommand(_p: Parsed): Promise<number> {
  const { startServer } = await import("../../lsp/server.js");
  const connection = startServer(process.stdin, process.stdout);
  // A stray exception must not end the session: log it where the client shows server output.
  process.on("uncaughtException", (e) => connection.console.error(`mira lsp: ${e.stack ?? e.message}`));
  await new Promise<void>((resolve) => connection.onExit(() => resolve()));
  return 0;
}
