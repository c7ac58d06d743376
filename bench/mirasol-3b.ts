// mirasol-3b.ts (bench): `npm run bench:3b` — Mirasol3B at its full widths and depths on this machine:
// the 3b preset on a short clip (two chunks of two 32×32 frames and 16 spectrogram frames each, so the widths
// and depths stay those of the preset), values stored in f16, weights from the model's initialisers,
// created and uploaded one parameter at a time. Prefill over an 8-token question, then 8 answer tokens
// greedily by the derived decoder; then the weights saved as one safetensors checkpoint and loaded back,
// each one tensor at a time with a progress bar, and the same answer again. Prints each phase's time, the
// peak resident memory and the compile reports of the prefill and step programs, and writes them to
// docs/models.md. A benchmark, not a test:
// test/compiler/windows.test.ts runs the same windowed path at reduced width with lowered limits.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ProgressBar } from "../base/progress.js";
import { openIncremental } from "../api/decoder.js";
import { loadModel } from "../api/model.js";
import { initParam } from "../compiler/lower.js";
import { formatReport, reportProgram } from "../compiler/report.js";
import { compileFor } from "../runtime/autotune-cache.js";
import { adapterName, getGpu } from "../runtime/device.js";
import { type OnBytes, openCheckpoint, saveCheckpointStreaming } from "../runtime/checkpoint.js";
import type { WeightLoader } from "../runtime/decode.js";
import { GREEDY } from "../runtime/sampling.js";
import { writeSection } from "./report.js";

const SET = ["precision=f16", "chunks=2", "frames=2", "height=32", "width=32", "spec_frames=16"];
const QUESTION = 8;
const ANSWER = 8;
const SEED = 1;

const root = join(import.meta.dirname, "..");
const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const peakRss = (): number => process.resourceUsage().maxRSS * 1024;
const clock = (): (() => number) => {
  const t0 = performance.now();
  return () => (performance.now() - t0) / 1000;
};

const lines: string[] = [];
const say = (s: string): void => {
  console.log(s);
  lines.push(s);
};

const total = clock();
const gpu = await getGpu();
let t = clock();
const model = loadModel(join(root, "models", "mirasol.mira"), { preset: "3b", set: SET });
const el = model.elaborate({ B: 1, L: QUESTION + ANSWER });
const byName = new Map(el.params.map((p) => [p.name, p]));
say(`elaborated: ${el.paramCount.toLocaleString("en")} parameters, ${el.params.length} tensors (${t().toFixed(1)} s)`);

// weights from the initialisers, one tensor at a time: never all of them in JavaScript memory at once
let uploaded = 0;
const load: WeightLoader = (ex, names) => {
  for (const name of names) {
    const p = byName.get(name);
    if (!p) throw new Error(`bench/mirasol-3b: no parameter ${name}`);
    ex.write(name, initParam(p, SEED));
    uploaded++;
  }
};

t = clock();
const dec = await openIncremental(gpu, model, { maxLen: QUESTION + ANSWER - 1, load, lengths: true });
say(`step program compiled, its weights created and uploaded (${uploaded} tensors): ${t().toFixed(1)} s`);

const clip = {
  video: Float32Array.from(
    { length: el.inputs.find((i) => i.name === "video")!.shape.reduce((a, b) => a * b, 1) },
    (_, k) => Math.sin(k * 0.37),
  ),
  spectrogram: Float32Array.from(
    { length: el.inputs.find((i) => i.name === "spectrogram")!.shape.reduce((a, b) => a * b, 1) },
    (_, k) => Math.cos(k * 0.11),
  ),
};
const question = Int32Array.from({ length: QUESTION + ANSWER - 1 }, (_, k) =>
  k < QUESTION ? 3 + ((k * 7919) % 31000) : 0,
);

/** Prefill over the clip and question, then ANSWER − 1 cached steps: the greedy tokens and the times. */
async function answer(): Promise<{ tokens: number[]; prefillS: number; stepsS: number }> {
  let c = clock();
  let out = await dec.prefillSample(question, { sampling: GREEDY, step: 0 }, clip, [QUESTION]);
  const prefillS = c();
  const tokens = [out.tokens[0]];
  c = clock();
  for (let step = 1; step < ANSWER; step++) {
    out = await dec.stepSample([tokens.at(-1)!], { sampling: GREEDY, step });
    tokens.push(out.tokens[0]);
  }
  return { tokens, prefillS, stepsS: c() };
}

const first = await answer();
say(
  `prefill (compile, encoder weights, run over the clip and ${QUESTION} question tokens): ` +
    `${first.prefillS.toFixed(1)} s`,
);
const perToken = (s: number): string => `${((s / (ANSWER - 1)) * 1000).toFixed(0)} ms per token`;
say(`${ANSWER - 1} cached steps: ${first.stepsS.toFixed(1)} s (${perToken(first.stepsS)})`);
say(`answer tokens (untrained weights): ${first.tokens.join(" ")}`);

// The loaded weights saved as one safetensors checkpoint, one tensor at a time, then read back into the
// programs one tensor at a time: the same answer again.
const holders = dec.weightHolders();
const infos = new Map(
  [...holders].map(([name, ex]) => {
    const p = ex.program.params.find((x) => x.name === name)!;
    return [name, { dtype: p.dtype, shape: p.shape }] as const;
  }),
);
const dir = mkdtempSync(join(tmpdir(), "mira-3b-"));
const path = join(dir, "mirasol-3b.safetensors");
const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(2)} GB`;
const bar = (label: string): OnBytes => {
  const b = new ProgressBar(100);
  return (done, total) => b.update(Math.round((100 * done) / total), `${label} ${gb(done)} of ${gb(total)}`);
};
t = clock();
await saveCheckpointStreaming(
  path,
  infos,
  async (name) => {
    const p = infos.get(name)!;
    const bytes = p.shape.reduce((a, d) => a * d, 1) * (p.dtype === "f16" ? 2 : 4);
    return new Uint8Array(await holders.get(name)!.readBytes(name, false), 0, bytes);
  },
  { model: "models/mirasol.mira", preset: "3b", set: SET.join(" "), seed: String(SEED) },
  bar("saving"),
);
process.stderr.write("\n");
say(`checkpoint saved: ${gb(statSync(path).size)} in ${t().toFixed(1)} s (${holders.size} tensors)`);
t = clock();
const reader = openCheckpoint(path);
const loading = bar("loading");
let loaded = 0;
for (const [name, ex] of holders) {
  const bytes = reader.read(name);
  ex.writeBytes(name, bytes);
  loaded += bytes.byteLength;
  loading(loaded, reader.dataBytes);
}
reader.close();
process.stderr.write("\n");
say(`checkpoint loaded into the programs: ${t().toFixed(1)} s`);
const again = await answer();
say(
  `the same question after loading: ${again.tokens.join(" ")} ` +
    `(${perToken(again.stepsS)}; prefill ${again.prefillS.toFixed(1)} s)`,
);
if (again.tokens.join() !== first.tokens.join())
  throw new Error("bench/mirasol-3b: the loaded checkpoint answered differently");
rmSync(dir, { recursive: true, force: true });
say(`peak resident memory: ${gib(peakRss())}; total ${total().toFixed(1)} s; load ${loadavg()[0].toFixed(1)}`);

const stepReport = formatReport(reportProgram(compileFor(gpu, dec.graphs.step)), "step program");
const prefillReport = formatReport(
  reportProgram(compileFor(gpu, dec.graphs.prefill(QUESTION + ANSWER - 1).graph)),
  "prefill program",
);
const head = (r: string): string => r.split("\n").slice(0, 8).join("\n");
console.log(head(prefillReport));
console.log(head(stepReport));
dec.destroy();

const when = `${new Date().toISOString().slice(0, 10)}, adapter ${adapterName(gpu.adapter)}`;
writeSection(
  "mirasol-3b",
  `### The 3b preset on this machine (${when}, \`npm run bench:3b\`)

\`--preset 3b\` with \`${SET.map((s) => `--set ${s}`).join(" ")}\`, batch 1: the preset's widths and depths on a
clip of two chunks, weights from the initialisers (seed ${SEED}), created and uploaded one tensor at a time.

\`\`\`
${lines.join("\n")}
\`\`\`

\`\`\`
${head(prefillReport)}
${head(stepReport)}
\`\`\``,
  join(root, "docs", "models.md"),
);
process.exit(0);
