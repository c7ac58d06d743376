// bench.ts (bench/peers): the peer benchmark proper, run in a child process by bench/peers.ts. One Dawn
// instance: mira uses runtime/device.ts's device, jax-js and tfjs each request their own device from the
// same instance (same llvmpipe adapter). Every engine is checked against mira's CPU reference first,
// then timed with harness.ts's protocol (warm-up, median of ≥ 5 runs, each ended by reading one scalar
// back), the engines' runs interleaved; a peer that fails to load or to run is one line of output, and
// the others go on.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { gradName } from "../../compiler/grad.js";
import { runReference } from "../../compiler/reference.js";
import { adapterName, getGpu } from "../../runtime/device.js";
import { Table, type Timing, fmtNum } from "../harness.js";
import { writeSection } from "../report.js";
import { countDispatches, dispatchesOf } from "./gpu.js";
import { createJax } from "./jax.js";
import { loadTfjs } from "./load-tfjs.js";
import { type MiraEngine, createMira, miraFeeds, miraGraphs } from "./mira.js";
import {
  BLOCK,
  ELEMENTWISE,
  ELEMENTWISE_BYTES,
  GRAD_NAMES,
  type PeerEngine,
  blockValues,
  elementwiseInput,
  maxAbs,
  maxDiff,
} from "./workload.js";

const ROOT = join(import.meta.dirname, "..", "..");
/** largest |engine − reference| over a tensor, divided by the tensor's largest |reference| (for a
 *  gradient, at least GRAD_FLOOR × the largest |reference| of all gradients: d/dbk is zero in exact
 *  arithmetic, since a key bias shifts every score of a query alike, so its values are rounding noise) */
const TOLERANCE = 1e-3;
const GRAD_FLOOR = 1e-3;
const TIMING = { warmup: 2, runs: 7 };

/** Figures measured earlier on this machine (the developers' guide), beside today's. */
const EARLIER: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  forward: { "jax-js": "165 ms (22 dispatches)", "tfjs-webgpu": "231 ms (49)" },
  forwardBackward: { "jax-js": "424 ms (87)", "tfjs-webgpu": "689 ms (133)" },
  elementwise: { "jax-js": "1.47 GB/s", "tfjs-webgpu": "0.24 GB/s", "hand-fused WGSL": "3.6 GB/s" },
};

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ");
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split("\n")[0];

/** The commit mira was measured at, and whether its compiler or runtime had uncommitted changes. */
function provenance(): string {
  try {
    const git = (...args: string[]): string =>
      execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = git("status", "--porcelain", "--", "compiler", "runtime", "api", "dsl", "models") !== "";
    return `at ${git("rev-parse", "--short", "HEAD")}${dirty ? " with uncommitted changes in the checkout" : ""}`;
  } catch {
    return "(commit unknown)";
  }
}

function installed(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string })
      .version;
  } catch {
    return "not installed";
  }
}

type Workload = "forward" | "forwardBackward" | "elementwise";
const WORKLOADS: readonly Workload[] = ["forward", "forwardBackward", "elementwise"];
const LABEL: Readonly<Record<Workload, string>> = {
  forward: "block forward",
  forwardBackward: "block fwd+bwd",
  elementwise: "gelu(x·a+b)·c",
};

interface Measured {
  readonly timing?: Timing;
  readonly dispatches?: number;
  readonly error?: string;
}

const loadAtStart = load();
say(`peer benchmark — load average ${loadAtStart} (1/5/15 min) on ${cpus().length} cores`);
const gpu = await getGpu().catch((e: unknown) => {
  say(`peers: no WebGPU device: ${message(e)}`);
  process.exit(1);
});
const adapter = adapterName(gpu.adapter);
say(`adapter: ${adapter}`);
countDispatches();

const values = blockValues();
const xElementwise = elementwiseInput();
const graphs = miraGraphs();

let t0 = performance.now();
const ref = runReference(graphs.reference, miraFeeds(values));
const refEw = runReference(graphs.elementwise, {
  x: xElementwise,
  a: [ELEMENTWISE.a],
  b: [ELEMENTWISE.b],
  c: [ELEMENTWISE.c],
}).y.data;
say(
  "CPU reference (float64, rounded to f32 after every op) in " +
    `${((performance.now() - t0) / 1000).toFixed(1)} s; loss = mean(y) = ` +
    `${ref.mean_y.data[0].toPrecision(6)}`,
);

const miraNames = Object.fromEntries(Object.entries(graphs.names).map(([mira, short]) => [short, mira]));
const miraName = (short: string): string => miraNames[short];

/** Compares an engine's full results with the reference; one line per engine. */
async function check(e: PeerEngine): Promise<{ text: string; ok: boolean }> {
  const r = await e.blockResults();
  const y = maxDiff(r.y, ref.y.data);
  let worst = { name: "", abs: 0, rel: 0 };
  const gradScale = Math.max(...GRAD_NAMES.map((n) => maxAbs(ref[gradName(miraName(n))].data)));
  for (const n of GRAD_NAMES) {
    const d = maxDiff(r.grads[n], ref[gradName(miraName(n))].data, GRAD_FLOOR * gradScale);
    if (!(d.rel <= worst.rel)) worst = { name: n, ...d };
  }
  const ew = maxDiff(await e.elementwiseResult(), refEw);
  const ok = y.rel <= TOLERANCE && worst.rel <= TOLERANCE && ew.rel <= TOLERANCE;
  const ex = (x: number): string => x.toExponential(1);
  const text =
    `y ${ex(y.abs)} (rel ${ex(y.rel)}), gradients ${ex(worst.abs)} (rel ${ex(worst.rel)}, d/d${worst.name}` +
    `), elementwise ${ex(ew.abs)} (rel ${ex(ew.rel)})`;
  return { text, ok };
}

const candidates: { name: string; pkg?: string; create: () => Promise<PeerEngine> }[] = [
  { name: "mira", create: () => createMira(gpu, graphs, values, xElementwise) },
  { name: "jax-js", pkg: "@jax-js/jax", create: () => createJax(gpu.instance, values, xElementwise) },
  {
    name: "tfjs-webgpu",
    pkg: "@tensorflow/tfjs-backend-webgpu",
    create: async () => (await loadTfjs(gpu.instance))(values, xElementwise),
  },
];

/** MIRA_PEERS=jax-js,tfjs-webgpu runs only those (while developing); the section is written only
 *  after a run of all of them. */
const only = process.env.MIRA_PEERS?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);

interface Loaded {
  readonly name: string;
  readonly version: string;
  readonly engine?: PeerEngine;
  loadError?: string;
  check?: string;
  checkOk?: boolean;
  readonly results: Partial<Record<Workload, Measured>>;
}
type EngineReport = Loaded;

// 1. Load and check every engine; all stay loaded (each on its own device) for the timing.
const reports: Loaded[] = [];
for (const c of candidates) {
  if (only && !only.includes(c.name)) continue;
  const version = c.pkg ? installed(c.pkg) : "this checkout";
  say(`\n${c.name} (${version})`);
  t0 = performance.now();
  let engine: PeerEngine;
  try {
    engine = await c.create();
  } catch (e) {
    say(`  ${c.name} did not load: ${message(e)}; going on without it`);
    reports.push({ name: c.name, version, loadError: message(e), results: {} });
    continue;
  }
  const r: Loaded = { name: c.name, version, engine, results: {} };
  reports.push(r);
  say(`  loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  try {
    const checked = await check(engine);
    r.check = checked.text;
    r.checkOk = checked.ok;
    say(`  max |Δ| vs reference: ${checked.text} — ${checked.ok ? "within" : "OUTSIDE"} tolerance ${TOLERANCE}`);
  } catch (e) {
    say(`  check failed to run: ${message(e)}`);
  }
}

const ceilingSamples: number[] = [];
// 2. Time each workload: every engine warms up, then the runs are interleaved round by round (the
//    engine that goes first rotates), so load from other work on the machine falls on all engines
//    alike. Per engine the protocol is harness.ts's: warm-up, then the median of the runs, each run
//    ended by a scalar read back.
for (const w of WORKLOADS) {
  say(`\n${LABEL[w]}`);
  const live = reports.filter((r) => r.engine);
  const fail = (r: Loaded, e: unknown): void => {
    r.results[w] = { error: message(e) };
    say(`  ${r.name}: failed: ${message(e)}`);
  };
  for (const r of live) {
    try {
      for (let i = 0; i < TIMING.warmup; i++) await r.engine![w]();
    } catch (e) {
      fail(r, e);
    }
  }
  // beside mira's elementwise kernel, in the same rounds: y = x·a, the same bytes with no arithmetic
  const scale =
    w === "elementwise" ? (live.find((r) => r.name === "mira")?.engine as MiraEngine | undefined) : undefined;
  for (let i = 0; scale && i < TIMING.warmup; i++) await scale.scale();
  const samples = new Map<Loaded, number[]>(live.map((r) => [r, []]));
  for (let round = 0; round < TIMING.runs; round++) {
    for (let k = 0; k < live.length; k++) {
      const r = live[(k + round) % live.length];
      if (r.results[w]?.error) continue;
      try {
        const start = performance.now();
        await r.engine![w]();
        samples.get(r)!.push(performance.now() - start);
        if (scale && r.engine === scale) {
          const t = performance.now();
          await scale.scale();
          ceilingSamples.push(performance.now() - t);
        }
      } catch (e) {
        fail(r, e);
      }
    }
  }
  for (const r of live) {
    if (r.results[w]?.error) continue;
    try {
      const xs = samples.get(r)!.sort((a, b) => a - b);
      const timing: Timing = { medianMs: xs[Math.floor(xs.length / 2)], minMs: xs[0], runs: xs.length };
      const dispatches = r.engine!.knownDispatches?.[w] ?? (await dispatchesOf(() => r.engine![w]()));
      r.results[w] = { timing, dispatches };
      const rate = w === "elementwise" ? `, ${fmtNum(ELEMENTWISE_BYTES / timing.medianMs / 1e6)} GB/s` : "";
      say(
        `  ${r.name}: median ${fmtNum(timing.medianMs)} ms (min ${fmtNum(timing.minMs)}, ${timing.runs} ` +
          `runs)${rate}, ${dispatches} dispatches`,
      );
    } catch (e) {
      fail(r, e);
    }
  }
}
for (const r of reports) r.engine?.dispose();

// ---- tables ----
const mira = reports.find((r) => r.name === "mira");
const ratio = (r: EngineReport, w: Workload): string => {
  const a = r.results[w]?.timing?.medianMs;
  const m = mira?.results[w]?.timing?.medianMs;
  return a !== undefined && m !== undefined ? `${fmtNum(a / m)}×` : "-";
};
const cell = (r: EngineReport, w: Workload, of: "medianMs" | "minMs" = "medianMs"): string => {
  const m = r.results[w];
  return r.loadError ? "did not load" : m?.error ? "failed" : m?.timing ? fmtNum(m.timing[of]) : "-";
};
say("");
const blockTable = new Table(
  `transformer block (B ${BLOCK.B}, T ${BLOCK.T}, d ${BLOCK.D}, ${BLOCK.HEADS} heads, MLP ${BLOCK.HIDDEN}, causal)`,
  ["workload", "engine", "median ms", "min ms", "dispatches", "median ÷ mira's", "earlier on this machine", "check"],
);
for (const w of ["forward", "forwardBackward"] as const)
  for (const r of reports)
    blockTable.add([
      LABEL[w],
      r.name,
      cell(r, w),
      cell(r, w, "minMs"),
      String(r.results[w]?.dispatches ?? "-"),
      r.name === "mira" ? "1×" : ratio(r, w),
      EARLIER[w][r.name] ?? "-",
      r.checkOk === undefined ? "-" : r.checkOk ? "ok" : "MISMATCH",
    ]);
const ewTable = new Table(
  `elementwise y = gelu(x·a + b)·c, ${ELEMENTWISE.N} f32 (a, b, c runtime scalars; ` +
    `${ELEMENTWISE_BYTES / 2 ** 20} MiB read + written)`,
  ["engine", "median ms", "min ms", "GB/s (median)", "dispatches", "median ÷ mira's", "earlier on this machine"],
);
for (const r of reports) {
  const t = r.results.elementwise?.timing;
  ewTable.add([
    r.name,
    cell(r, "elementwise"),
    cell(r, "elementwise", "minMs"),
    t ? fmtNum(ELEMENTWISE_BYTES / t.medianMs / 1e6) : "-",
    String(r.results.elementwise?.dispatches ?? "-"),
    r.name === "mira" ? "1×" : ratio(r, "elementwise"),
    EARLIER.elementwise[r.name] ?? "-",
  ]);
}
const ceiling = ceilingSamples.sort((a, b) => a - b);
const ceilingMs = ceiling[Math.floor(ceiling.length / 2)];
const geluMs = mira?.results.elementwise?.timing?.medianMs;
if (ceiling.length)
  ewTable.add([
    "mira, y = x·a (the same bytes: memory ceiling)",
    fmtNum(ceilingMs),
    fmtNum(ceiling[0]),
    fmtNum(ELEMENTWISE_BYTES / ceilingMs / 1e6),
    "2",
    geluMs ? `${fmtNum(ceilingMs / geluMs)}×` : "-",
    "-",
  ]);
ewTable.add([
  "hand-fused WGSL (earlier, not run here)",
  "-",
  "-",
  "-",
  "1",
  "-",
  EARLIER.elementwise["hand-fused WGSL"],
]);

if (only) {
  say(`\nMIRA_PEERS is set: docs/PERFORMANCE.md left as it was; load average now ${load()}`);
  process.exit(0);
}
const date = new Date().toISOString().slice(0, 10);
const versions = reports
  .filter((r) => r.name !== "mira")
  .map((r) => `${r.name} ${r.version}`)
  .join(", ");
const checkText = (r: (typeof reports)[number]): string =>
  r.loadError
    ? `did not load (${r.loadError})`
    : r.check
      ? `${r.check}${r.checkOk ? "" : " — OUTSIDE tolerance"}`
      : "not checked";
const checks = reports.map((r) => `- ${r.name}: ${checkText(r)}`).join("\n");
writeSection(
  "peers",
  `## Peers on this adapter (${date}, adapter: ${adapter}, Dawn via npm webgpu)

Load average (1/5/15 min): ${loadAtStart} when the run began, ${load()} when it ended, on ${cpus().length} cores.
Other work on the machine slows every figure here and makes single runs noisy; the engines' runs are
interleaved round by round so that it weighs on all of them alike. Measured by \`npx tsx bench/peers.ts\`
(also part of \`npm run bench\`): ${versions}; mira ${provenance()}.

- One process, one Dawn instance. mira runs on its own device; jax-js and tfjs are handed the same
  instance as \`navigator.gpu\` and request their own device on the same adapter.
- mira: the block is std.nn's \`TransformerBlock\` in a .mira model, differentiated by compiler/grad.ts,
  compiled by \`compileGraph\`, run by the \`Executor\` (one submit per run).
- jax-js: \`jit\` of the block and \`jit(valueAndGrad(…))\`, with \`nn.standardize\`,
  \`nn.dotProductAttention\` (\`isCausal\`) and \`nn.gelu\` (exact). Its einsum uses iterator helpers
  that Node 20 lacks; the bench supplies \`map\` and \`filter\` (trace time only).
- tfjs: tfjs-core + tfjs-backend-webgpu, eager ops (\`fused.matMul\` with bias, \`moments\`, batched
  \`matMul\`, \`softmax\`, \`erf\`) and \`tf.valueAndGrads\`; bundled with esbuild from its ES-module build
  at bench time (its Node build has no chained ops and no gradients).
- Same protocol for every engine: ${TIMING.warmup} warm-up runs, then the median of ${TIMING.runs}, each run ended by
  reading one scalar back (the loss; y[0] for the elementwise kernel). The block is pre-norm,
  x + attn(LN(x)) then + MLP(LN(.)) with exact GELU; fwd+bwd adds the gradients of loss = mean(output)
  w.r.t. every weight and the input.
- Dispatches: mira's are \`program.dispatches.length\`; the peers' are counted by wrapping
  \`GPUComputePassEncoder.dispatchWorkgroups\`. They include the scalar read (mira's elementwise: a
  one-element slice kernel).
- "Earlier" figures were measured on this machine before (the developers' guide), under other load;
  the hand-fused WGSL kernel is not run here.
- mira's y = x·a row runs right after mira's elementwise kernel in every round: the same bytes read and
  written with one multiply, so its GB/s is what this adapter's memory path gives at the time, the
  ceiling for the elementwise kernel (its ratio column: its time ÷ mira's elementwise time).

${blockTable.markdown()}
${ewTable.markdown()}
Checked before timing against mira's CPU reference (\`runReference\`: float64, rounded to f32 after
every op): max |Δ| over y, over every gradient (the worst one named) and over the elementwise output.
Tolerance ${TOLERANCE}, relative to each tensor's largest value; for a gradient, at least ${GRAD_FLOOR} × the largest
value of all gradients, since d/dbk is zero in exact arithmetic and its entries are rounding noise.

${checks}
`,
);
say(`\nwritten to docs/PERFORMANCE.md (section "peers"); load average now ${load()}`);
process.exit(0);
