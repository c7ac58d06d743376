// plot.ts (cli): `mira plot runs/NAME` — the run's loss curves as a self-contained SVG beside its metrics.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { type Parsed, onePositional, str } from "../args.js";
import { EXIT, UsageError } from "../errors.js";
import { lineChartSvg } from "../../api/svg-plot.js";

export const PLOT_USAGE = "mira plot RUN_DIR [--out FILE.svg]";

export async function plotCommand(p: Parsed): Promise<number> {
  const dir = onePositional(p, "run directory", PLOT_USAGE);
  const metrics = join(dir, "metrics.jsonl");
  if (!existsSync(metrics))
    throw new UsageError(`${metrics} does not exist; train with 'mira train … --run NAME' first`);
  const rows = readFileSync(metrics, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, number>);
  const series = [
    {
      name: "training loss",
      color: "#1f77b4",
      points: rows.filter((r) => r.loss !== undefined).map((r) => [r.step, r.loss] as const),
    },
    {
      name: "validation loss",
      color: "#d62728",
      points: rows.filter((r) => r.val_loss !== undefined).map((r) => [r.step, r.val_loss] as const),
    },
  ];
  const out = str(p, "out") ?? join(dir, "loss.svg");
  writeFileSync(out, lineChartSvg(`loss — ${basename(dir)}`, "step", "loss (nats per token)", series));
  process.stdout.write(`wrote ${out} (${rows.length} metric rows)\n`);
  return EXIT.ok;
}
