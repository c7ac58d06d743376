// bench.ts (cli): `mira bench --autotune FILE …` tunes a model's matmuls for this adapter and prints what
// changed; `mira bench` alone runs the project's benchmark suite (bench/run.ts) in a child process.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type AutotuneReport, autotuneModel } from "../../api/autotune.js";
import { type ProfileReport, profileModel } from "../../api/profile.js";
import { type Parsed, flag, int, str, strs } from "../args.js";
import { EXIT, UsageError } from "../errors.js";
import { parseBatch } from "./compile.js";

export const BENCH_USAGE =
  "mira bench [--autotune FILE | --profile FILE [--top N] [--no-fuse]] [--preset NAME] [--set " +
  "key=value]… [--batch B=8,T=64] [--step train|forward] [--runs N] [--json]";

// The suite bundled beside the CLI in the portable bundle (scripts/bundle.mjs), or in a source checkout.
// It runs from the root that holds its models/ and docs/.
const SUITES = [
  { script: join(import.meta.dirname, "bench.mjs"), root: join(import.meta.dirname, "..") },
  { script: join(import.meta.dirname, "..", "..", "bench", "run.ts"), root: join(import.meta.dirname, "..", "..") },
];

export async function benchCommand(p: Parsed): Promise<number> {
  const tuneFile = str(p, "autotune");
  const profileFile = str(p, "profile");
  if (tuneFile !== undefined && profileFile !== undefined)
    throw new UsageError(`--autotune and --profile are separate runs: give one; usage: ${BENCH_USAGE}`);
  const file = tuneFile ?? profileFile;
  if (file === undefined) {
    if (p.positionals.length)
      throw new UsageError(`a model file goes after --autotune or --profile; usage: ${BENCH_USAGE}`);
    return runSuite();
  }
  if (p.positionals.length) throw new UsageError(`unexpected '${p.positionals[0]}'; usage: ${BENCH_USAGE}`);
  const step = str(p, "step") ?? "train";
  if (step !== "train" && step !== "forward") throw new UsageError(`--step takes train or forward, got '${step}'`);
  const runs = int(p, "runs", 5);
  if (runs < 5) throw new UsageError(`--runs takes at least 5 (the median of fewer says little), got ${runs}`);
  const json = flag(p, "json");
  const model = {
    preset: str(p, "preset"),
    set: strs(p, "set"),
    batch: parseBatch(strs(p, "batch")),
    step,
    runs,
  } as const;
  if (profileFile !== undefined) {
    const top = int(p, "top", 15);
    if (top < 1) throw new UsageError(`--top takes a positive count of kernels, got ${top}`);
    const report = await profileModel(profileFile, { ...model, fuse: !flag(p, "no-fuse") });
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatProfile(profileFile, step, report, top));
    return EXIT.ok;
  }
  const report = await autotuneModel(file, { ...model, onProgress: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return EXIT.ok;
}

function formatProfile(file: string, step: string, r: ProfileReport, top: number): string {
  const pct = (ms: number): string => `${((100 * ms) / r.deviceMs).toFixed(1)} %`;
  const kernels = new TextTable(["kernel", "dispatches", "ms", "share"], [0]);
  for (const k of r.kernels.slice(0, top)) kernels.add([k.name, String(k.dispatches), k.ms.toFixed(3), pct(k.ms)]);
  const families = new TextTable(["kind", "kernels", "dispatches", "ms", "share"], [0]);
  for (const f of r.families)
    families.add([f.family, String(f.kernels), String(f.dispatches), f.ms.toFixed(3), pct(f.ms)]);
  return [
    `profile of ${file} (${step === "train" ? "training step" : "forward pass"}) on ${r.adapter}: ` +
      `${r.dispatches} dispatches`,
    `  one submit: ${r.submitMs.toFixed(2)} ms (median wall time); dispatches timed one pass each: ` +
      `${r.deviceMs.toFixed(2)} ms of device time`,
    `by kind of kernel:`,
    ...families.lines(),
    `the ${Math.min(top, r.kernels.length)} most expensive of ${r.kernels.length} kernels:`,
    ...kernels.lines(),
    `  load average ${r.loadAverage.map((x) => x.toFixed(1)).join(" / ")} on ${r.cores} cores: the ` +
      "figures are indicative",
    "",
  ].join("\n");
}

/** Columns padded to their widest cell; the columns in `left` are left-aligned, the rest right. */
class TextTable {
  private readonly rows: string[][] = [];
  constructor(
    private readonly head: readonly string[],
    private readonly left: readonly number[],
  ) {}
  add(cells: string[]): void {
    this.rows.push(cells);
  }
  lines(): string[] {
    const all = [[...this.head], ...this.rows];
    const width = this.head.map((_, i) => Math.max(...all.map((row) => row[i].length)));
    return all.map(
      (cells) =>
        `  ${cells.map((c, i) => (this.left.includes(i) ? c.padEnd(width[i]) : c.padStart(width[i]))).join("  ")}`,
    );
  }
}

function formatReport(r: AutotuneReport): string {
  const table = new TextTable(["signature", "uses", "default ms", "best ms", "chosen", "speedup"], [0, 4]);
  for (const x of r.rows)
    table.add([
      x.description,
      String(x.uses),
      x.defaultMs.toFixed(3),
      x.bestMs.toFixed(3),
      x.bestConfig,
      `${x.speedup.toFixed(2)}×`,
    ]);
  const total = (pick: (x: AutotuneReport["rows"][number]) => number): number =>
    r.rows.reduce((s, x) => s + pick(x) * x.uses, 0);
  const before = total((x) => x.defaultMs);
  const after = total((x) => x.bestMs);
  return [
    `matmul autotuning on ${r.adapter}`,
    ...table.lines(),
    `  all matmuls of one run, each timed alone: ${before.toFixed(2)} ms by default → ${after.toFixed(2)}` +
      ` ms tuned (${(before / after).toFixed(2)}×)`,
    `  load average ${r.loadAverage.map((x) => x.toFixed(1)).join(" / ")} on ${r.cores} cores: the ` +
      "figures are indicative",
    ...r.rows.filter((x) => x.rejected.length).map((x) => `  rejected for ${x.description}: ${x.rejected.join("; ")}`),
    `written to ${r.table}; programs compiled for this adapter now use it (delete the file to go back to the defaults)`,
    "",
  ].join("\n");
}

/** The benchmark suite writes docs/PERFORMANCE.md; it lives in the source checkout, not in a package. */
function runSuite(): Promise<number> {
  const suite = SUITES.find((s) => existsSync(s.script));
  if (!suite) {
    process.stdout.write(
      "the benchmark suite is part of mira's source checkout: run 'npm run bench' there (it writes " +
        "docs/PERFORMANCE.md)\n",
    );
    return Promise.resolve(EXIT.ok);
  }
  process.stderr.write(`running ${suite.script} (several minutes; it rewrites docs/PERFORMANCE.md)\n`);
  // Same Node and loader flags as this process (bin/mira.js runs it under tsx); stderr passes through
  // the launcher's driver-noise filter.
  const child = spawn(process.execPath, [...process.execArgv, suite.script], { cwd: suite.root, stdio: "inherit" });
  return new Promise((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? (signal === "SIGINT" ? EXIT.interrupted : EXIT.failed))),
  );
}
