// autotune.test.ts (runtime): measuring writes the adapter's table (atomically, where the cache says),
// and a compile for the device afterwards uses it — visible in Program.matmuls and in kernel names;
// a corrupt, foreign or unreadable table is ignored with one warning line and never stops a compile.
// No figure is asserted: which candidate wins depends on the machine's load.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { configLabel, emptyTable, parseTable, serializeTable, withEntries } from "../../compiler/autotune.js";
import { GraphBuilder } from "../../compiler/builder.js";
import type { Graph } from "../../compiler/ir.js";
import { runReference } from "../../compiler/reference.js";
import { autotune, programSignatures, tableWith } from "../../runtime/autotune.js";
import { adapterKey, cacheRoot, compileFor, tablePath, tuningFor, writeTable } from "../../runtime/autotune-cache.js";
import { Executor } from "../../runtime/executor.js";
import { expectClose } from "../helpers/close.js";
import { testGpu } from "../helpers/gpu.js";
import { gridValues, prng } from "../compiler/gen.js";

/** A linear layer and its weight gradient: relu(x·w + bias) and xᵀ·dy (two signatures, one with an epilogue). */
function tinyProgram(): Graph {
  const b = new GraphBuilder();
  const x = b.input("x", "f32", [24, 40]);
  const w = b.input("w", "f32", [40, 12]);
  const bias = b.input("bias", "f32", [24, 12]);
  const dy = b.input("dy", "f32", [24, 12]);
  b.output("y", b.add("relu", [b.add("add", [b.add("matmul", [x, w]), bias])]));
  b.output("dw", b.add("matmul", [x, dy], { transA: true }));
  return b.build();
}

let saved: string | undefined;
beforeEach(() => {
  saved = process.env.MIRA_CACHE_DIR;
  process.env.MIRA_CACHE_DIR = mkdtempSync(join(tmpdir(), "mira-autotune-"));
});
afterEach(() => {
  if (saved === undefined) delete process.env.MIRA_CACHE_DIR;
  else process.env.MIRA_CACHE_DIR = saved;
  vi.restoreAllMocks();
});

async function runChecked(g: Graph, program: ReturnType<typeof compileFor>): Promise<void> {
  const gpu = await testGpu();
  const r = prng(7);
  const feeds: Record<string, number[]> = {};
  for (const n of g.nodes)
    if (n.op === "input")
      feeds[n.attrs.name!] = gridValues(
        r,
        "f32",
        n.shape.reduce((a, d) => a * d, 1),
        4,
        1,
      );
  const ex = await Executor.create(gpu, program);
  try {
    for (const [k, v] of Object.entries(feeds)) ex.write(k, v);
    const got = await ex.run();
    const ref = runReference(g, feeds);
    for (const o of g.outputs) expectClose(got[o.name], ref[o.name].data, { atol: 1e-6, rtol: 1e-6 }, o.name);
  } finally {
    ex.destroy();
  }
}

describe("autotuning on the device", () => {
  test("autotune writes the table under the cache, and a compile afterwards uses its choices", async () => {
    const gpu = await testGpu();
    const g = tinyProgram();
    const before = compileFor(gpu, g);
    expect(before.matmuls.map((m) => m.tuned)).toEqual([false, false]);
    const keys = programSignatures(before);
    expect(keys).toEqual(["f32:nn:1x24x12x40:epilogue", "f32:tn:1x40x12x24"]);
    const lines: string[] = [];
    // Two candidates beside the default keep the test short; the search itself is the same.
    const results = await autotune(gpu, keys, {
      candidates: () => [
        { variant: "registers", wx: 2, wy: 4, splitK: 1 },
        { variant: "registers", wx: 4, wy: 4, splitK: 2 },
      ],
      onProgress: (l) => lines.push(l),
    });
    expect(lines).toHaveLength(2);
    // the default first: 8×8 threads clipped to the matrix's 2-thread width and grown along M to 16 threads
    // (24 rows take 8 threads of 4 rows) or 32 (40 rows: 16 threads)
    const defaults = ["registers 2×8", "registers 2×16"];
    for (const [i, r] of results.entries())
      expect(r.candidates.map((c) => configLabel(c.config))).toEqual([
        defaults[i],
        "registers 2×4",
        "registers 4×4 split-K 2",
      ]);
    const path = tablePath(gpu);
    expect(path).toBe(join(cacheRoot(), "autotune", `${adapterKey(gpu)}.json`));
    writeTable(path, tableWith(gpu, results));
    expect(readdirSync(join(cacheRoot(), "autotune"))).toEqual([`${adapterKey(gpu)}.json`]); // no temporary file left
    const table = parseTable(readFileSync(path, "utf8"));
    expect(Object.keys(table.entries).sort()).toEqual([...keys].sort());

    const after = compileFor(gpu, g);
    expect(after.matmuls.map((m) => m.tuned)).toEqual([true, true]);
    for (const m of after.matmuls) expect(configLabel(m.config)).toBe(configLabel(table.entries[m.signature].config));
    await runChecked(g, after);
  });

  test("a tuned workgroup shape shows in the kernel name, and split-K in the program's kernels", async () => {
    const gpu = await testGpu();
    const g = tinyProgram();
    const keys = programSignatures(compileFor(gpu, g));
    writeTable(
      tablePath(gpu),
      withEntries(emptyTable(adapterKey(gpu)), {
        [keys[0]]: { config: { variant: "registers", wx: 4, wy: 16 }, defaultMs: 1, bestMs: 0.5 },
        [keys[1]]: { config: { variant: "registers", wx: 2, wy: 8, splitK: 3 }, defaultMs: 1, bestMs: 0.5 },
      }),
    );
    const p = compileFor(gpu, g);
    const names = p.dispatches.map((d) => p.kernels[d.kernel].name);
    expect(names.some((n) => /^matmul_.*_w4x16$/.test(n))).toBe(true);
    expect(names.some((n) => /^matmul_ta_3x40x12x8_w2x8$/.test(n))).toBe(true); // three K slices of 8, batched
    await runChecked(g, p);
    // Explicit options win: a forced variant ignores the table.
    expect(compileFor(gpu, g, { matmul: "registers" }).matmuls.map((m) => m.tuned)).toEqual([false, false]);
  });

  test("a corrupt, foreign or unreadable table is ignored with a one-line warning, never a crash", async () => {
    const gpu = await testGpu();
    const g = tinyProgram();
    const path = tablePath(gpu);
    mkdirSync(join(cacheRoot(), "autotune"), { recursive: true });
    const cases: [string, () => void, RegExp][] = [
      ["not JSON", () => writeFileSync(path, "{ half a table"), /not JSON/],
      [
        "another adapter's",
        () => writeFileSync(path, serializeTable(emptyTable("some-other-gpu"))),
        /belongs to adapter 'some-other-gpu'/,
      ],
      [
        "another version",
        () => writeFileSync(path, JSON.stringify({ version: 9, adapter: adapterKey(gpu), entries: {} })),
        /version 9/,
      ],
    ];
    for (const [what, make, why] of cases) {
      make();
      const warnings: string[] = [];
      expect(
        tuningFor(gpu, (l) => warnings.push(l)),
        what,
      ).toBeUndefined();
      expect(warnings, what).toHaveLength(1);
      expect(warnings[0], what).toMatch(why);
      expect(warnings[0], what).not.toContain("\n");
      // The automatic path: the same file again is not re-read, so no second warning; the compile works.
      const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
      const p = compileFor(gpu, g);
      expect(
        p.matmuls.map((m) => m.tuned),
        what,
      ).toEqual([false, false]);
      expect(stderr, what).not.toHaveBeenCalled();
      stderr.mockRestore();
    }
    // Through compileFor alone: one line on stderr for a broken file, however often it compiles.
    writeFileSync(path, "[1, 2");
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    compileFor(gpu, g);
    compileFor(gpu, g);
    expect(stderr).toHaveBeenCalledTimes(1);
    expect(String(stderr.mock.calls[0][0])).toMatch(/^mira: ignoring the matmul tuning table [^\n]*\n$/);
    stderr.mockRestore();
    // A path that cannot be read as a file at all.
    rmSync(path);
    mkdirSync(path);
    const warnings: string[] = [];
    expect(tuningFor(gpu, (l) => warnings.push(l))).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ignoring the matmul tuning table .*EISDIR/);
    await runChecked(g, compileFor(gpu, g));
  });
});
