// option.ts (bench/ab): `npx tsx bench/ab/option.ts OPTION [ROUNDS]` — one compile option (chains,
// sharedOperands, rows, parallel) on and off for bench/ab/step.ts's training steps, both programs in one
// process and timed alternately, round by round, so that load and the process's own state fall on both
// alike (separate processes, as bench/ab/run.ts must use for two checkouts, differ by tens of percent on
// this machine for the same program). Each program's loss after one step with lr 0 must agree: the option
// changes how the step is computed, not what. Writes the medians, with the load average, to
// docs/PERFORMANCE.md.
import { loadavg } from "node:os";
import type { CompileOptions } from "../../compiler/program.js";
import { compileGraph } from "../../compiler/program.js";
import { getGpu } from "../../runtime/device.js";
import { Executor } from "../../runtime/executor.js";
import { writeSection } from "../report.js";
import { type Side, alternate, median } from "./alternate.js";
import { CASES, feed, trainStepOf } from "./cases.js";

const OPTIONS = ["chains", "sharedOperands", "rows", "parallel"] as const;
type Option = (typeof OPTIONS)[number];
const [name, roundsArg = "8"] = process.argv.slice(2);
if (!OPTIONS.includes(name as Option)) {
  console.error(`usage: npx tsx bench/ab/option.ts ${OPTIONS.join("|")} [ROUNDS]`);
  process.exit(2);
}
const option = name as Option;
const rounds = Number(roundsArg);
const STEPS = 6; // per round and program; the first of each round is not timed

const gpu = await getGpu();
const lines = [
  `## One compile option on and off: \`${option}\` (${new Date().toISOString().slice(0, 10)}, adapter llvmpipe, ` +
    `\`npx tsx bench/ab/option.ts ${option} ${rounds}\`)`,
  "",
  `Both programs in one process, timed alternately in ${rounds} rounds of ${STEPS - 1} timed steps each (lr 0, so ` +
    "every step computes the same values); the median over all of them.",
  "",
  `| step | dispatches off → on | ms off | ms on | off / on | load (1 min) |`,
  "|---|---|---|---|---|---|",
];
for (const c of CASES) {
  const { el, st } = trainStepOf(c);
  const sides: Side[] = [];
  for (const on of [false, true]) {
    const opts: CompileOptions = { updates: st.updates, [option]: on };
    const program = compileGraph(st.graph, gpu.limits, opts);
    const ex = await Executor.create(gpu, program);
    feed(ex, el);
    sides.push({ ex, dispatches: program.dispatches.length, times: [], loss: Number.NaN });
  }
  await alternate(sides, rounds, STEPS);
  const [off, on] = sides;
  for (const s of sides) s.ex.destroy();
  if (Math.abs(off.loss - on.loss) > 1e-4 * (1 + Math.abs(off.loss)))
    throw new Error(`${c.label}: loss ${off.loss} with ${option} off, ${on.loss} on`);
  const [mOff, mOn] = [median(off.times), median(on.times)];
  const row =
    `| ${c.label} | ${off.dispatches} → ${on.dispatches} | ${mOff.toFixed(1)} | ${mOn.toFixed(1)} | ` +
    `×${(mOff / mOn).toFixed(2)} | ${loadavg()[0].toFixed(1)} |`;
  console.log(row);
  lines.push(row);
}
writeSection(`ab-option-${option}`, lines.join("\n"));
process.exit(0);
