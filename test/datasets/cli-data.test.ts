// cli/commands/data.ts: `mira data synth` writes a set that `mira data check` accepts, prints the
// summary (clips, questions and chance per type, bytes), and bad flags or a damaged set end in one line.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, test, vi } from "vitest";
import { InputError } from "../../api/model.js";
import { parse } from "../../cli/args.js";
import { DATA_OPTIONS, DATA_USAGE, dataCommand } from "../../cli/commands/data.js";
import { UsageError } from "../../cli/errors.js";
import { QUESTION_TYPE_NAMES } from "../../datasets/synth-av.js";

const root = mkdtempSync(join(tmpdir(), "mira-data-cli-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs `mira data ARGS`; returns the exit code and what went to stdout. */
async function run(...args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  const code = await dataCommand(parse(args, DATA_OPTIONS, DATA_USAGE));
  vi.restoreAllMocks();
  return { code, out };
}

afterEach(() => vi.restoreAllMocks());

describe("mira data", () => {
  test("synth writes the set and a summary; check accepts it", async () => {
    const dir = join(root, "set");
    const s = await run("synth", "--out", dir, "--clips", "20", "--seed", "3");
    expect(s.code).toBe(0);
    const lines = s.out.trim().split("\n");
    expect(lines[0]).toMatch(
      new RegExp(
        /^synth: 20 clips \(train 16 · val 2 · test 2\) of 2 × 4 frames 16×16 and 32 × 32 log-mel, /.source +
          /240 questions, [\d.]+ [KM]iB in [\d.]+ s → .*set$/.source,
      ),
    );
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/)[0])).toEqual(QUESTION_TYPE_NAMES);
    expect(lines[1]).toMatch(
      /audio\+video\s+40 questions\s+chance \d+\.\d% \(val \d+\.\d%, test \d+\.\d%; always '\w+'\)/,
    );
    expect(readdirSync(dir)).toContain("index.json");
    const c = await run("check", dir);
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/^ok: .*set: 20 clips, 240 questions/);
  });

  test("--frames, --chunks, --size and --mels set the layout; --json prints the summary as data", async () => {
    const dir = join(root, "wide");
    const s = await run(
      "synth",
      "--out",
      dir,
      "--clips",
      "3",
      "--chunks",
      "4",
      "--frames",
      "2",
      "--size",
      "8",
      "--mels",
      "16",
      "--json",
    );
    const j = JSON.parse(s.out);
    expect(j.clips).toBe(3);
    expect(j.questions).toBe(36);
    expect(j.bytes).toBeGreaterThan(3 * 8 * 8 * 8 * 3 * 4);
    const c = JSON.parse((await run("check", dir, "--json")).out);
    expect(c.ok).toBe(true);
  });

  test("bad flags and damaged sets end in one line with the fix", async () => {
    await expect(run("synth")).rejects.toThrow(UsageError);
    await expect(run("synth", "--out", join(root, "x"), "--frames", "3")).rejects.toThrow(
      /chunks × frames must be a multiple of 4.*usage: mira data synth/,
    );
    await expect(run("synth", "--out", join(root, "x"), "--clips", "many")).rejects.toThrow(
      /--clips needs an integer, got 'many'/,
    );
    await expect(run("shuffle")).rejects.toThrow(/unknown subcommand 'shuffle': synth, check or import/);
    const dir = join(root, "gone");
    await run("synth", "--out", dir, "--clips", "2");
    rmSync(join(dir, "video.f32"));
    await expect(run("check", dir)).rejects.toThrow(InputError);
    await expect(run("check", dir)).rejects.toThrow(
      /tensor file 'video' .*video\.f32 is missing; regenerate it with 'mira data synth --out DIR'/,
    );
  });
});
