// demo.ts (bench): `npm run demo:figures [-- --steps N --clips N]` — runs the demo (`mira demo`, what
// `npm start` runs) as a user sees it, then writes what that run measured into README.md and
// docs/models.md between markers (bench/experiments/demo-figures.ts), so their demo figures are never
// typed by hand. `npm start` itself leaves the docs alone. The figures are kept
// (.mira-cache/demo/figures.json): `-- --rewrite` writes the text again from the last run without
// running the demo, for when only the wording changed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DemoFigures } from "../apps/mirasol/demo-figures.js";
import { demoModels, demoReadme } from "./experiments/demo-figures.js";
import { writeSection } from "./report.js";

const root = join(import.meta.dirname, "..");
const README_MD = join(root, "README.md");
const MODELS_MD = join(root, "docs", "models.md");

const kept = join(root, ".mira-cache", "demo", "figures.json");
const args = process.argv.slice(2);
if (!args.includes("--rewrite")) {
  mkdirSync(dirname(kept), { recursive: true });
  const tmp = join(dirname(kept), `figures-${process.pid}.json`);
  const r = spawnSync(process.execPath, [join(root, "bin", "mira.js"), "demo", ...args, "--figures", tmp], {
    cwd: root,
    stdio: "inherit",
  });
  if (r.status !== 0) {
    process.stderr.write(`demo:figures: the demo did not finish (exit ${r.status ?? r.signal}); nothing written\n`);
    process.exit(r.status ?? 1);
  }
  renameSync(tmp, kept);
} else if (!existsSync(kept)) {
  process.stderr.write(`demo:figures: no kept figures (${kept}); run \`npm run demo:figures\` first\n`);
  process.exit(2);
}
const f = JSON.parse(readFileSync(kept, "utf8")) as DemoFigures;
writeSection("demo", demoReadme(f), README_MD);
writeSection("demo", demoModels(f), MODELS_MD);
process.stdout.write(`demo figures of ${f.date} written to README.md and docs/models.md\n`);
