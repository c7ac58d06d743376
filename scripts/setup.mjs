#!/usr/bin/env node
// setup.mjs: makes a bare machine ready for mira, idempotently, and is fast when nothing is missing.
//   1. npm dependencies, installed when node_modules is missing or older than the lockfile;
//   2. a WebGPU adapter through Dawn; on Debian as root, Mesa >= 25 lavapipe (software Vulkan) from
//      bookworm-backports, whose apt source is derived from the machine's own sources;
//   3. ffmpeg (with ffprobe), which `mira data import` spawns to decode real video and audio; on Debian
//      as root from Debian's own `ffmpeg` package, elsewhere the command to run is printed;
//   4. PyTorch for /usr/bin/python3, which runs the modules and torchrun scripts `mira export` writes;
//      on Debian as root Debian's `python3-torch`, elsewhere the command to run is printed.
// Plain Node (no TypeScript): it must run before any dependency is installed.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deriveBackportsSource, hasBackports } from "./lib/apt-sources.mjs";
import { childEnv } from "./lib/env.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quiet = process.argv.includes("--quiet");
const started = Date.now();
const log = (msg) => process.stderr.write(`setup: ${msg}\n`);
const fail = (msg) => {
  process.stderr.write(`setup: ${msg}\n`);
  process.exit(1);
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: opts.capture ? "pipe" : ["ignore", "inherit", "inherit"],
    encoding: "utf8",
    env: { ...process.env, ...opts.env },
  });
  return { ok: r.status === 0, stdout: r.stdout ?? "", stderr: r.stderr ?? "", status: r.status };
}

// ---- 1. npm dependencies ---------------------------------------------------------------------
function depsStamp() {
  const h = createHash("sha256");
  for (const f of ["package.json", "package-lock.json"])
    if (existsSync(join(root, f))) h.update(readFileSync(join(root, f)));
  return h.update(process.version).digest("hex");
}

function ensureNodeModules() {
  const stampFile = join(root, "node_modules", ".mira-setup-stamp");
  const want = depsStamp();
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === want) return;
  log("installing npm dependencies (first run, or the lockfile changed) …");
  const args = existsSync(join(root, "package-lock.json")) ? ["ci"] : ["install"];
  // onnxruntime-node's postinstall fetches CUDA binaries from outside the npm registry (its CPU binaries
  // ship in the package); npm >= 11 skips it by package.json's allowScripts, older npm by this variable.
  const r = run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    capture: true,
    env: { ONNXRUNTIME_NODE_INSTALL: "skip" },
  });
  if (!r.ok) fail(`'npm ${args[0]}' failed:\n${r.stderr.trim()}\nfix the error above, then run 'npm run setup' again`);
  mkdirSync(dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, want);
}

// ---- 2. a WebGPU adapter -------------------------------------------------------------------------
function probeAdapter() {
  const r = run(process.execPath, [join(root, "scripts/lib/probe-adapter.mjs")], { capture: true, env: childEnv() });
  try {
    return JSON.parse(r.stdout.trim().split("\n").pop());
  } catch {
    return { ok: false, reason: `the adapter probe crashed (exit ${r.status})` };
  }
}

function osRelease() {
  try {
    const text = readFileSync("/etc/os-release", "utf8");
    return Object.fromEntries(
      text
        .split("\n")
        .filter((l) => l.includes("="))
        .map((l) => {
          const i = l.indexOf("=");
          return [l.slice(0, i), l.slice(i + 1).replace(/^"|"$/g, "")];
        }),
    );
  } catch {
    return {};
  }
}

function aptSourceFiles() {
  const files = [];
  if (existsSync("/etc/apt/sources.list"))
    files.push({ path: "/etc/apt/sources.list", text: readFileSync("/etc/apt/sources.list", "utf8") });
  const dir = "/etc/apt/sources.list.d";
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      if (name.endsWith(".list") || name.endsWith(".sources"))
        files.push({ path: join(dir, name), text: readFileSync(join(dir, name), "utf8") });
    }
  }
  return files;
}

const MESA_PACKAGES = ["mesa-vulkan-drivers", "libvulkan1"];
const BACKPORTS_FILE = "/etc/apt/sources.list.d/mira-backports.sources";

function manualInstructions(codename) {
  return [
    "no WebGPU adapter: Dawn needs a Vulkan driver. On Debian 12 the software driver lavapipe must come " +
      "from Mesa >= 25:",
    `  1. add a '${codename ?? "bookworm"}-backports' apt source (copy your main Debian entry, change the suite)`,
    `  2. sudo apt-get update && sudo apt-get install -y -t ${codename ?? "bookworm"}-backports ` +
      `${MESA_PACKAGES.join(" ")}`,
    "  3. npm run setup",
    "On other systems install a Vulkan driver for your GPU (or Mesa's lavapipe >= 25), then run 'npm run setup'.",
  ].join("\n");
}

function installMesa(codename) {
  const files = aptSourceFiles();
  if (!hasBackports(files, codename)) {
    const stanza = deriveBackportsSource(files, codename);
    if (!stanza)
      fail(
        `no apt source serving '${codename}' was found to derive '${codename}-backports' from\n` +
          `${manualInstructions(codename)}`,
      );
    writeFileSync(
      BACKPORTS_FILE,
      `# written by mira's scripts/setup.mjs, derived from this machine's apt sources\n${stanza}`,
    );
    log(`added ${BACKPORTS_FILE}`);
  }
  log("installing Mesa lavapipe (software Vulkan) from backports; this takes a minute or two, once …");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const update = run("apt-get", ["update", "-qq"], { capture: true, env });
  if (!update.ok) fail(`'apt-get update' failed:\n${update.stderr.trim()}`);
  const install = run(
    "apt-get",
    ["install", "-y", "-qq", "--no-install-recommends", "-t", `${codename}-backports`, ...MESA_PACKAGES],
    { capture: true, env },
  );
  if (!install.ok) fail(`installing ${MESA_PACKAGES.join(", ")} failed:\n${install.stderr.trim()}`);
}

function ensureAdapter() {
  const first = probeAdapter();
  if (first.ok) return first;
  const os = osRelease();
  const isDebian = os.ID === "debian" || (os.ID_LIKE ?? "").split(" ").includes("debian");
  const isRoot = process.getuid?.() === 0;
  if (!isDebian || !isRoot || !os.VERSION_CODENAME) {
    const why = !isDebian ? "this is not Debian" : "setup is not running as root";
    fail(`${first.reason}; ${why}, so nothing was installed.\n${manualInstructions(os.VERSION_CODENAME)}`);
  }
  installMesa(os.VERSION_CODENAME);
  const second = probeAdapter();
  if (!second.ok)
    fail(`Mesa was installed but Dawn still finds no adapter (${second.reason}); 'npx mira doctor' shows more`);
  log(`WebGPU adapter ready: ${second.description || second.device || second.vendor}`);
  return second;
}

// ---- 3. ffmpeg ---------------------------------------------------------------------------------
// Looked up on PATH without spawning it, so a ready machine pays microseconds. Not fatal when it cannot
// be installed: only importing real media needs it, and those commands and tests name the fix.
const FFMPEG_ARGS = ["install", "-y", "--no-install-recommends", "ffmpeg"];
const FFMPEG_INSTALL = `apt-get ${FFMPEG_ARGS.join(" ")}`;

function onPath(name) {
  return (process.env.PATH ?? "").split(":").some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return statSync(join(dir, name)).isFile();
    } catch {
      return false;
    }
  });
}

function ensureFfmpeg() {
  if (onPath("ffmpeg") && onPath("ffprobe")) return;
  const os = osRelease();
  const isDebian = os.ID === "debian" || (os.ID_LIKE ?? "").split(" ").includes("debian");
  if (!isDebian || process.getuid?.() !== 0) {
    const how = isDebian
      ? `sudo apt-get update && sudo ${FFMPEG_INSTALL}`
      : "your system's ffmpeg package (it must provide ffmpeg and ffprobe)";
    log(
      `ffmpeg is missing ('mira data import' and 'mira generate --video' need it); install ${how}, then ` +
        "run 'npm run setup'",
    );
    return;
  }
  log("installing ffmpeg from Debian (for 'mira data import'); once …");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const update = run("apt-get", ["update", "-qq"], { capture: true, env });
  const install = update.ok ? run("apt-get", ["-qq", ...FFMPEG_ARGS], { capture: true, env }) : update;
  if (!install.ok || !onPath("ffmpeg"))
    log(
      `installing ffmpeg failed (${update.ok ? FFMPEG_INSTALL : "apt-get update"}):\n` +
        `${install.stderr.trim()}\nfix the error above, then run 'npm run setup' again`,
    );
}

// ---- 4. PyTorch ---------------------------------------------------------------------------------
// For `mira export --format torch` (the generated module, train.py under torchrun) and its tests, which
// use Debian's /usr/bin/python3: `python3` on PATH may be a pyenv shim without torch. Found by the
// package's files, without starting Python. Not fatal: only exports need it, and their tests name this.
const TORCH_ARGS = ["install", "-y", "--no-install-recommends", "python3-torch"];
const TORCH_INSTALL = `apt-get ${TORCH_ARGS.join(" ")}`;
const TORCH_FILES = ["/usr/lib/python3/dist-packages/torch/__init__.py", "/usr/bin/torchrun"];

function ensureTorch() {
  if (TORCH_FILES.every((f) => existsSync(f))) return;
  const os = osRelease();
  const isDebian = os.ID === "debian" || (os.ID_LIKE ?? "").split(" ").includes("debian");
  if (!isDebian || process.getuid?.() !== 0) {
    const how = isDebian
      ? `sudo apt-get update && sudo ${TORCH_INSTALL}`
      : "PyTorch for /usr/bin/python3 (with torchrun)";
    log(`PyTorch is missing ('mira export --format torch' runs need it); install ${how}, then run 'npm run setup'`);
    return;
  }
  log("installing PyTorch from Debian (python3-torch, for 'mira export'); once, a few minutes …");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const update = run("apt-get", ["update", "-qq"], { capture: true, env });
  const install = update.ok ? run("apt-get", ["-qq", ...TORCH_ARGS], { capture: true, env }) : update;
  if (!install.ok || !TORCH_FILES.every((f) => existsSync(f)))
    log(
      `installing PyTorch failed (${update.ok ? TORCH_INSTALL : "apt-get update"}):\n` +
        `${install.stderr.trim()}\nfix the error above, then run 'npm run setup' again`,
    );
}

ensureNodeModules();
ensureFfmpeg();
ensureTorch();
const adapter = ensureAdapter();
if (!quiet)
  log(`ready in ${Date.now() - started} ms (adapter: ${adapter.description || adapter.device || adapter.vendor})`);
