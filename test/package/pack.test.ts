// pack.test.ts: the published package works without this checkout — built (scripts/build.mjs, what
// `npm run build` and prepack run) and packed, installed into an empty project with its runtime
// dependencies only, imported from plain Node (no tsx) and run through its `mira` bin.
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "mira-pack-"));
const app = join(tmp, "app");
// This test's Node first on PATH, so npm and npx (`#!/usr/bin/env node`) run on it, not on a `node`
// that some dependency put in node_modules/.bin.
const env = {
  ...process.env,
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
  npm_config_update_notifier: "false",
};

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout: 150_000 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

let tarball = "";

beforeAll(() => {
  // Built here on this test's Node, then packed without running prepack again.
  run(process.execPath, [join(ROOT, "scripts", "build.mjs")], ROOT);
  run("npm", ["pack", "--ignore-scripts", "--pack-destination", tmp, "--loglevel=error"], ROOT);
  const packed = readdirSync(tmp).filter((f) => f.endsWith(".tgz"));
  expect(packed).toHaveLength(1);
  tarball = join(tmp, packed[0]);
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  const quiet = ["--no-audit", "--no-fund", "--loglevel=error"];
  run("npm", ["install", tarball, "--omit=dev", "--prefer-offline", ...quiet], app);
}, 300_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("the packed package", () => {
  test("ships the build, the models and the export templates, and no TypeScript source or dev tools", () => {
    const lines = run("tar", ["-tzf", tarball], tmp).stdout.split("\n").filter(Boolean);
    const listed = lines.map((f) => f.replace(/^package\//, ""));
    const wanted = [
      "dist/index.js",
      "dist/index.d.ts",
      "dist/cli/mira.js",
      "bin/mira.js",
      "models/char_lm.mira",
      "models/std/nn.mira",
      "dist/compiler/export/python/train.py",
      "scripts/lib/noise.mjs",
    ];
    for (const f of wanted) expect(listed, f).toContain(f);
    expect(listed.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
    const installed = join(app, "node_modules");
    expect(existsSync(join(installed, "webgpu")), "webgpu is a runtime dependency").toBe(true);
    for (const dev of ["tsx", "typescript", "vitest", "esbuild"]) {
      expect(existsSync(join(installed, dev)), `${dev} is a dev dependency`).toBe(false);
    }
  });

  test("plain Node imports compile and compiles models/char_lm.mira", () => {
    const script = `import { compileFile } from "mira";
const model = "node_modules/mira/models/char_lm.mira";
const c = await compileFile(model, { batch: { B: 2, T: 16 } });
console.log(JSON.stringify({ kernels: c.program.kernels.length, params: c.report().params }));`;
    const r = run(process.execPath, ["--input-type=module", "-e", script], app);
    const out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Record<string, number>;
    expect(out.kernels).toBeGreaterThan(0);
    expect(out.params).toBeGreaterThan(0);
  });

  test("npx mira check runs the compiled CLI", () => {
    const r = run("npx", ["--no-install", "mira", "check", "node_modules/mira/models/char_lm.mira"], app);
    expect(r.stdout).toContain("ok (model CharLM)");
  });
});
