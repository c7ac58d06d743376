// mira.ts: the command line — a thin layer that parses arguments and calls the library. Every failure
// ends as one readable line (a stack only with --debug) and a meaningful exit code (see errors.ts).
import { type Options, type Parsed, flag, onePositional, parse, str, strs } from "./args.js";
import { EXIT, UsageError, describeFailure } from "./errors.js";

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: Options;
  run(p: Parsed): Promise<number>;
}

const MODEL_OPTIONS: Options = { preset: { type: "string" }, set: { type: "string", multiple: true } };

function printResult(r: { output: string; exitCode: number }): number {
  if (r.output) (r.exitCode === 0 ? process.stdout : process.stderr).write(r.output + "\n");
  return r.exitCode;
}

const COMMANDS: Record<string, Command> = {
  check: {
    summary: "check a .mira file: names, types, shapes",
    usage: "mira check FILE [--preset NAME] [--set key=value]… [--json]",
    options: MODEL_OPTIONS,
    run: async (p) => {
      const { checkFile } = await import("../dsl/cli-support.js");
      return printResult(
        checkFile(onePositional(p, "file", COMMANDS.check.usage), {
          preset: str(p, "preset"),
          set: strs(p, "set"),
          json: flag(p, "json"),
        }),
      );
    },
  },
  fmt: {
    summary: "format a .mira file (idempotent, keeps comments)",
    usage: "mira fmt FILE [--write | --check]",
    options: { write: { type: "boolean" }, check: { type: "boolean" } },
    run: async (p) => {
      const { formatFile } = await import("../dsl/cli-support.js");
      return printResult(
        formatFile(onePositional(p, "file", COMMANDS.fmt.usage), { write: flag(p, "write"), check: flag(p, "check") }),
      );
    },
  },
  compile: {
    summary: "compile a model: --emit params | ir | wgsl | report | ts",
    usage:
      "mira compile FILE [--preset NAME] [--set key=value]… [--batch B=2,T=16] [--step " +
      "forward|train|stream] [--max-chunks N] [--no-fuse] [--limits NAME|FILE] --emit " +
      "params|ir|wgsl|report|ts [--json]",
    options: {
      ...MODEL_OPTIONS,
      emit: { type: "string" },
      batch: { type: "string", multiple: true },
      step: { type: "string" },
      "no-fuse": { type: "boolean" },
      "import-from": { type: "string" },
      "max-chunks": { type: "string" },
      limits: { type: "string" },
    },
    run: async (p) => (await import("./commands/compile.js")).compileCommand(p),
  },
  train: {
    summary: "train a model on text or an audio-video QA set, with checkpoints, metrics and resume",
    usage:
      "mira train FILE --data PATH [--preset] [--set]… [--steps] [--batch] [--window] [--lr] [--seed] " +
      "[--types T1,T2[@STEP];…] [--run NAME] [--runs-dir DIR] [--resume]",
    options: {
      preset: { type: "string" },
      set: { type: "string", multiple: true },
      data: { type: "string" },
      steps: { type: "string" },
      batch: { type: "string" },
      window: { type: "string" },
      lr: { type: "string" },
      seed: { type: "string" },
      types: { type: "string" },
      run: { type: "string" },
      "runs-dir": { type: "string" },
      resume: { type: "boolean" },
      "eval-every": { type: "string" },
      "log-every": { type: "string" },
      "checkpoint-every": { type: "string" },
    },
    run: async (p) => (await import("./commands/train.js")).trainCommand(p),
  },
  generate: {
    summary: "generate text from a trained checkpoint, or answer questions about a clip",
    usage:
      'mira generate --checkpoint CKPT --prompt "…" [--max-tokens N] [--temperature X] [--top-k K] ' +
      "[--top-p P] [--seed N] [--stop CHARS] [--no-cache] | mira generate --checkpoint CKPT --clip ID " +
      '[--data DIR] [--question "…"] | mira generate --checkpoint CKPT --video FILE [--audio FILE] ' +
      '--question "…" | mira generate --checkpoint CKPT --stream (--clip ID [--data DIR] | --video FILE) ' +
      '--question "…" [--max-chunks N]',
    options: {
      checkpoint: { type: "string" },
      prompt: { type: "string" },
      "max-tokens": { type: "string" },
      temperature: { type: "string" },
      "top-k": { type: "string" },
      "top-p": { type: "string" },
      seed: { type: "string" },
      stop: { type: "string" },
      "no-cache": { type: "boolean" },
      data: { type: "string" },
      clip: { type: "string" },
      question: { type: "string" },
      video: { type: "string" },
      audio: { type: "string" },
      stream: { type: "boolean" },
      "max-chunks": { type: "string" },
    },
    run: async (p) => (await import("./commands/generate.js")).generateCommand(p),
  },
  eval: {
    summary: "accuracy per question type of an audio-video QA checkpoint, beside chance",
    usage:
      "mira eval --checkpoint CKPT [--data DIR] [--split train|val|test] [--ablate audio|video] [--set " +
      "key=value]… [--batch N] [--json]",
    options: {
      checkpoint: { type: "string" },
      data: { type: "string" },
      split: { type: "string" },
      ablate: { type: "string" },
      set: { type: "string", multiple: true },
      batch: { type: "string" },
    },
    run: async (p) => (await import("./commands/eval.js")).evalCommand(p),
  },
  export: {
    summary: "write a model for another engine: a PyTorch module with a torchrun training script, or ONNX",
    usage:
      "mira export FILE [--preset NAME] [--set key=value]… --format torch|onnx --out DIR [--batch " +
      "B=1,T=64] [--seed N] [--checkpoint CKPT] [--no-init] [--json]",
    options: {
      ...MODEL_OPTIONS,
      format: { type: "string" },
      out: { type: "string" },
      batch: { type: "string", multiple: true },
      seed: { type: "string" },
      checkpoint: { type: "string" },
      "no-init": { type: "boolean" },
    },
    run: async (p) => (await import("./commands/export.js")).exportCommand(p),
  },
  plot: {
    summary: "draw a run's loss curves as a self-contained SVG",
    usage: "mira plot RUN_DIR [--out FILE.svg]",
    options: { out: { type: "string" } },
    run: async (p) => (await import("./commands/plot.js")).plotCommand(p),
  },
  data: {
    summary: "make the synthetic audio-video QA set, verify a data set, or import a real clip",
    usage:
      "mira data synth --out DIR [--clips N] [--frames F] [--chunks T] [--size PX] [--mels M] [--seed S] " +
      "[--json] | mira data check DIR [--json] | mira data import --video FILE [--audio FILE] --out DIR " +
      '[--like DIR] [--question "…" --answer WORD]…',
    options: {
      out: { type: "string" },
      clips: { type: "string" },
      frames: { type: "string" },
      chunks: { type: "string" },
      size: { type: "string" },
      mels: { type: "string" },
      seed: { type: "string" },
      video: { type: "string" },
      audio: { type: "string" },
      like: { type: "string" },
      question: { type: "string", multiple: true },
      answer: { type: "string", multiple: true },
    },
    run: async (p) => (await import("./commands/data.js")).dataCommand(p),
  },
  bench: {
    summary:
      "tune a model's matmul kernels for this adapter (--autotune), show where a step's time goes " +
      "(--profile), or run the benchmark suite",
    usage:
      "mira bench [--autotune FILE | --profile FILE [--top N] [--no-fuse]] [--preset NAME] [--set " +
      "key=value]… [--batch B=8,T=64] [--step train|forward] [--runs N] [--json]",
    options: {
      ...MODEL_OPTIONS,
      autotune: { type: "string" },
      profile: { type: "string" },
      top: { type: "string" },
      "no-fuse": { type: "boolean" },
      batch: { type: "string", multiple: true },
      step: { type: "string" },
      runs: { type: "string" },
    },
    run: async (p) => (await import("./commands/bench.js")).benchCommand(p),
  },
  doctor: {
    summary: "show the GPU adapter, its limits and features, run a self-test, and say which models fit",
    usage: "mira doctor [--json]",
    options: {},
    run: async (p) => (await import("./commands/doctor.js")).doctor(p),
  },
  lsp: {
    summary: "the language server for editors, on stdin/stdout (docs/editors.md)",
    usage: "mira lsp [--stdio]",
    options: { stdio: { type: "boolean" } },
    run: async (p) => (await import("./commands/lsp.js")).lspCommand(p),
  },
  demo: {
    summary: "what `npm start` runs: tiny Mirasol trained on synthetic clips, then asked about held-out ones",
    usage: "mira demo [--steps N] [--clips N] [--runs DIR] [--figures FILE]",
    options: {
      steps: { type: "string" },
      clips: { type: "string" },
      runs: { type: "string" },
      figures: { type: "string" },
    },
    run: async (p) => (await import("./commands/demo.js")).demo(p),
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    "mira — define, train and run multimodal models from TypeScript",
    "",
    "usage: mira COMMAND [options]   (--help on any command; --debug shows stacks)",
    "",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "exit codes: 0 ok · 1 failed · 2 bad usage or input · 3 this machine lacks something (GPU, ffmpeg, a limit)",
    "            130 interrupted (Ctrl-C) · 143 terminated (SIGTERM)",
  ].join("\n");
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(help() + "\n");
    return name ? EXIT.ok : EXIT.usage;
  }
  const cmd = COMMANDS[name];
  if (!cmd) throw new UsageError(`unknown command '${name}'; commands: ${Object.keys(COMMANDS).join(", ")}`);
  const p = parse(rest, cmd.options, cmd.usage);
  if (flag(p, "help")) {
    process.stdout.write(`${cmd.summary}\nusage: ${cmd.usage}\n`);
    return EXIT.ok;
  }
  return cmd.run(p);
}

const argv = process.argv.slice(2);
const debug = argv.includes("--debug");
process.on("SIGINT", () => process.exit(EXIT.interrupted));
process.on("SIGTERM", () => process.exit(EXIT.terminated));
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const { text, code } = describeFailure(e, debug);
    process.stderr.write(text + "\n");
    process.exitCode = code;
  },
);
