// svg-plot.ts: the charts are self-contained (no scripts, links or external files), escape their text,
// and draw what they are given — a polyline per line series; a bar per (group, series), a whisker per
// bar that has one, and a reference mark per group.
import { expect, test } from "vitest";
import { barChartSvg, lineChartSvg } from "../../api/svg-plot.js";

const count = (svg: string, re: RegExp): number => svg.match(re)?.length ?? 0;
const selfContained = (svg: string): void => {
  expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>/);
  expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  expect(svg).not.toMatch(/<script|href=|url\(/);
};

test("a line chart: one polyline per series with points, escaped names", () => {
  const svg = lineChartSvg("loss <a & b>", "step", "loss", [
    {
      name: "x<y",
      color: "#f00",
      points: [
        [0, 2],
        [10, 1],
        [20, 0.5],
      ],
    },
    { name: "empty", color: "#00f", points: [] },
  ]);
  selfContained(svg);
  expect(count(svg, /<polyline /g)).toBe(1);
  expect(svg).toContain("loss &lt;a &amp; b&gt;");
  expect(svg).toContain("x&lt;y");
  // a long name moves the legend left so that it ends inside the chart (≈ 7 px a character)
  const long = "AR + latent, no stop-gradient";
  const x = Number(
    lineChartSvg("t", "x", "y", [{ name: long, color: "#000", points: [[0, 1]] }]).match(
      new RegExp(`<text x="([\\d.]+)"[^>]*>${long.replace(/[+]/g, "\\+")}<`),
    )![1],
  );
  expect(x + 7 * long.length).toBeLessThanOrEqual(720 - 20);
});

test("a bar chart: a bar per finite value, a whisker where given, a dashed reference per group", () => {
  const svg = barChartSvg(
    "accuracy",
    "%",
    ["a", "b", "c"],
    [
      { name: "one", color: "#f00", bars: [{ value: 50, lo: 40, hi: 60 }, { value: 20 }, { value: NaN }] },
      {
        name: "two",
        color: "#00f",
        bars: [{ value: 30, lo: 30, hi: 35 }, { value: 25, lo: 20, hi: 30 }, { value: 70 }],
      },
    ],
    { name: "chance", values: [25, 50, 25] },
  );
  selfContained(svg);
  // five bars, two legend marks
  expect(count(svg, /<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="#(f00|00f)"\/>/g)).toBe(5 + 2);
  expect(count(svg, /stroke="#222"/g)).toBe(3);
  expect(count(svg, /stroke-dasharray/g)).toBe(3);
  for (const g of ["a", "b", "c", "one", "two", "chance"]) expect(svg).toContain(`>${g}</text>`);
  // the highest whisker stays inside the plot area (y ≥ the top padding)
  const ys = [...svg.matchAll(/y1="([\d.]+)" y2="([\d.]+)" stroke="#222"/g)].flatMap((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  expect(Math.min(...ys)).toBeGreaterThanOrEqual(40);
});
