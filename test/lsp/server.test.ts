// server.test.ts: `mira lsp` driven over stdio by a real JSON-RPC client, as an editor drives it:
// diagnostics with code, range and hint as the text changes, hover shapes and signatures, completion
// of an interface's implementations, definitions into models/std, formatting and document symbols.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { CompletionItem, DocumentSymbol, Hover, Location, TextEdit } from "vscode-languageserver-protocol";
import { type Client, ROOT, positionOf, startClient, uriOf } from "./client.js";

const file = join(ROOT, "models", "mirasol.mira");
const uri = uriOf(file);
const text = readFileSync(file, "utf8");
let client: Client;

beforeAll(async () => {
  client = await startClient();
});
afterAll(async () => {
  await client?.stop();
});

const hover = async (src: string, needle: string, within = 0) => {
  const h = await client.request<Hover | null>("textDocument/hover", {
    textDocument: { uri },
    position: positionOf(src, needle, within),
  });
  return h && typeof h.contents === "object" && "value" in h.contents ? h.contents.value : "";
};

describe("mira lsp", () => {
  test("a clean model has no diagnostics; a broken shape is reported at its range with code and hint", async () => {
    expect(await client.open(uri, text)).toEqual([]);
    const broken = text.replace("[B, (chunks - 1) * m, d])\n  let next", "[B, chunks * m, d])\n  let next");
    const ds = await client.change(uri, broken);
    expect(ds.map((d) => d.code)).toEqual(["M2110"]);
    const call = "reshape(predict_latent(h_chunks[:, :-1]), [B, chunks * m, d])";
    expect(ds[0].range.start).toEqual(positionOf(broken, call));
    expect(ds[0].range.end).toEqual(positionOf(broken, call, call.length));
    expect(ds[0].message).toContain("reshape changes the element count");
    expect(ds[0].severity).toBe(1);
    expect(await client.change(uri, text)).toEqual([]);
  });

  test(
    "a size error inside std/nn.mira is reported at the call, " + "its 'called here' notes as related locations",
    async () => {
      const broken = text.replace("    heads: int = 4\n", "    heads: int = 3\n");
      const ds = await client.change(uri, broken);
      expect(ds.map((d) => d.code)).toEqual(["M3005"]);
      expect(ds[0].message).toMatch(/64 \/ 3 is not a whole number\nhint: /);
      const start = ds[0].range.start;
      expect(broken.split("\n")[start.line].slice(start.character)).toMatch(/^\w+(\(.*\))?\(/); // at a call here
      const related = ds[0].relatedInformation!.map((r) => [
        r.location.uri.replace(/^.*\/models\//, "models/"),
        r.message,
      ]);
      expect(related[0]).toEqual(["models/std/nn.mira", "the problem is here"]);
      expect(related.slice(1).some(([u, m]) => u === "models/mirasol.mira" && /called here/.test(m))).toBe(true);
      expect(await client.change(uri, text)).toEqual([]);
    },
  );

  test("hover shows a value's symbolic shape, a module's signature and a config key's value", async () => {
    await client.change(uri, text);
    expect(await hover(text, "return head(norm(x))", "return head(norm(".length)).toContain("x: f32[B, 1 + L, d]");
    expect(await hover(text, "let h = ar(latents)", 4)).toContain("h: f32[B, chunks * 4, d]");
    expect(await hover(text, "TextDecoder(vocab, d_text")).toContain(
      "(text: i32[B, L], memory: f32[B, S, d]) -> f32[B, L + 1, vocab]",
    );
    const chunks = await hover(text, "chunks: int = 4");
    expect(chunks).toContain("config chunks: int = 4");
    expect(chunks).toContain("preset tiny: `2`");
    expect(await hover(text, "combiner(v, a)")).toContain("Combiner");
    expect(
      await hover(text, "TextDecoder(vocab: int, d: int, heads: int, depth: int, max_len: int, start: int)(text", 82),
    ).toContain("text: i32[B, L]");
    // A named argument is the callee's hyperparameter, not the config key of that name.
    const named = await hover(text, "TransformerCombiner(depth: 1, heads: 4", "TransformerCombiner(depth: 1, ".length);
    expect(named).not.toContain("config heads");
    expect(named).toContain("TransformerCombiner(heads: int = 4)");
  });

  test("after `combiner: Combiner =` completion lists the Combiner implementations", async () => {
    const typing = text.replace(
      "combiner: Combiner = TransformerCombiner(depth: 1, heads: 4, m: 4)",
      "combiner: Combiner = ",
    );
    await client.change(uri, typing);
    const items = await client.request<CompletionItem[]>("textDocument/completion", {
      textDocument: { uri },
      position: positionOf(typing, "combiner: Combiner = ", 21),
    });
    const labels = items.map((i) => i.label);
    for (const name of [
      "TTMCombiner",
      "ConcatCombiner",
      "MeanPoolCombiner",
      "PerceiverCombiner",
      "TransformerCombiner",
    ])
      expect(labels).toContain(name);
    expect(labels).not.toContain("LayerNorm");
    const general = await client.request<CompletionItem[]>("textDocument/completion", {
      textDocument: { uri },
      position: positionOf(typing, "  let m = dim"),
    });
    const all = general.map((i) => i.label);
    for (const name of ["let", "module", "f32", "LayerNorm", "reshape", "Combiner", "chunks"])
      expect(all).toContain(name);
    await client.change(uri, text);
  });

  test("definition jumps into models/std, to config keys and to imports", async () => {
    const def = (needle: string, within = 0) =>
      client.request<Location | null>("textDocument/definition", {
        textDocument: { uri },
        position: positionOf(text, needle, within),
      });
    const nn = readFileSync(join(ROOT, "models", "std", "nn.mira"), "utf8");
    const layerNorm = await def("let norm = LayerNorm(d)", "let norm = ".length);
    expect(layerNorm?.uri).toBe(uriOf(join(ROOT, "models", "std", "nn.mira")));
    expect(layerNorm?.range.start).toEqual(positionOf(nn, "module LayerNorm", "module ".length));
    const combiner = await def("combiner: Combiner", "combiner: ".length);
    expect(combiner?.uri).toBe(uriOf(join(ROOT, "models", "std", "combiners.mira")));
    const ar = await def("ar: ChunkAR", "ar: ".length);
    expect(ar?.uri).toBe(uriOf(join(ROOT, "models", "std", "chunks.mira")));
    const key = await def("ar_depth, max_chunks");
    expect(key).toEqual({
      uri,
      range: { start: positionOf(text, "ar_depth: int"), end: positionOf(text, "ar_depth: int", "ar_depth".length) },
    });
    const combiners = readFileSync(join(ROOT, "models", "std", "combiners.mira"), "utf8");
    const named = await def("TransformerCombiner(depth: 1", "TransformerCombiner(".length);
    expect(named?.range.start).toEqual(
      positionOf(combiners, "module TransformerCombiner(depth", "module TransformerCombiner(".length),
    );
    expect((await def("import std.vit", 8))?.uri).toBe(uriOf(join(ROOT, "models", "std", "vit.mira")));
  });

  test("formatting returns the formatter's text; document symbols outline the file", async () => {
    const messy = text.replace("  let m = dim(latents, 2)", "  let   m   =   dim( latents ,2 )");
    await client.change(uri, messy);
    const edits = await client.request<TextEdit[]>("textDocument/formatting", {
      textDocument: { uri },
      options: { tabSize: 2, insertSpaces: true },
    });
    expect(edits).toHaveLength(1);
    expect(edits[0].newText).toContain("  let m = dim(latents, 2)\n");
    await client.change(uri, text);
    expect(
      await client.request<TextEdit[]>("textDocument/formatting", {
        textDocument: { uri },
        options: { tabSize: 2, insertSpaces: true },
      }),
    ).toEqual([]);
    const symbols = await client.request<DocumentSymbol[]>("textDocument/documentSymbol", { textDocument: { uri } });
    expect(symbols.map((s) => s.name)).toEqual(["TextDecoder", "Mirasol"]);
    const model = symbols[1].children!.map((c) => c.name);
    for (const name of ["chunks", "combiner", "preset tiny", "video", "logits", "text_loss"])
      expect(model).toContain(name);
  });
});
