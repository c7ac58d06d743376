// env.mjs: the environment mira's processes run in. Mesa complains on stderr when XDG_RUNTIME_DIR is
// unset, so a private one is made.
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function childEnv(base = process.env) {
  if (base.XDG_RUNTIME_DIR) return base;
  const dir = join(tmpdir(), `mira-runtime-${process.getuid?.() ?? "user"}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return { ...base, XDG_RUNTIME_DIR: dir };
}
