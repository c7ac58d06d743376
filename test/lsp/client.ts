// client.ts: a real JSON-RPC client for the language server tests: spawns `mira lsp` as an editor
// would (bin/mira.js), speaks the protocol over its stdin/stdout, and collects published diagnostics.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  type MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
} from "vscode-jsonrpc/node";
import type { Diagnostic, PublishDiagnosticsParams } from "vscode-languageserver-protocol";

export const ROOT = join(import.meta.dirname, "..", "..");
export const uriOf = (file: string) => pathToFileURL(file).href;

export interface Client {
  readonly conn: MessageConnection;
  readonly proc: ChildProcess;
  /** Log messages the server sent (window/logMessage), e.g. a handler's caught bug. */
  readonly logs: string[];
  open(uri: string, text: string): Promise<Diagnostic[]>;
  change(uri: string, text: string): Promise<Diagnostic[]>;
  request<T>(method: string, params: unknown): Promise<T>;
  stop(): Promise<void>;
}

export async function startClient(): Promise<Client> {
  const proc = spawn(process.execPath, [join(ROOT, "bin", "mira.js"), "lsp"], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  proc.stderr!.on("data", () => {}); // keep the pipe drained
  const conn = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
  const waiting = new Map<string, (ds: Diagnostic[]) => void>();
  const logs: string[] = [];
  conn.onNotification("textDocument/publishDiagnostics", (p: PublishDiagnosticsParams) => {
    waiting.get(p.uri)?.(p.diagnostics);
    waiting.delete(p.uri);
  });
  conn.onNotification("window/logMessage", (p: { message: string }) => {
    logs.push(p.message);
  });
  conn.listen();
  await conn.sendRequest("initialize", { processId: process.pid, rootUri: uriOf(ROOT), capabilities: {} });
  await conn.sendNotification("initialized", {});
  const versions = new Map<string, number>();
  const next = (uri: string) => new Promise<Diagnostic[]>((resolve) => waiting.set(uri, resolve));
  return {
    conn,
    proc,
    logs,
    async open(uri, text) {
      const got = next(uri);
      versions.set(uri, 1);
      await conn.sendNotification("textDocument/didOpen", {
        textDocument: { uri, languageId: "mira", version: 1, text },
      });
      return got;
    },
    async change(uri, text) {
      const got = next(uri);
      const version = (versions.get(uri) ?? 1) + 1;
      versions.set(uri, version);
      await conn.sendNotification("textDocument/didChange", {
        textDocument: { uri, version },
        contentChanges: [{ text }],
      });
      return got;
    },
    request: (method, params) => conn.sendRequest(method, params),
    async stop() {
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      await conn.sendRequest("shutdown");
      await conn.sendNotification("exit");
      await exited;
      conn.dispose();
    },
  };
}

/** The 0-based position of the n-th character of the first occurrence of `needle` in `text`. */
export function positionOf(text: string, needle: string, within = 0): { line: number; character: number } {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`'${needle}' not in the text`);
  const before = text.slice(0, at + within);
  const line = before.split("\n").length - 1;
  return { line, character: before.length - (before.lastIndexOf("\n") + 1) };
}
