// run.ts (bench/ab): `npx tsx bench/ab/run.ts REV [ROUNDS]` — times bench/ab/step.ts in this checkout and
// in a worktree of REV, alternating (old, new, old, new, …) so that load from other work falls on both
// alike; prints each round and writes the medians, with the load average, to docs/PERFORMANCE.md.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, symlinkSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { writeSection } from "../report.js";

interface Row {
  readonly label: string;
  readonly dispatches: number;
  readonly medianMs: number;
}

const root = join(import.meta.dirname, "..", "..");
const [rev, rounds = "2"] = process.argv.slice(2);
if (!rev) {
  console.error("usage: npx tsx bench/ab/run.ts REV [ROUNDS]");
  process.exit(2);
}
const commit = (r: string, dir = root): string =>
  execFileSync("git", ["rev-parse", "--short", r], { cwd: dir, encoding: "utf8" }).trim();
const old = mkdtempSync(join(tmpdir(), "mira-ab-"));
execFileSync("git", ["worktree", "add", "--detach", old, rev], { cwd: root, stdio: "ignore" });
symlinkSync(join(root, "node_modules"), join(old, "node_modules"));
for (const f of ["step.ts", "cases.ts"]) cpSync(join(root, "bench", "ab", f), join(old, "bench", "ab", f));
const tsx = join(root, "node_modules", ".bin", "tsx");
const results: Record<"old" | "new", Row[]> = { old: [], new: [] };
const loads: number[] = [];
try {
  for (let r = 0; r < Number(rounds); r++) {
    for (const [side, dir] of [
      ["old", old],
      ["new", root],
    ] as const) {
      const p = spawnSync(tsx, ["bench/ab/step.ts"], { cwd: dir, encoding: "utf8" });
      if (p.status !== 0) throw new Error(`${side}: ${p.stderr}`);
      loads.push(loadavg()[0]);
      for (const line of p.stdout.split("\n").filter((l) => l.startsWith("{"))) {
        const x = JSON.parse(line) as Row;
        results[side].push(x);
        const n = String(x.dispatches).padStart(6);
        console.log(`round ${r + 1} ${side.padEnd(3)} ${x.label.padEnd(38)} ${n} dispatches ${x.medianMs} ms`);
      }
    }
  }
} finally {
  execFileSync("git", ["worktree", "remove", "--force", old], { cwd: root, stdio: "ignore" });
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lines = [
  `## Training steps, old against new (${new Date().toISOString().slice(0, 10)}, adapter llvmpipe, \`npx ` +
    `tsx bench/ab/run.ts ${rev} ${rounds}\`)`,
  "",
  `${commit(rev)} (old) against ${commit("HEAD")} (new), run alternately in ${rounds} rounds; median of 14 steps each,`,
  `then the median over rounds. Load average (1 min) after each run: ${loads.map((x) => x.toFixed(1)).join(", ")}.`,
  "",
  "| step | dispatches old → new | ms old | ms new | old / new |",
  "|---|---|---|---|---|",
];
for (const label of [...new Set(results.new.map((x) => x.label))]) {
  const o = results.old.filter((x) => x.label === label);
  const n = results.new.filter((x) => x.label === label);
  const mo = median(o.map((x) => x.medianMs));
  const mn = median(n.map((x) => x.medianMs));
  lines.push(`| ${label} | ${o[0]?.dispatches} → ${n[0].dispatches} | ${mo} | ${mn} | ×${(mo / mn).toFixed(2)} |`);
}
console.log(`\n${lines.join("\n")}`);
writeSection("ab-step", lines.join("\n"));
