// markdown.ts (experiments): the pieces the training sections share — an accuracy table per question
// type with a chance row, its bar chart, and the list of runs with their commands, seeds and times.
import { barChartSvg } from "../../api/svg-plot.js";
import type { DataSet } from "./data-sets.js";
import type { Run } from "./runs.js";
import { COLORS } from "./suite.js";
import { type TypeSummary, cell, pct, typeHeader } from "./summary.js";

export interface AccuracyRow {
  readonly label: string;
  /** cells of the columns between the label and the types */
  readonly extra: readonly string[];
  readonly types: readonly TypeSummary[];
}

const line = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;

/** A chance row first (chance of the first row's data), then one row per configuration. */
export function accuracyTable(
  title: string,
  first: string,
  extra: readonly string[],
  rows: readonly AccuracyRow[],
): string {
  const types = rows[0]?.types ?? [];
  const head = [first, ...extra, ...types.map(typeHeader)];
  return (
    [
      `### ${title}`,
      "",
      line(head),
      `|${head.map(() => "---").join("|")}|`,
      line(["chance", ...extra.map(() => ""), ...types.map((t) => pct(t.chance))]),
      ...rows.map((r) => line([r.label, ...r.extra, ...r.types.map(cell)])),
    ].join("\n") + "\n"
  );
}

/** Mean accuracy per type and configuration, whiskers over seeds, chance dashed. */
export function accuracyBars(title: string, rows: readonly AccuracyRow[]): string {
  const types = rows[0]?.types ?? [];
  return barChartSvg(
    title,
    "test accuracy (%)",
    types.map((t) => t.type),
    rows.map((r, i) => ({
      name: r.label,
      color: COLORS[i % COLORS.length],
      bars: r.types.map((t) => ({ value: 100 * t.mean, lo: 100 * t.min, hi: 100 * t.max })),
    })),
    { name: "chance", values: types.map((t) => 100 * t.chance) },
  );
}

/** Every run: its configuration, seed, wall time, step time, final loss and command lines. */
export function runList(
  runs: readonly Run[],
  data: readonly DataSet[],
  extra: readonly { readonly what: string; readonly command: string; readonly seconds: number }[] = [],
): string {
  const stopped = runs.filter((r) => r.stopped);
  return (
    [
      ...(stopped.length
        ? [
            `**${stopped.length} of ${runs.length} runs stopped early** (their last checkpoint is ` +
              `evaluated): ${stopped.map((r) => `${r.spec.label} seed ${r.seed}`).join(", ")}.`,
            "",
          ]
        : []),
      "<details><summary>Every run: command lines, seeds, wall times</summary>",
      "",
      ...data.map((d) => `- data (${d.chunks} chunks): \`${d.command}\``),
      ...runs.map(
        (r) =>
          `- ${r.spec.label}, seed ${r.seed}${r.stopped ? ` (**stopped: ${r.stopped}**)` : ""}: ` +
          `${(r.seconds / 60).toFixed(1)} min (${r.stepMs.toFixed(0)} ms/step, last training loss ` +
          `${r.lastLoss?.toFixed(3) ?? "-"}): ${r.commands.map((c) => `\`${c}\``).join(", then ")}`,
      ),
      ...extra.map((e) => `- ${e.what}: ${e.seconds.toFixed(0)} s: \`${e.command}\``),
      "",
      "</details>",
    ].join("\n") + "\n"
  );
}
