// bundle.test.ts: the portable bundle (scripts/bundle.mjs) runs where there is no Node: unpacked into an
// empty folder, `./mira doctor` runs with a PATH that holds nothing at all and reports the adapter.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const ARCHIVE = join(ROOT, "dist", "bundle", "mira-linux-x64.tar.xz");
const tmp = mkdtempSync(join(tmpdir(), "mira-bundle-test-"));

beforeAll(() => {
  // This test's Node first on PATH for npm (it fetches the bundle's Node binary once).
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` };
  const r = spawnSync(process.execPath, [join(ROOT, "scripts", "bundle.mjs")], { cwd: ROOT, env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`npm run bundle failed (exit ${r.status ?? r.signal}):\n${r.stderr}`);
}, 900_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("the archive fits in 60 MB and holds Node, Dawn, the bundled CLI, the models and the launcher", () => {
  expect(statSync(ARCHIVE).size).toBeLessThanOrEqual(60 * 1024 * 1024);
  const r = spawnSync("tar", ["-xJf", ARCHIVE, "-C", tmp], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  const dir = join(tmp, "mira-linux-x64");
  const wanted = [
    "mira",
    "node",
    "lib/mira.mjs",
    "lib/bench.mjs",
    "lib/dawn.node",
    "models/char_lm.mira",
    "models/std/nn.mira",
  ];
  for (const f of wanted) expect(existsSync(join(dir, f)), f).toBe(true);
}, 300_000);

test("./mira doctor reports the adapter with no Node on PATH", () => {
  const dir = join(tmp, "mira-linux-x64");
  const emptyPath = join(tmp, "empty-path");
  mkdirSync(emptyPath);
  expect(readdirSync(emptyPath)).toEqual([]);
  // Only what a bare machine has: no PATH entries, no XDG_RUNTIME_DIR (the launcher makes one for Mesa).
  const env = { PATH: emptyPath, HOME: tmp, MIRA_CACHE_DIR: join(tmp, "cache") };
  const r = spawnSync(join(dir, "mira"), ["doctor"], { cwd: tmp, env, encoding: "utf8", timeout: 600_000 });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toMatch(/^adapter {4}\S/m);
  expect(r.stdout).toMatch(/self-test .* ok/);
  expect(r.stdout).toContain("ok: this machine runs mira");
}, 600_000);
