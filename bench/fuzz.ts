// bench/fuzz.ts: ≥ 100 000 bad inputs through the front end (parse, imports, check, format).
// Prints cases/s and wall time per generator, the slowest case, and every problem: a thrown
// exception, a case with no diagnostic, a malformed diagnostic, or a code outside the table
// (there is no catch-all "internal error" code, so any of these is a bug). Exit 1 on problems.
//   npx tsx bench/fuzz.ts [cases=100000] [seed=1]
import { GENERATORS, isBlank, problemsOf, runFrontEnd, seeded } from "../test/dsl/fuzz-gen.js";

const total = Number(process.argv[2] ?? 100_000);
const seed0 = Number(process.argv[3] ?? 1);
// Mix: cheap random inputs most, real-model mutants next, long chains rarely (60 KB each).
const MIX: [keyof typeof GENERATORS, number][] = [
  ["randomBytes", 30],
  ["randomAscii", 30],
  ["tokenMutant", 25],
  ["deepNesting", 6],
  ["hugeNumbers", 8],
  ["longChain", 1],
];
const weight = MIX.reduce((s, [, w]) => s + w, 0);

const stats = new Map<string, { n: number; ms: number; worst: number; worstSeed: number }>();
const problems: string[] = [];
const t0 = performance.now();
for (let i = 0; i < total; i++) {
  const seed = seed0 * 1_000_003 + i;
  const r = seeded(seed);
  let u = r() * weight;
  const gen = MIX.find(([, w]) => (u -= w) < 0)?.[0] ?? "randomBytes";
  const m = GENERATORS[gen](r);
  const start = performance.now();
  try {
    const o = runFrontEnd(m.text);
    for (const p of problemsOf(o)) problems.push(`${gen} seed ${seed}: ${p}`);
    if (!isBlank(m.text) && !o.diagnostics.some((d) => d.severity === "error"))
      problems.push(`${gen} seed ${seed}: no error for ${JSON.stringify(m.text.slice(0, 80))}`);
  } catch (e) {
    problems.push(`${gen} seed ${seed}: threw ${(e as Error).stack ?? String(e)}`);
  }
  const ms = performance.now() - start;
  const s = stats.get(gen) ?? { n: 0, ms: 0, worst: 0, worstSeed: 0 };
  s.n++;
  s.ms += ms;
  if (ms > s.worst) Object.assign(s, { worst: ms, worstSeed: seed });
  stats.set(gen, s);
  if ((i + 1) % 10_000 === 0)
    process.stderr.write(`  ${i + 1} cases, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
const wall = (performance.now() - t0) / 1000;

console.log(
  `front-end fuzz: ${total} cases in ${wall.toFixed(1)} s (${(total / wall).toFixed(0)} cases/s), seed ${seed0}`,
);
for (const [gen, s] of stats) {
  console.log(
    `  ${gen.padEnd(12)} ${String(s.n).padStart(7)} cases  ${(s.ms / 1000).toFixed(1).padStart(6)} s  ` +
      `${(s.n / (s.ms / 1000)).toFixed(0).padStart(6)} cases/s  worst ${s.worst.toFixed(0)} ms (seed ` +
      `${s.worstSeed})`,
  );
}
console.log(
  problems.length
    ? `${problems.length} problems:\n${problems.slice(0, 50).join("\n")}`
    : "problems: none (no exception, no missing or malformed diagnostic, no catch-all code)",
);
process.exitCode = problems.length ? 1 : 0;
