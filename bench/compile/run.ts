// run.ts (bench/compile): `npx tsx bench/compile/run.ts [ROUNDS]` — what a cold shader cache costs, and what
// the compiler's options for it buy: a TTM training step (Mirasol tiny, 2 chunks, B 1) with opaque loop
// bounds (wgsl/opaque-loops.ts) or without, with parallel kernels (compiler/parallel.ts) or without, and
// with sequence kernels (compiler/sequence.ts) or without.
// Each measurement is a fresh process with an empty MESA_SHADER_CACHE_DIR; variants alternate within a
// round so that load from other work falls on all alike. Writes the "compile-cold" section of
// docs/PERFORMANCE.md.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { CompileOptions } from "../../compiler/program.js";
import { writeSection } from "../report.js";

const TTM = "combiner=TTM(memory: 8, read: 4, depth: 1, heads: 2)";
const SET = ["chunks=2", "max_chunks=2", TTM].join(";");
const VARIANTS: { label: string; opts: CompileOptions }[] = [
  { label: "loops as written (before)", opts: { opaqueLoops: false } },
  { label: "opaque loop bounds (the default on CPU adapters)", opts: {} },
  { label: "opaque loop bounds + parallel kernels (the default on GPU adapters)", opts: { parallel: true } },
  { label: "opaque loop bounds + parallel and sequence kernels", opts: { parallel: true, sequence: true } },
];
interface Row {
  dispatches: number;
  kernels: number;
  firstMs: number;
  medianMs: number;
}
const rounds = Number(process.argv[2] ?? 1);
const root = join(import.meta.dirname, "..", "..");
const results = VARIANTS.map(() => [] as Row[]);
const loads: number[] = [];
for (let r = 0; r < rounds; r++) {
  for (const [i, v] of VARIANTS.entries()) {
    const cache = mkdtempSync(join(tmpdir(), "mira-cold-"));
    const p = spawnSync(
      join(root, "node_modules", ".bin", "tsx"),
      ["bench/compile/step.ts", SET, JSON.stringify(v.opts)],
      {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, MESA_SHADER_CACHE_DIR: cache },
      },
    );
    rmSync(cache, { recursive: true, force: true });
    if (p.status !== 0) throw new Error(`${v.label}: ${p.stderr}`);
    const row = JSON.parse(p.stdout.split("\n").find((l) => l.startsWith("{"))!) as Row;
    loads.push(loadavg()[0]);
    console.log(`round ${r + 1}  ${v.label}: ${JSON.stringify(row)}`);
    results[i].push(row);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(results[0].map((x) => x.firstMs));
const lines = [
  "### compile-cold: a cold shader cache, and what opaque loops, parallel and sequence kernels do to it",
  "",
  `Mirasol tiny, TTM Combiner, 2 chunks, B 1, one training step; each figure a fresh process with an empty`,
  `MESA_SHADER_CACHE_DIR, variants alternating, ${rounds} round(s), median; load average ` +
    `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}; ${new Date().toISOString().slice(0, 10)}.`,
  "First run = compiling every kernel (llvmpipe compiles on first dispatch) + one step.",
  "",
  "| variant | dispatches | kernels | first run ms | ÷ before | median step ms (warm) |",
  "|---|---|---|---|---|---|",
  ...VARIANTS.map((v, i) => {
    const first = median(results[i].map((x) => x.firstMs));
    return (
      `| ${v.label} | ${results[i][0].dispatches} | ${results[i][0].kernels} | ${first} | ` +
      `${(first / base).toFixed(2)}× | ${median(results[i].map((x) => x.medianMs))} |`
    );
  }),
];
writeSection("compile-cold", lines.join("\n"));
console.log(lines.join("\n"));
