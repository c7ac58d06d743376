// bench.ts (cli): `mira bench --autotune FILE …` tunes a model's matmuls for this adapter and prints what
// changed; `mira bench` alone runs the project's benchmark suite (bench/run.ts) in a child process.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type AutotuneReport, autotuneModel } from "../../api/autotune.js";
import { type Parsed, flag, int, str, strs } from "../args.js";
import { EXIT, UsageError } from "../errors.js";
import { parseBatch } from "./compile.js";

export const BENCH_USAGE = "mira bench [--autotune FILE [--preset NAME] [--set key=value]… [--batch B=8,T=64] [--step train|forward] [--runs N] [--json]]";

const SUITE = join(import.meta.dirname, "..", "..", "bench", "run.ts");

export async function benchCommand(p: Parsed): Promise<number> {
  const file = str(p, "autotune");
  if (file === undefined) {
    if (p.positionals.length) throw new UsageError(`a model file goes after --autotune; usage: ${BENCH_USAGE}`);
    return runSuite();
  }
  if (p.positionals.length) throw new UsageError(`unexpected '${p.positionals[0]}'; usage: ${BENCH_USAGE}`);
  const step = str(p, "step") ?? "train";
  if (step !== "train" && step !== "forward") throw new UsageError(`--step takes train or forward, got '${step}'`);
  const runs = int(p, "runs", 5);
  if (runs < 5) throw new UsageError(`--runs takes at least 5 (the median of fewer says little), got ${runs}`);
  const json = flag(p, "json");
  const report = await autotuneModel(file, {
    preset: str(p, "preset"), set: strs(p, "set"), batch: parseBatch(strs(p, "batch")), step, runs,
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return EXIT.ok;
}

function formatReport(r: AutotuneReport): string {
  const head = ["signature", "uses", "default ms", "best ms", "chosen", "speedup"];
  const rows = r.rows.map((x) => [x.description, String(x.uses), x.defaultMs.toFixed(3), x.bestMs.toFixed(3), x.bestConfig, `${x.speedup.toFixed(2)}×`]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => (i === 0 || i === 4 ? c.padEnd(width[i]) : c.padStart(width[i]))).join("  ")}`;
  const total = (pick: (x: AutotuneReport["rows"][number]) => number): number => r.rows.reduce((s, x) => s + pick(x) * x.uses, 0);
  const before = total((x) => x.defaultMs);
  const after = total((x) => x.bestMs);
  return [
    `matmul autotuning on ${r.adapter}`,
    line(head),
    ...rows.map(line),
    `  all matmuls of one run, each timed alone: ${before.toFixed(2)} ms by default → ${after.toFixed(2)} ms tuned (${(before / after).toFixed(2)}×)`,
    `  load average ${r.loadAverage.map((x) => x.toFixed(1)).join(" / ")} on ${r.cores} cores: the figures are indicative`,
    ...r.rows.filter((x) => x.rejected.length).map((x) => `  rejected for ${x.description}: ${x.rejected.join("; ")}`),
    `written to ${r.table}; programs compiled for this adapter now use it (delete the file to go back to the defaults)`,
    "",
  ].join("\n");
}

/** The benchmark suite writes docs/PERFORMANCE.md; it lives in the source checkout, not in a package. */
function runSuite(): Promise<number> {
  if (!existsSync(SUITE)) {
    process.stdout.write("the benchmark suite is part of mira's source checkout: run 'npm run bench' there (it writes docs/PERFORMANCE.md)\n");
    return Promise.resolve(EXIT.ok);
  }
  process.stderr.write(`running ${SUITE} (several minutes; it rewrites docs/PERFORMANCE.md)\n`);
  // Same Node and loader flags as this process (bin/mira.js runs it under tsx); stderr passes through
  // the launcher's driver-noise filter.
  const child = spawn(process.execPath, [...process.execArgv, SUITE], { stdio: "inherit" });
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal === "SIGINT" ? EXIT.interrupted : EXIT.failed))));
}
