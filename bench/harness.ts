// harness.ts (bench): the timing protocol shared by every benchmark — warm-up, then the median of
// several runs, each ended by waiting for the device — and a result table that prints and is written
// into docs/PERFORMANCE.md. Benchmarks print figures; they never fail on time.
// The protocol lives in runtime/timing.ts, shared with the autotuner.
export { type Timing, time } from "../runtime/timing.js";

/** Deterministic inputs in [−scale/2, scale/2) from a 32-bit LCG (benchmarks need values, not quality). */
export function pseudoValues(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s >>> 8) / 2 ** 24 - 0.5) * scale;
  }
  return out;
}

export class Table {
  private readonly rows: string[][] = [];
  constructor(
    readonly title: string,
    readonly columns: readonly string[],
  ) {}

  add(row: readonly (string | number)[]): void {
    const cells = row.map((c) => (typeof c === "number" ? fmtNum(c) : c));
    this.rows.push(cells);
    process.stdout.write(`  ${cells.join("  ")}\n`);
  }

  markdown(): string {
    const head = `| ${this.columns.join(" | ")} |\n|${this.columns.map(() => "---").join("|")}|\n`;
    return `### ${this.title}\n\n${head}${this.rows.map((r) => `| ${r.join(" | ")} |`).join("\n")}\n`;
  }
}

export function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toPrecision(3);
}
