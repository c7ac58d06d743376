// svg-plot.ts: self-contained SVG charts (no scripts, no external fonts or files) for loss curves and
// experiment figures: lines over a numeric x axis, and grouped bars with whiskers and a reference mark.

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color: string;
}

export interface Bar {
  readonly value: number;
  /** a whisker from lo to hi (e.g. the range over seeds) */
  readonly lo?: number;
  readonly hi?: number;
}

export interface BarSeries {
  readonly name: string;
  readonly color: string;
  /** one per group */
  readonly bars: readonly Bar[];
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function ticks(lo: number, hi: number, n: number): number[] {
  const span = hi - lo || 1;
  const step = 10 ** Math.floor(Math.log10(span / n));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= n) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + 1e-12; v += nice) out.push(Number(v.toPrecision(12)));
  return out;
}

const PAD = { l: 64, r: 20, t: 40, b: 52 };

/** The page, title, horizontal grid with y ticks, axes and axis labels; returns the y mapping. */
function frame(
  parts: string[],
  title: string,
  xLabel: string,
  yLabel: string,
  [y0, y1]: readonly [number, number],
  width: number,
  height: number,
): (y: number) => number {
  const py = (y: number): number => height - PAD.b - ((y - y0) / (y1 - y0 || 1)) * (height - PAD.t - PAD.b);
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"` +
      ` font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  for (const t of ticks(y0, y1, 6)) {
    parts.push(
      `<line x1="${PAD.l}" x2="${width - PAD.r}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e5e5e5"/>`,
    );
    parts.push(`<text x="${PAD.l - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
  }
  parts.push(`<line x1="${PAD.l}" x2="${width - PAD.r}" y1="${height - PAD.b}" y2="${height - PAD.b}" stroke="#333"/>`);
  parts.push(`<line x1="${PAD.l}" x2="${PAD.l}" y1="${PAD.t}" y2="${height - PAD.b}" stroke="#333"/>`);
  parts.push(`<text x="${width / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${height / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  return py;
}

/** The legend's left edge: wide enough for the longest name (≈ 7 px a character at 12 px). */
const legendLeft = (names: readonly string[], width: number): number =>
  width - PAD.r - Math.max(150, 18 + 7 * Math.max(0, ...names.map((n) => n.length)));

const legendEntry = (name: string, color: string, i: number, left: number, mark = `width="12" height="3"`): string =>
  `<rect x="${left}" y="${PAD.t + i * 18}" ${mark} fill="${color}"/>` +
  `<text x="${left + 18}" y="${PAD.t + i * 18 + 5}">${esc(name)}</text>`;

export function lineChartSvg(
  title: string,
  xLabel: string,
  yLabel: string,
  series: readonly Series[],
  width = 720,
  height = 420,
): string {
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]).filter(Number.isFinite);
  const [x0, x1] = [Math.min(...xs, 0), Math.max(...xs, 1)];
  const px = (x: number): number => PAD.l + ((x - x0) / (x1 - x0 || 1)) * (width - PAD.l - PAD.r);
  const parts: string[] = [];
  const py = frame(
    parts,
    title,
    xLabel,
    yLabel,
    ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1],
    width,
    height,
  );
  for (const t of ticks(x0, x1, 8))
    parts.push(`<text x="${px(t).toFixed(1)}" y="${height - PAD.b + 16}" text-anchor="middle">${t}</text>`);
  const left = legendLeft(
    series.map((s) => s.name),
    width,
  );
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length)
      parts.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2"` +
          ` points="${pts.map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(" ")}"/>`,
      );
    parts.push(legendEntry(s.name, s.color, i, left));
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

/**
 * Bars for each group (x axis) and series (colour), from 0, each with its whisker; `reference` draws a
 * dashed mark across each group at its value (e.g. chance). The legend sits above the plot area's top
 * right, so keep the y range's top free (the chart adds a quarter above the highest value).
 */
export function barChartSvg(
  title: string,
  yLabel: string,
  groups: readonly string[],
  series: readonly BarSeries[],
  reference?: { readonly name: string; readonly values: readonly number[] },
  width = 720,
  height = 420,
): string {
  const tops = [
    ...series.flatMap((s) => s.bars.map((b) => Math.max(b.value, b.hi ?? b.value))),
    ...(reference?.values ?? []),
  ].filter(Number.isFinite);
  const y1 = (Math.max(...tops, 0) || 1) * (1 + 0.06 * (series.length + (reference ? 1 : 0)));
  const parts: string[] = [];
  const py = frame(parts, title, "", yLabel, [0, y1], width, height);
  const slot = (width - PAD.l - PAD.r) / Math.max(groups.length, 1);
  const barW = (slot * 0.8) / Math.max(series.length, 1);
  groups.forEach((g, gi) => {
    const left = PAD.l + gi * slot + slot * 0.1;
    parts.push(
      `<text x="${(left + slot * 0.4).toFixed(1)}" y="${height - PAD.b + 16}" text-anchor="middle">${esc(g)}</text>`,
    );
    series.forEach((s, si) => {
      const b = s.bars[gi];
      if (!b || !Number.isFinite(b.value)) return;
      const x = left + si * barW;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${py(b.value).toFixed(1)}" width="${(barW * 0.9).toFixed(1)}"` +
          ` height="${(py(0) - py(b.value)).toFixed(1)}" fill="${s.color}"/>`,
      );
      if (b.lo !== undefined && b.hi !== undefined) {
        const cx = (x + barW * 0.45).toFixed(1);
        parts.push(
          `<line x1="${cx}" x2="${cx}" y1="${py(b.lo).toFixed(1)}" y2="${py(b.hi).toFixed(1)}"` +
            ` stroke="#222" stroke-width="1.5"/>`,
        );
      }
    });
    const r = reference?.values[gi];
    if (r !== undefined && Number.isFinite(r))
      parts.push(
        `<line x1="${(left - slot * 0.05).toFixed(1)}" x2="${(left + slot * 0.85).toFixed(1)}"` +
          ` y1="${py(r).toFixed(1)}" y2="${py(r).toFixed(1)}"` +
          ` stroke="#000" stroke-width="1.5" stroke-dasharray="5 3"/>`,
      );
  });
  const left = legendLeft([...series.map((s) => s.name), reference?.name ?? ""], width);
  series.forEach((s, i) => parts.push(legendEntry(s.name, s.color, i, left, `width="12" height="8"`)));
  if (reference) parts.push(legendEntry(reference.name, "#000", series.length, left));
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
