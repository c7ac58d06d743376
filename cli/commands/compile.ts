// compile.ts (cli): `mira compile FILE --emit params|ir|wgsl|report|ts`. params and ir come from the
// front end's compile support (no device, no weights); wgsl, report and ts compile the program for
// this machine's adapter (WebGPU's default limits when there is none).
import { existsSync, readFileSync } from "node:fs";
import { compileFile } from "../../api/compile.js";
import { emitElaborated } from "../../compiler/compile-support.js";
import { generateBindings } from "../../compiler/bindings.js";
import { type DeviceLimits, LIMIT_PROFILES, LimitError, parseLimits } from "../../compiler/limits.js";
import { formatReport } from "../../compiler/report.js";
import { scanDispatches } from "../../compiler/report-dispatches.js";
import { formatPasses, reportPasses } from "../../compiler/report-passes.js";
import { type Parsed, flag, int, onePositional, str, strs } from "../args.js";
import { EXIT, UsageError } from "../errors.js";

export const COMPILE_USAGE =
  "mira compile FILE [--preset NAME] [--set key=value]… [--batch B=2,T=16] [--step forward|train|stream] " +
  "[--max-chunks N] [--no-fuse] [--limits NAME|FILE] --emit params|ir|wgsl|report|ts [--json]";
const EMITS = ["params", "ir", "wgsl", "report", "ts"] as const;

export function parseBatch(specs: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of specs.flatMap((x) => x.split(","))) {
    const m = /^\s*([A-Za-z_]\w*)\s*=\s*(\d+)\s*$/.exec(s);
    if (!m) throw new UsageError(`--batch takes NAME=SIZE pairs such as 'B=8,T=128', got '${s}'`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

/** `--limits NAME|FILE`: a built-in profile (LIMIT_PROFILES) or a JSON file of limits. */
export function resolveLimits(spec: string): DeviceLimits {
  const profile = LIMIT_PROFILES[spec];
  if (profile) return profile;
  if (existsSync(spec)) return parseLimits(readFileSync(spec, "utf8"), spec);
  const names = Object.keys(LIMIT_PROFILES).join(", ");
  throw new UsageError(`--limits takes a profile (${names}) or a JSON file of limits; '${spec}' is neither`);
}

export async function compileCommand(p: Parsed): Promise<number> {
  const file = onePositional(p, "file", COMPILE_USAGE);
  const emit = str(p, "emit") ?? "params";
  if (!(EMITS as readonly string[]).includes(emit))
    throw new UsageError(`--emit takes ${EMITS.join(", ")}; got '${emit}'`);
  const batch = parseBatch(strs(p, "batch"));
  const json = flag(p, "json");
  const limitsSpec = str(p, "limits");
  const limits = limitsSpec === undefined ? undefined : resolveLimits(limitsSpec); // checked even where unused
  if (emit === "params" || emit === "ir") {
    const r = emitElaborated(file, { preset: str(p, "preset"), set: strs(p, "set"), batch, emit, json });
    (r.exitCode === 0 ? process.stdout : process.stderr).write(r.output + "\n");
    return r.exitCode;
  }
  const step = str(p, "step") ?? "forward";
  if (step === "stream") return streamReportCommand(p, file, emit, batch, json, limits);
  if (step !== "forward" && step !== "train")
    throw new UsageError(`--step takes forward, train or stream, got '${step}'`);
  const c = await compileFile(file, {
    preset: str(p, "preset"),
    set: strs(p, "set"),
    batch,
    fuse: !flag(p, "no-fuse"),
    step,
    limits,
  }).catch((e: unknown) => {
    // "this device" is the one --limits names, not the machine compiling
    if (e instanceof LimitError && limitsSpec)
      throw new LimitError(`${e.message} (compiled for --limits ${limitsSpec})`);
    throw e;
  });
  const batchText = Object.entries(batch)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  if (emit === "wgsl") {
    const body = c.program.kernels
      .map((k, i) => `// kernel ${i}: ${k.name}, workgroups [${k.workgroups.join(", ")}]\n${k.code}`)
      .join("\n");
    process.stdout.write(body + "\n");
  } else if (emit === "report") {
    const r = c.report();
    const title =
      `${file}${c.model.preset ? ` (preset ${c.model.preset})` : ""}` +
      `${c.model.set.length ? ` ${c.model.set.map((x) => `--set ${x}`).join(" ")}` : ""}, ` +
      `${step === "train" ? "training step" : "forward"}${batchText ? `, batch ${batchText}` : ""}` +
      `${flag(p, "no-fuse") ? ", unfused" : ""}${limitsSpec ? `, for limits ${limitsSpec}` : ""}`;
    const passes = reportPasses(c.program);
    const scans = scanDispatches(c.program, c.elaborated, c.model.sources);
    const text = json
      ? JSON.stringify({ ...r, scans, pipeline: passes }, null, 2)
      : `${formatReport(r, title, scans)}\n${formatPasses(passes)}`;
    process.stdout.write(text + "\n");
  } else {
    const cmd =
      `mira compile ${file} --emit ts${c.model.preset ? ` --preset ${c.model.preset}` : ""}` +
      `${c.model.set.map((x) => ` --set '${x}'`).join("")}${batchText ? ` --batch ${batchText}` : ""}`;
    process.stdout.write(
      generateBindings(c.elaborated, {
        name: c.model.checked.model?.name.name ?? "Model",
        command: cmd,
        importFrom: str(p, "import-from"),
      }),
    );
  }
  return EXIT.ok;
}

/** `--step stream --emit report`: the streaming encoder's per-chunk program (apps/mirasol/stream.ts). */
async function streamReportCommand(
  p: Parsed,
  file: string,
  emit: string,
  batch: Record<string, number>,
  json: boolean,
  limits?: DeviceLimits,
): Promise<number> {
  if (emit !== "report") throw new UsageError(`--step stream goes with --emit report, got --emit ${emit}`);
  const { loadModel } = await import("../../api/model.js");
  const { streamReport } = await import("../../apps/mirasol/stream.js");
  const model = loadModel(file, { preset: str(p, "preset"), set: strs(p, "set") });
  const maxChunks = str(p, "max-chunks") === undefined ? undefined : int(p, "max-chunks", 0);
  const r = await streamReport(model, { maxChunks, dims: batch }, limits);
  if (json) {
    process.stdout.write(
      JSON.stringify({ ...r.report, maxChunks: r.maxChunks, wholeClip: r.wholeFlops }, null, 2) + "\n",
    );
    return EXIT.ok;
  }
  const title =
    `${file}${model.preset ? ` (preset ${model.preset})` : ""}` +
    `${model.set.length ? ` ${model.set.map((x) => `--set ${x}`).join(" ")}` : ""}, streaming encoder: one ` +
    "chunk per run (the chunk index is an input, so every chunk runs this program), caches of " +
    `${r.maxChunks} chunks${limits ? `, for limits ${str(p, "limits")}` : ""}`;
  const whole = r.wholeFlops.map((w) => `${w.chunks}: ${(w.flops / 1e6).toFixed(2)} M`).join(", ");
  process.stdout.write(
    formatReport(r.report, title).replace(
      "FLOP per run",
      `FLOP per chunk, for every chunk t (whole-clip encoding, by chunk count: ${whole})`,
    ) + "\n",
  );
  return EXIT.ok;
}
