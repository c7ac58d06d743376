// exit-codes.test.ts: several ways `mira` fails, run as a user runs it, end with the exit code that
// README's table gives their kind, and with one line (or a model's formatted diagnostics) on stderr.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import type { ExitKind } from "../../base/errors.js";
import { EXIT, EXIT_CODE } from "../../cli/errors.js";

const root = join(import.meta.dirname, "..", "..");
const mira = join(root, "bin", "mira.js");
const dir = mkdtempSync(join(tmpdir(), "mira-exit-"));
const at = (name: string): string => join(dir, name);

/** README's exit-code table: code → meaning. */
function readmeCodes(): Map<number, string> {
  const rows = readFileSync(join(root, "README.md"), "utf8").matchAll(/^\| (\d+) \| (.+) \|$/gm);
  return new Map([...rows].map((m) => [Number(m[1]), m[2]]));
}

type Ended = { status: number | null; stderr: string };

function runMira(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mira, ...args], { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

// outside models/, so no std imports: builtins only
writeFileSync(at("typo.mira"), "model M {\n  input tokens: i32[B, T]\n  output o = Embeding(32, 8)(tokens)\n}\n");
writeFileSync(
  at("two.mira"),
  [
    "model M {",
    "  config { d: int = 8 }",
    "  input x: f32[N, d]",
    "  param w: f32[d / 3]",
    "  output a = x * 2.0",
    "  output b = w * 2.0",
    "}",
    "",
  ].join("\n"),
);
writeFileSync(at("junk.safetensors"), "not a checkpoint");
writeFileSync(at("clip.mp4"), "not a video");

interface Case {
  readonly what: string;
  readonly args: readonly string[];
  readonly kind: ExitKind;
  readonly stderr: RegExp;
  readonly env?: NodeJS.ProcessEnv;
}

const CASES: readonly Case[] = [
  {
    what: "an unknown command",
    args: ["frobnicate"],
    kind: "bad-input",
    stderr: /^mira: unknown command 'frobnicate'; commands: /,
  },
  {
    what: "a model file that does not exist",
    args: ["compile", at("none.mira"), "--emit", "ir"],
    kind: "bad-input",
    stderr: /none\.mira: cannot read it$/,
  },
  {
    what: "a checkpoint that is not one",
    args: ["generate", "--checkpoint", at("junk.safetensors"), "--prompt", "one"],
    kind: "bad-input",
    stderr: /^mira: checkpoint .*junk\.safetensors is not a valid safetensors file/,
  },
  {
    what: "a model that does not check",
    args: ["compile", at("typo.mira"), "--emit", "ir"],
    kind: "failure",
    stderr: /^typo\.mira:3:14 error M2001 unknown name 'Embeding'/,
  },
  {
    what: "a model with two elaboration errors, both reported",
    kind: "failure",
    args: ["compile", at("two.mira"), "--emit", "ir", "--batch", "B=2,T=4"],
    stderr: /^two\.mira:3:3 error M3004 batch dimension 'N' has no size[^]*\ntwo\.mira:4:16 error M3005 8 \/ 3 is/,
  },
  // without ffprobe on PATH the machine lacks what the same command has elsewhere
  {
    what: "a clip to import with no ffmpeg",
    args: ["data", "import", "--video", at("clip.mp4"), "--out", at("out")],
    kind: "setup",
    stderr: /^mira: ffprobe is not installed/,
    env: { ...process.env, PATH: at("no-bin") },
  },
];

test("the exit codes in README's table are the ones cli/errors.ts gives each kind", () => {
  const codes = readmeCodes();
  // 143 is no kind of error: a clean stop on SIGTERM, as on Ctrl-C (cli/interrupt.ts)
  expect([...codes.keys()].sort((a, b) => a - b)).toEqual(
    [0, ...Object.values(EXIT_CODE), EXIT.terminated].sort((a, b) => a - b),
  );
  expect(codes.get(EXIT_CODE["bad-input"])).toMatch(/bad usage or input/);
  expect(codes.get(EXIT_CODE.setup)).toMatch(/this machine lacks/);
  expect(codes.get(EXIT_CODE.interrupted)).toMatch(/^interrupted \(Ctrl-C\)/);
  expect(codes.get(EXIT.terminated)).toMatch(/^terminated \(SIGTERM\)/);
});

test("each way of failing ends with its kind's exit code from README's table", async () => {
  const codes = readmeCodes();
  const results = await Promise.all(CASES.map((c) => runMira(c.args, c.env)));
  CASES.forEach((c, i) => {
    const { status, stderr } = results[i];
    expect(codes.has(status!), `${c.what}: exit ${status} is in README's table`).toBe(true);
    expect(status, `${c.what}: ${stderr}`).toBe(EXIT_CODE[c.kind]);
    expect(stderr.trim(), c.what).toMatch(c.stderr);
    if (c.kind !== "failure") expect(stderr.trim().split("\n"), `${c.what}: one line`).toHaveLength(1);
  });
}, 300_000);
