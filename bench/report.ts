// report.ts (bench): writes a benchmark's tables into docs/PERFORMANCE.md between markers of its own,
// so each benchmark (kernels, training, decoding, …) updates its section and leaves the rest alone.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const PERFORMANCE_MD = join(import.meta.dirname, "..", "docs", "PERFORMANCE.md");

const HEADER = `# Performance

Figures written by \`npm run bench\` (and the benchmarks named in each section), on the adapter named
in each section. Timing protocol: warm-up, then the median of at least five runs, each ended by waiting
for the device. Benchmarks print figures; tests never assert a time.
`;

export function writeSection(name: string, markdown: string, file = PERFORMANCE_MD): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, "utf8") : HEADER;
  const i = current.indexOf(start);
  const j = current.indexOf(end);
  const next =
    i >= 0 && j > i
      ? current.slice(0, i) + block + current.slice(j + end.length)
      : `${current.trimEnd()}\n\n${block}\n`;
  mkdirSync(dirname(file), { recursive: true }); // the portable bundle starts without docs/
  writeFileSync(`${file}.tmp`, next);
  renameSync(`${file}.tmp`, file);
}
