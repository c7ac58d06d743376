#!/usr/bin/env node
// build.mjs: `npm run build` (and `npm pack`, through prepack) compiles the library and CLI to JavaScript
// with declarations in dist/, mirroring the source tree so that paths relative to a module (the Python
// export templates) hold there too. A checkout never needs it: bin/mira.js runs the source under tsx.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
// The portable bundle (scripts/bundle.mjs) writes dist/bundle/; a rebuild of the package keeps it.
const KEEP = new Set(["bundle"]);
for (const name of existsSync(dist) ? readdirSync(dist) : []) {
  if (!KEEP.has(name)) rmSync(join(dist, name), { recursive: true, force: true });
}

// lib/tsc.js rather than bin/tsc: an extensionless ES module bin fails to load on Node < 20.10.
const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "lib", "tsc.js");
const r = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { cwd: root, stdio: "inherit" });
if (r.status !== 0) {
  process.stderr.write(`build: tsc failed (exit ${r.status ?? r.signal})\n`);
  process.exit(1);
}
// Read from disk at run time by api/export.ts, relative to its own module.
const python = join("compiler", "export", "python");
mkdirSync(join(dist, python), { recursive: true });
cpSync(join(root, python), join(dist, python), { recursive: true, filter: (src) => !src.includes("__pycache__") });
process.stderr.write("build: dist/ ready\n");
