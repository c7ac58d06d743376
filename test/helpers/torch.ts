// torch.ts (tests): Debian's Python with PyTorch, for the export suites. `python3` on PATH may be a
// pyenv shim without torch, so the suites use /usr/bin/python3, where `npm run setup` installs Debian's
// python3-torch. Without it a suite fails at once naming the fix; it never skips.
import { spawnSync } from "node:child_process";

export const PYTHON = "/usr/bin/python3";

let checked: string | undefined;

/** The interpreter's path, once it is known to import torch; throws naming `npm run setup` otherwise. */
export function torchPython(): string {
  if (checked) return checked;
  const r = spawnSync(PYTHON, ["-c", "import torch, numpy; print(torch.__version__)"], { encoding: "utf8" });
  if (r.status !== 0)
    throw new Error(
      `the export tests need PyTorch for ${PYTHON} (Debian's python3-torch): run \`npm run setup\`, ` +
        `which installs it (${(r.stderr || r.error?.message || "").trim().split("\n").pop()})`,
    );
  checked = PYTHON;
  return PYTHON;
}

/** Runs a Python script with torch; throws with its stderr when it fails. */
export function runPython(
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): { stdout: string; stderr: string } {
  const r = spawnSync(torchPython(), [...args], {
    cwd: opts.cwd,
    encoding: "utf8",
    env: { ...process.env, ...opts.env },
    timeout: opts.timeoutMs ?? 300_000,
  });
  if (r.status !== 0)
    throw new Error(
      (
        `python ${args.join(" ")} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ""}):\n` +
        `${r.stderr}\n${r.stdout}`
      ).slice(0, 4000),
    );
  return { stdout: r.stdout, stderr: r.stderr };
}
