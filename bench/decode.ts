// decode.ts (bench): generation with the derived decoder (prefill + cached steps) against full
// recomputation (one padded full-length forward program, compiled once, run per token), on char_lm with
// room for 1280 positions and untrained weights: tokens/s for 64, 256 and 1024 generated tokens, time
// to the first token, compile time, dispatches per token and cache bytes. Greedy decoding; sampling and
// the logits read-back (one row of 96 floats per token) are included, as generation pays them.
// `npx tsx bench/decode.ts` runs it alone and writes its section of docs/PERFORMANCE.md.
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { elaborateAt, openDecoder } from "../api/decoder.js";
import { type LoadedModel, loadModel } from "../api/model.js";
import { initParams } from "../compiler/lower.js";
import { formatBytes } from "../compiler/limits.js";
import { IncrementalDecoder, type TokenDecoder, type WeightLoader } from "../runtime/decode.js";
import type { Gpu } from "../runtime/device.js";
import type { RecomputeDecoder } from "../runtime/recompute.js";
import { Table } from "./harness.js";

export interface DecodeBenchOptions {
  readonly model: LoadedModel;
  readonly label: string;
  /** positions the caches hold, and the recomputed program's length */
  readonly maxLen: number;
  readonly prompt: number;
  /** generated tokens per measurement */
  readonly lengths: readonly number[];
}

const argmax = (xs: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
};

/** Greedy: the prompt, then n − 1 steps (n tokens in all); ms to the first token and in all. */
async function generate(
  dec: TokenDecoder,
  prompt: readonly number[],
  n: number,
): Promise<{ firstMs: number; totalMs: number }> {
  const t0 = performance.now();
  let logits = await dec.prefill(prompt);
  const firstMs = performance.now() - t0;
  for (let i = 1; i < n; i++) logits = await dec.step([argmax(logits)]);
  return { firstMs, totalMs: performance.now() - t0 };
}

export async function benchDecode(gpu: Gpu, o: DecodeBenchOptions): Promise<Table> {
  const table = new Table(`generation: ${o.label}, prompt ${o.prompt} tokens, greedy`, [
    "decoder",
    "generated tokens",
    "tokens/s",
    "ms/token after the first",
    "first token ms",
    "compile + warm-up ms",
    "dispatches/token",
    "cache",
  ]);
  const values = initParams(elaborateAt(o.model)(2).params, 1);
  const load: WeightLoader = (ex, names) => names.forEach((n) => ex.write(n, values.get(n)!));
  const prompt = Array.from({ length: o.prompt }, (_, i) => 1 + ((i * 31) % 90));
  for (const cache of [true, false]) {
    const t0 = performance.now();
    const dec = await openDecoder(gpu, o.model, { maxLen: o.maxLen, load, cache });
    // Compile and warm up: the prefill program is compiled on first use, and a pipeline's first
    // dispatches cost more than later ones on llvmpipe (seconds on a loaded machine).
    await generate(dec, prompt, 3);
    const compileMs = performance.now() - t0;
    const dispatches = String(
      (dec instanceof IncrementalDecoder ? dec.stepProgram : (dec as RecomputeDecoder).program).dispatches.length,
    );
    const bytes = dec instanceof IncrementalDecoder ? formatBytes(dec.cacheBytes) : "-";
    for (const n of o.lengths) {
      const r = await generate(dec, prompt, n);
      table.add([
        cache ? "cached (prefill + steps)" : "recompute (padded full length)",
        String(n),
        (n / r.totalMs) * 1000,
        n > 1 ? (r.totalMs - r.firstMs) / (n - 1) : "-",
        r.firstMs,
        compileMs,
        dispatches,
        bytes,
      ]);
    }
    dec.destroy();
  }
  return table;
}

/** The case `npm run bench` runs: char_lm (default preset) with 1280 learned positions. */
export function charLmDecodeCase(lengths: readonly number[] = [64, 256, 1024]): DecodeBenchOptions {
  return {
    model: loadModel("models/char_lm.mira", { set: ["max_len=1280"] }),
    label: "char_lm (d 64, 4 heads, 2 layers, vocab 96), caches of 1280 positions",
    maxLen: 1280,
    prompt: 16,
    lengths,
  };
}

export const loadText = (): string =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ");

if (import.meta.url === `file://${process.argv[1]}`) {
  const { adapterName, getGpu } = await import("../runtime/device.js");
  const { writeSection } = await import("./report.js");
  const gpu = await getGpu();
  const before = loadText();
  const lengths = process.argv
    .slice(2)
    .map(Number)
    .filter((x) => x > 0);
  const table = await benchDecode(gpu, charLmDecodeCase(lengths.length ? lengths : undefined));
  const after = loadText();
  process.stdout.write(`load average (1/5/15 min): ${before} before, ${after} after\n`);
  if (!lengths.length) writeSection("decode", decodeSection(adapterName(gpu.adapter), table, before, after));
  process.exit(0);
}

export function decodeSection(adapter: string, table: Table, before: string, after: string): string {
  const date = new Date().toISOString().slice(0, 10);
  return `## Generation: derived KV-cache decoder vs recomputation (${date}, adapter: ${adapter})

\`bench/decode.ts\`. Load average (1/5/15 min): ${before} when the run started, ${after} when it ended —
other work on the machine slows every figure here. Each row is one greedy generation of that many tokens
(prompt prefill included in tokens/s and in the first token); compile + warm-up covers every program
the decoder needs (the step and this prompt length's prefill, or the one padded program) and a first
generation of 3 tokens. The recomputing decoder runs the whole forward over all 1280 positions for
every token, so its cost per token does not depend on the position; the cached step runs one row and
attends over the cache (padded to 1280 rows, masked past the position), so on llvmpipe its cost is
mostly per-dispatch overhead.

${table.markdown()}`;
}
