// fuzz.test.ts: the fuzzer's generated inputs (random bytes, mutated real models, deep nesting, long
// chains, huge numbers) replayed through `mira lsp` as edits of one document: every request gets an
// answer, no handler logs a bug, and the server is alive at the end.
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { GENERATORS, seeded } from "../dsl/fuzz-gen.js";
import { type Client, ROOT, startClient, uriOf } from "./client.js";

const PER_GENERATOR = 12;
// Under models/, so `import std.nn` in a mutant resolves as it would in the editor.
const uri = uriOf(join(ROOT, "models", "fuzz-replay.mira"));
let client: Client;

beforeAll(async () => {
  client = await startClient();
});
afterAll(async () => {
  await client?.stop();
});

function positionAt(text: string, offset: number) {
  const before = text.slice(0, offset);
  const line = before.split("\n").length - 1;
  return { line, character: before.length - (before.lastIndexOf("\n") + 1) };
}

test("every generated input gets diagnostics and an answer to every request; the server stays alive", async () => {
  let opened = false;
  for (const [name, gen] of Object.entries(GENERATORS)) {
    for (let seed = 0; seed < PER_GENERATOR; seed++) {
      const r = seeded(seed * 7919 + name.length);
      const text = gen(r).text;
      const ds = opened ? await client.change(uri, text) : await client.open(uri, text);
      opened = true;
      expect(Array.isArray(ds), `${name} seed ${seed}`).toBe(true);
      const textDocument = { uri };
      for (const offset of [0, Math.floor(r() * text.length), text.length]) {
        const position = positionAt(text, offset);
        await client.request("textDocument/hover", { textDocument, position });
        await client.request("textDocument/definition", { textDocument, position });
        expect(Array.isArray(await client.request("textDocument/completion", { textDocument, position }))).toBe(true);
      }
      expect(
        Array.isArray(
          await client.request("textDocument/formatting", {
            textDocument,
            options: { tabSize: 2, insertSpaces: true },
          }),
        ),
      ).toBe(true);
      expect(Array.isArray(await client.request("textDocument/documentSymbol", { textDocument }))).toBe(true);
    }
  }
  expect(client.logs).toEqual([]);
  expect(client.proc.exitCode).toBeNull();
  expect(await client.request("textDocument/documentSymbol", { textDocument: { uri } })).toBeDefined();
}, 300_000);
