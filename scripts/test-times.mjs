#!/usr/bin/env node
// test-times.mjs: the slowest test files of a vitest run, written as a table into docs/testing.md
// between the slowest-files markers. Most of a cold run's time is shader compilation (Mesa lavapipe
// JIT-compiles every distinct kernel, 0.1–0.9 s each, and keeps the result in its disk cache), so the
// table says whether that cache was cold, and the load average, beside the date.
//
//   node scripts/test-times.mjs [--warm] [test files…]     run vitest (cold cache unless --warm)
//   node scripts/test-times.mjs --report run.json [--cache cold|warm|unknown] [test files…]
//
// With no files the run covers the whole suite. --report reads a JSON report vitest already wrote
// (`--reporter=json --outputFile.json=run.json`); the files listed then only name what that run covered.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { childEnv } from "./lib/env.mjs";
import { filterStream } from "./lib/noise.mjs";

const ROOT = join(import.meta.dirname, "..");
const DOC = join(ROOT, "docs", "testing.md");
/** Markers of the table a run writes: a warm cache's run has its own, beside the cold one. */
const markers = (warm) => {
  const name = warm ? "slowest-files-warm" : "slowest-files";
  return { start: `<!-- ${name}:start -->`, end: `<!-- ${name}:end -->` };
};
const SHOWN = 15;

function parseArgs(argv) {
  const o = { files: [], report: undefined, cache: undefined, warm: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--report") o.report = argv[++i];
    else if (a === "--cache") o.cache = argv[++i];
    else if (a === "--warm") o.warm = true;
    else if (a.startsWith("--")) throw new Error(`unknown option ${a} (see the header of scripts/test-times.mjs)`);
    else o.files.push(a);
  }
  if (o.report && o.warm) throw new Error("--warm applies to a run this script starts; with --report use --cache");
  if (o.cache && !["cold", "warm", "unknown"].includes(o.cache)) throw new Error("--cache is cold, warm or unknown");
  return o;
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(", ");

/** Runs vitest over `files` with the JSON reporter; a cold run gets a fresh, empty Mesa shader cache. */
async function runVitest(files, cold) {
  const dir = mkdtempSync(join(tmpdir(), "mira-test-times-"));
  const out = join(dir, "report.json");
  const env = childEnv(cold ? { ...process.env, MESA_SHADER_CACHE_DIR: join(dir, "mesa") } : process.env);
  const args = ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${out}`, ...files];
  const before = load();
  const child = spawn("npx", args, { cwd: ROOT, stdio: ["inherit", "inherit", "pipe"], env });
  filterStream(child.stderr, process.stderr);
  const code = await new Promise((res) => child.on("exit", (c) => res(c ?? 1)));
  const after = load();
  let report;
  try {
    report = JSON.parse(readFileSync(out, "utf8"));
  } catch (e) {
    throw new Error(`vitest wrote no JSON report (exit code ${code}): ${e.message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { report, code, load: `${before} at the start, ${after} at the end` };
}

/** Per file: wall seconds (its first test's start to its end) and its test count, slowest first. */
function fileTimes(report) {
  return report.testResults
    .map((f) => ({
      file: relative(ROOT, f.name),
      seconds: (f.endTime - f.startTime) / 1000,
      tests: f.assertionResults.length,
      failed: f.assertionResults.filter((t) => t.status !== "passed").length,
    }))
    .sort((a, b) => b.seconds - a.seconds);
}

/** Words of `text` in lines of at most 120 characters. */
function wrap(text) {
  const lines = [""];
  for (const w of text.split(" ")) {
    const last = lines.length - 1;
    if (lines[last] && lines[last].length + 1 + w.length > 120) lines.push(w);
    else lines[last] = lines[last] ? `${lines[last]} ${w}` : w;
  }
  return lines;
}

function section({ times, cache, warm, when, loadText, files, failedRun, wall }) {
  const covers = files.length
    ? `the files ${files.map((f) => `\`${f}\``).join(", ")} only (not the whole suite)`
    : "the whole suite";
  const lines = [
    markers(warm).start,
    ...wrap(
      `Written by \`node scripts/test-times.mjs\` from a vitest run of ${covers}; shader cache ${cache}; ` +
        `${when}; load average (1, 5, 15 min) ${loadText}. The run took ${wall.toFixed(0)} s from its first ` +
        `file's start to its last file's end.`,
    ),
    "",
    "| file | seconds | tests |",
    "|---|---:|---:|",
    ...times
      .slice(0, SHOWN)
      .map((t) => `| ${t.file} | ${t.seconds.toFixed(1)} | ${t.tests}${t.failed ? ` (${t.failed} not passed)` : ""} |`),
  ];
  if (failedRun) lines.push("", "The run did not pass: the figures include failing tests.");
  lines.push(markers(warm).end);
  return lines.join("\n");
}

/** Replaces the marked section of docs/testing.md, or appends one under its own heading. */
function writeDoc(text, warm) {
  const { start, end } = markers(warm);
  const doc = readFileSync(DOC, "utf8");
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  const heading = warm ? "### A second run: the shader cache warm" : "## The slowest test files";
  const next =
    i >= 0 && j > i
      ? doc.slice(0, i) + text + doc.slice(j + end.length)
      : `${doc.trimEnd()}\n\n${heading}\n\n${text}\n`;
  writeFileSync(DOC, next);
}

const o = parseArgs(process.argv.slice(2));
const when = new Date().toISOString().slice(0, 16).replace("T", " ");
let report;
let cache;
let loadText;
let code = 0;
if (o.report) {
  report = JSON.parse(readFileSync(o.report, "utf8"));
  cache = o.cache ?? "unknown";
  loadText = `${load()} when the report was read (not during its run)`;
} else {
  ({ report, code, load: loadText } = await runVitest(o.files, !o.warm));
  cache = o.warm ? "warm (Mesa's disk cache as it was)" : "cold (a fresh, empty MESA_SHADER_CACHE_DIR)";
}
const times = fileTimes(report);
const dated = o.report
  ? `report of ${new Date(report.startTime).toISOString().slice(0, 16).replace("T", " ")} UTC`
  : `${when} UTC`;
const warm = o.report ? o.cache === "warm" : o.warm;
const first = Math.min(...report.testResults.map((f) => f.startTime));
const last = Math.max(...report.testResults.map((f) => f.endTime));
const failedRun = !report.success || code !== 0;
writeDoc(
  section({ times, cache, warm, when: dated, loadText, files: o.files, failedRun, wall: (last - first) / 1000 }),
  warm,
);
for (const t of times.slice(0, SHOWN))
  process.stdout.write(`${t.seconds.toFixed(1).padStart(8)} s  ${t.tests}  ${t.file}\n`);
process.stdout.write(`written to ${relative(ROOT, DOC)}\n`);
process.exit(code);
