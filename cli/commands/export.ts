// export.ts (cli): `mira export FILE --format torch|onnx --out DIR` — the model for another engine
// (api/export.ts); prints what was written and the next command to run.
import { join } from "node:path";
import { EXPORT_FORMATS, type ExportFormat, exportModel } from "../../api/export.js";
import { type Parsed, flag, int, str, strs } from "../args.js";
import { EXIT, UsageError } from "../errors.js";
import { parseBatch } from "./compile.js";

export const EXPORT_USAGE =
  "mira export FILE [--preset NAME] [--set key=value]… --format torch|onnx --out DIR [--batch B=1,T=64] " +
  "[--seed N] [--checkpoint CKPT] [--no-init] [--json]";

export async function exportCommand(p: Parsed): Promise<number> {
  if (p.positionals.length > 1) throw new UsageError(`expected one model file; usage: ${EXPORT_USAGE}`);
  const file = p.positionals[0];
  const checkpoint = str(p, "checkpoint");
  if (!file && !checkpoint)
    throw new UsageError(`expected a model file (or --checkpoint CKPT); usage: ${EXPORT_USAGE}`);
  const format = str(p, "format");
  if (!format || !(EXPORT_FORMATS as readonly string[]).includes(format))
    throw new UsageError(
      `--format takes ${EXPORT_FORMATS.join(" or ")}${format ? `, got '${format}'` : ""}; usage: ${EXPORT_USAGE}`,
    );
  const out = str(p, "out");
  if (!out) throw new UsageError(`--out DIR is required; usage: ${EXPORT_USAGE}`);
  if (checkpoint && (str(p, "preset") || strs(p, "set").length))
    throw new UsageError("--preset and --set come from the checkpoint's metadata; drop them with --checkpoint");
  const r = exportModel({
    model: file,
    preset: str(p, "preset"),
    set: strs(p, "set"),
    format: format as ExportFormat,
    out,
    batch: parseBatch(strs(p, "batch")),
    seed: str(p, "seed") ? int(p, "seed", 1) : undefined,
    checkpoint,
    init: flag(p, "no-init") ? false : undefined,
  });
  if (flag(p, "json")) {
    process.stdout.write(JSON.stringify(r, null, 2) + "\n");
    return EXIT.ok;
  }
  const fixed = Object.entries(r.fixed)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  const lines = [
    `exported ${r.model} (${r.params.toLocaleString("en-US")} parameters) to ${r.dir}/: ${r.files.join(", ")}`,
  ];
  if (r.dynamic.length)
    lines.push(
      `batch dims ${r.dynamic.join(", ")} are ` +
        `${format === "torch" ? "read from the inputs" : "symbolic (any size runs)"}`,
    );
  if (fixed) lines.push(`batch dims fixed at ${fixed}${r.fixedReason ? ` (${r.fixedReason})` : ""}`);
  if (format === "torch") {
    if (!r.initWritten)
      lines.push(
        "no init.safetensors: a new train.py run draws the parameters with torch from mira's " +
          "initialisers (same distributions, not mira's values)",
      );
    // From here, so that runs/NAME/ and the model path in the checkpoints are where mira looks.
    // --redirects 1 --tee 1: Debian 12's torch 1.13 on Python 3.11 cannot parse torchrun's defaults.
    lines.push(
      `train: torchrun --standalone --redirects 1 --tee 1 --nproc_per_node 2 ${join(r.dir, "train.py")} ` +
        "--data PATH --run NAME   (checkpoints in runs/NAME/; docs/scale-out.md)",
    );
  } else {
    lines.push("outputs: the model's declared outputs (no losses)");
  }
  process.stdout.write(lines.join("\n") + "\n");
  return EXIT.ok;
}
